package nn

import "fmt"

// The enums of this package (Activation, BlockStyle) are shared by the
// packages above it: backbone.EncoderConfig holds them and backbone's
// adapter tables an Activation; they marshal to JSON and text as their names
// ("relu", "none", "tf", ...), so saved configurations stay readable and old
// ones load. An unknown name is an error that wraps ErrBadConfig.

// ParseActivation parses "relu", "gelu" or "none" (Identity); "" means
// ReLU.
func ParseActivation(s string) (Activation, error) {
	switch s {
	case "relu", "":
		return ReLU, nil
	case "gelu":
		return GELU, nil
	case "none":
		return Identity, nil
	}
	return 0, fmt.Errorf("nn: %w: unknown activation %q (want relu, gelu or none)", ErrBadConfig, s)
}

// Valid reports whether a is one of the declared activations.
func (a Activation) Valid() bool { return a >= ReLU && a <= Identity }

// MarshalText writes the activation's name; an undeclared value is an
// error.
func (a Activation) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("nn: %w: activation %d", ErrBadConfig, int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText parses a name written by MarshalText (see ParseActivation).
func (a *Activation) UnmarshalText(b []byte) error {
	v, err := ParseActivation(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Valid reports whether s is one of the declared block styles.
func (s BlockStyle) Valid() bool { return s >= StyleTF && s <= StylePostLN }

// MarshalText writes the style's name; an undeclared value is an error.
func (s BlockStyle) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("nn: %w: block style %d", ErrBadConfig, int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses a name written by MarshalText (see ParseBlockStyle;
// "" means StyleTF).
func (s *BlockStyle) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = StyleTF
		return nil
	}
	v, err := ParseBlockStyle(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
