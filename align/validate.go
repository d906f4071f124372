package align

import (
	"fmt"
	"math"

	"github.com/llmrec/llmrec/backbone"
)

// ErrBadConfig is backbone.ErrBadConfig (= nn.ErrBadConfig): a loss or model
// configuration that cannot work. NewAnchored checks its loss with
// Validate, so a bad setting is an error when the model is built, not a
// panic at the first training step.
var ErrBadConfig = backbone.ErrBadConfig

// Validator is implemented by losses that can check their configuration.
// InfoNCE, CLIP and MKMMD implement it; NewAnchored calls it.
type Validator interface {
	Validate() error
}

func validTemperature(name string, tau float64) error {
	if tau != 0 && !(tau > 0 && !math.IsInf(tau, 0)) {
		return fmt.Errorf("align: %w: %s temperature %v is not positive and finite", ErrBadConfig, name, tau)
	}
	return nil
}

// Validate reports a temperature that is negative, NaN or infinite.
func (c InfoNCE) Validate() error { return validTemperature("InfoNCE", c.Temperature) }

// Validate reports a temperature that is negative, NaN or infinite.
func (c CLIP) Validate() error { return validTemperature("CLIP", c.Temperature) }

// Validate reports an empty (non-nil) Alphas list, an alpha that is not a
// positive finite number, Weights of another length or not finite, a
// negative or non-finite FixedBandwidth, and an unknown Estimator.
func (m MKMMD) Validate() error {
	if m.Alphas != nil && len(m.Alphas) == 0 {
		return fmt.Errorf("align: %w: MKMMD with an empty Alphas list (nil means DefaultAlphas)", ErrBadConfig)
	}
	alphas := m.Alphas
	if alphas == nil {
		alphas = DefaultAlphas
	}
	for _, a := range alphas {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("align: %w: MKMMD alpha %v is not a positive finite number", ErrBadConfig, a)
		}
	}
	if m.Weights != nil && len(m.Weights) != len(alphas) {
		return fmt.Errorf("align: %w: MKMMD has %d weights for %d alphas", ErrBadConfig, len(m.Weights), len(alphas))
	}
	for _, w := range m.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("align: %w: MKMMD weight %v is not finite", ErrBadConfig, w)
		}
	}
	if m.FixedBandwidth < 0 || math.IsNaN(m.FixedBandwidth) || math.IsInf(m.FixedBandwidth, 0) {
		return fmt.Errorf("align: %w: MKMMD fixed bandwidth %v", ErrBadConfig, m.FixedBandwidth)
	}
	if m.Estimator < Unbiased || m.Estimator > Linear {
		return fmt.Errorf("align: %w: unknown MKMMD estimator %v", ErrBadConfig, m.Estimator)
	}
	return nil
}
