package backbone

import (
	"fmt"
	"math"

	"github.com/llmrec/llmrec/tensor/safetensors"
)

// Bounds on what a saved configuration may declare. They are far above any
// model this library trains (Amazon's largest categories have a few million
// items; LLM embeddings are at most a few thousand wide) and keep every
// product of two of them inside int64, so a hostile file cannot make the
// loader compute a size that overflows.
const (
	// MaxItems is the largest NumItems a saved item table may declare.
	MaxItems = 1 << 26
	// MaxWidth bounds every width: Dim, LLMDim, Inner, hidden layers.
	MaxWidth = 1 << 15
	// MaxWindow is the largest MaxLen a saved encoder may declare.
	MaxWindow = 1 << 16
	// MaxBlocks is the largest number of transformer blocks.
	MaxBlocks = 256
	// MaxNumNeg is the largest number of negatives per position.
	MaxNumNeg = 1 << 16
	// maxTableDepth bounds the nesting of composed tables.
	maxTableDepth = 8
	// maxParts bounds the parts of one composed table.
	maxParts = 16
)

func badConfig(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
}

func inRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return badConfig("%s %d not in %d..%d", name, v, lo, hi)
	}
	return nil
}

func finiteIn(name string, v, lo, hi float64, hiOpen bool) error {
	if math.IsNaN(v) || v < lo || v > hi || (hiOpen && v == hi) {
		bracket := "]"
		if hiOpen {
			bracket = ")"
		}
		return badConfig("%s %v not in [%v, %v%s", name, v, lo, hi, bracket)
	}
	return nil
}

// Validate checks every field's range (wrapping ErrBadConfig): Dim in
// 1..MaxWidth, MaxLen in 1..MaxWindow, Blocks in 0..MaxBlocks, Heads in
// 0..Dim, Inner in 0..MaxWidth, Dropout in [0, 1), LNEps in [0, 1) (0 means
// the default). The kind and the style names are checked when the encoder
// is built. Load calls it on every saved encoder config before allocating.
func (c EncoderConfig) Validate() error {
	for _, err := range []error{
		inRange("encoder dim", c.Dim, 1, MaxWidth),
		inRange("encoder max_len", c.MaxLen, 1, MaxWindow),
		inRange("encoder blocks", c.Blocks, 0, MaxBlocks),
		inRange("encoder heads", c.Heads, 0, max(c.Dim, 1)),
		inRange("encoder inner", c.Inner, 0, MaxWidth),
		finiteIn("encoder dropout", c.Dropout, 0, 1, true),
		finiteIn("encoder ln_eps", c.LNEps, 0, 1, true),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Validate checks every field's range (wrapping ErrBadConfig): NumItems in
// 1..MaxItems, Dim and LLMDim and the hidden widths in 0..MaxWidth, Scale
// finite and >= 0, at most 16 parts nested at most 8 deep, the parts' item
// counts equal to the table's. The kind is checked when the table is built.
func (s TableSpec) Validate() error { return s.validate(0) }

func (s TableSpec) validate(depth int) error {
	if depth > maxTableDepth {
		return badConfig("item tables nested more than %d deep", maxTableDepth)
	}
	for _, err := range []error{
		inRange("item table num_items", s.NumItems, 1, MaxItems),
		inRange("item table dim", s.Dim, 0, MaxWidth),
		inRange("item table llm_dim", s.LLMDim, 0, MaxWidth),
		inRange("item table hidden layers", len(s.Hidden), 0, maxParts),
		inRange("item table parts", len(s.Parts), 0, maxParts),
		finiteIn("item table scale", s.Scale, 0, math.MaxFloat32, false),
	} {
		if err != nil {
			return err
		}
	}
	for _, h := range s.Hidden {
		if err := inRange("adapter hidden width", h, 1, MaxWidth); err != nil {
			return err
		}
	}
	for _, p := range s.Parts {
		if p.NumItems != s.NumItems {
			return badConfig("item table %q has %d items but its part %q has %d", s.Kind, s.NumItems, p.Kind, p.NumItems)
		}
		if err := p.validate(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the fields' ranges (wrapping ErrBadConfig): Task "",
// "next" or "masked", NumNeg in 0..MaxNumNeg, MaskProb in [0, 1).
func (c ModelConfig) Validate() error {
	if c.Task != "" && c.Task != "next" && c.Task != "masked" {
		return badConfig("task %q (want next or masked)", c.Task)
	}
	if err := inRange("num_neg", c.NumNeg, 0, MaxNumNeg); err != nil {
		return err
	}
	return finiteIn("mask_prob", c.MaskProb, 0, 1, true)
}

// Validate checks the whole saved structure (see the Validate methods of
// its parts) and the format name.
func (c SavedConfig) Validate() error {
	if c.Format != savedFormat {
		return badConfig("format %q, want %q", c.Format, savedFormat)
	}
	if err := c.Encoder.Validate(); err != nil {
		return err
	}
	if err := c.Items.Validate(); err != nil {
		return err
	}
	return c.Model.Validate()
}

// MinWeights returns a lower bound on the number of weights the encoder
// stores (its position table and the square matrices of its blocks or GRU;
// 0 for a kind this package does not define). With validated fields it
// cannot overflow.
func (c EncoderConfig) MinWeights() int64 {
	d := int64(c.Dim)
	switch c.Kind {
	case "", "sasrec", "bert4rec":
		inner := int64(c.Inner)
		if inner <= 0 {
			inner = d
		}
		return int64(c.MaxLen)*d + int64(c.Blocks)*(3*d*d+2*d*inner)
	case "gru4rec":
		return 6 * d * d
	}
	return 0
}

// MinWeights returns a lower bound on the number of weights the table
// stores: (NumItems+1)·Dim for an ID table, (NumItems+1)·LLMDim for any
// table with frozen LLM rows (the adapter, and kinds defined elsewhere that
// set LLMDim), the sum of the parts for the others.
func (s TableSpec) MinWeights() int64 {
	rows := int64(s.NumItems) + 1
	var n int64
	switch s.Kind {
	case "id":
		return rows * int64(s.Dim)
	case "adapter":
		return rows * int64(s.LLMDim)
	case "concat", "normalized":
	default:
		n = rows * int64(s.LLMDim)
	}
	for _, p := range s.Parts {
		n += p.MinWeights()
	}
	return n
}

// CheckSizes returns an error wrapping ErrBadCheckpoint when a structure
// that declares at least need weights, and whose scored item table is
// items·dim floats, cannot come from f: its tensors hold fewer than need
// elements, or the table a Recommender materializes would be more than 4
// times what the file holds (plus 1 MiB of slack). Loaders call it after
// validating a config and before building anything, so that a small file
// cannot make them allocate much more than its size.
func CheckSizes(f *safetensors.File, need int64, items, dim int) error {
	have := f.NumElements()
	if need > have {
		return fmt.Errorf("%w: the config declares at least %d weights but the file holds %d", ErrBadCheckpoint, need, have)
	}
	if table := (int64(items) + 1) * int64(dim); table > 4*have+1<<18 {
		return fmt.Errorf("%w: the config declares a %d x %d item table but the file holds %d weights", ErrBadCheckpoint, items+1, dim, have)
	}
	return nil
}
