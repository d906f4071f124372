package moe

import (
	"fmt"

	"github.com/llmrec/llmrec/backbone"
)

// MaxExperts is the largest number of experts a saved Mixture may declare.
const MaxExperts = 64

func badConfig(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
}

// Validate checks a saved structure before anything is built (errors wrap
// ErrBadConfig): the format, 1..MaxExperts experts with valid encoder and
// table configs (backbone's Validate methods) and the same item count,
// shared encoders that name an earlier expert, num_neg in
// 0..backbone.MaxNumNeg, and, for the built-in gates, a known normalization
// and a shape that fits the experts (freq: [bins, experts] with one bin per
// item id; feature: [items, features] and as many gate experts as experts).
func (c SavedMixture) Validate() error {
	if c.Format != SavedFormat {
		return badConfig("format %q, want %q", c.Format, SavedFormat)
	}
	k := len(c.Experts)
	if k < 1 || k > MaxExperts {
		return badConfig("%d experts, want 1..%d", k, MaxExperts)
	}
	n := c.Experts[0].Items.NumItems
	for i, e := range c.Experts {
		if j := e.SharedEncoder; j < -1 || j >= i {
			return badConfig("expert %d (%q) shares the encoder of expert %d, not an earlier one", i, clip(e.Name), j)
		}
		if e.SharedEncoder < 0 {
			if err := e.Encoder.Validate(); err != nil {
				return fmt.Errorf("expert %d (%q): %w", i, clip(e.Name), err)
			}
		}
		if err := e.Items.Validate(); err != nil {
			return fmt.Errorf("expert %d (%q): %w", i, clip(e.Name), err)
		}
		if e.Items.NumItems != n {
			return badConfig("expert %d (%q) has %d items, expert 0 has %d", i, clip(e.Name), e.Items.NumItems, n)
		}
	}
	if c.NumNeg < 0 || c.NumNeg > backbone.MaxNumNeg {
		return badConfig("num_neg %d not in 0..%d", c.NumNeg, backbone.MaxNumNeg)
	}
	g := c.Gate
	switch g.Kind {
	case "freq", "feature":
		if _, err := parseNorm(g.Norm); err != nil {
			return fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
		if len(g.Shape) != 2 {
			return badConfig("%s gate of shape %v, want 2-D", g.Kind, g.Shape)
		}
	}
	switch g.Kind {
	case "freq":
		if g.Shape[1] != k || g.Shape[0] < 1 || g.Shape[0] > n+1 {
			return badConfig("freq gate of shape %v for %d experts and %d items", g.Shape, k, n)
		}
		if len(g.Bins) != n+1 {
			// Save keeps the bins in the .safetensors metadata only
			return badConfig("freq gate has %d popularity bins, want one per item id 0..%d (a config read from the .json alone lacks them)", len(g.Bins), n)
		}
	case "feature":
		if g.Shape[0] < 1 || g.Shape[0] > backbone.MaxItems+1 || g.Shape[1] < 1 || g.Shape[1] > backbone.MaxWidth {
			return badConfig("feature gate with features of shape %v", g.Shape)
		}
		if g.Experts != k {
			return badConfig("feature gate for %d experts, the mixture has %d", g.Experts, k)
		}
	}
	// Other kinds are checked by their registered builder (an unregistered
	// one is ErrUnknownKind).
	return nil
}

// minWeights is a lower bound on the number of weights a file of a valid c
// holds (see backbone's MinWeights).
func (c SavedMixture) minWeights() int64 {
	var n int64
	for _, e := range c.Experts {
		if e.SharedEncoder < 0 {
			n += e.Encoder.MinWeights()
		}
		n += e.Items.MinWeights()
	}
	if g := c.Gate; g.Kind == "freq" || g.Kind == "feature" {
		n += int64(g.Shape[0]) * int64(g.Shape[1])
	}
	return n
}

// sumDim is the total width of the experts' item tables, which a
// Recommender materializes.
func (c SavedMixture) sumDim() int {
	d := 0
	for _, e := range c.Experts {
		d += e.Items.Dim
	}
	return d
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
