package moe

import (
	"fmt"
	"math"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// Expert order of PAD's triple-expert mixture, as used by PADInit.
const (
	ExpertID      = 0 // the pre-trained ID tower
	ExpertAligned = 1 // the MK-MMD-aligned tower (ID ⊕ text)
	ExpertText    = 2 // the text-only tower
)

// PADGamma2 is PAD's γ2: the aligned expert's logits start at
// linspace(γ2, γ2−1), so it begins almost switched off (σ(−4) ≈ 0.018).
const PADGamma2 = -4

// PADInit returns PAD's initial gate logits for nbins popularity bins (plus
// bin 0 for padding), one row per expert in the order ExpertID,
// ExpertAligned, ExpertText, each of nbins+1 entries (numpy linspace):
//
//	ID:      linspace(1, 0)        popular bins lean on the ID expert
//	aligned: linspace(γ2, γ2−1)    almost off
//	text:    linspace(0, 1)        cold bins lean on the text expert
//
// PAD uses nbins = 10 and gamma2 = PADGamma2.
func PADInit(nbins int, gamma2 float64) [][]float64 {
	return [][]float64{
		linspace(1, 0, nbins+1),
		linspace(gamma2, gamma2-1, nbins+1),
		linspace(0, 1, nbins+1),
	}
}

// linspace returns n evenly spaced values from start to stop inclusive (as
// numpy.linspace; [start] when n = 1).
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		if n == 1 {
			out[i] = start
			break
		}
		out[i] = start + (stop-start)*float64(i)/float64(n-1)
	}
	if n > 1 {
		out[n-1] = stop
	}
	return out
}

// FreqGate is PAD's frequency-aware gate: one learnable logit per expert and
// popularity bin, and for candidate item i in bin b(i)
//
//	g_k(i) = σ(α_k[b(i)]) / Σ_k' σ(α_k'[b(i)])
//
// (or softmax over k with Norm = SoftmaxNorm). The gate does not depend on
// the user; it lets cold items lean on text experts and popular items on the
// ID expert, and learns how much.
//
// A FreqGate is safe for concurrent Weights calls (each goroutine with its
// own tape) while nobody updates its parameters; training is one goroutine.
type FreqGate struct {
	// Logits is the parameter α, shape [NumBins+1, K]: Logits[b, k] = α_k[b].
	// Its checkpoint name is "logits".
	Logits *autograd.Value
	// Norm turns logits into weights; the zero value is PAD's SigmoidNorm.
	Norm Normalization

	bins []int
}

// NewFreqGate returns a gate for items whose popularity bins are bins
// (indexed by item id, as data.PopularityBins returns; bin 0 is padding),
// with initial logits init: one row per expert, each with one entry per bin
// 0..NumBins (PADInit gives PAD's). bins is kept, not copied.
//
// It returns an error when init is empty, ragged or not finite, or when an
// item's bin is outside 0..len(init[0])−1.
func NewFreqGate(bins []int, init [][]float64) (*FreqGate, error) {
	if len(init) == 0 || len(init[0]) == 0 {
		return nil, fmt.Errorf("moe: NewFreqGate: empty initial logits")
	}
	nb := len(init[0])
	k := len(init)
	logits := tensor.New(nb, k)
	for e, row := range init {
		if len(row) != nb {
			return nil, fmt.Errorf("moe: NewFreqGate: expert %d has %d initial logits, expert 0 has %d", e, len(row), nb)
		}
		for b, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("moe: NewFreqGate: expert %d bin %d: initial logit %v", e, b, v)
			}
			logits.Data[b*k+e] = float32(v)
		}
	}
	for i, b := range bins {
		if b < 0 || b >= nb {
			return nil, fmt.Errorf("moe: NewFreqGate: item %d has popularity bin %d, outside 0..%d", i, b, nb-1)
		}
	}
	return &FreqGate{Logits: autograd.NewParam(logits), bins: bins}, nil
}

// NumExperts returns K.
func (g *FreqGate) NumExperts() int { return g.Logits.Data.Shape[1] }

// NumBins returns the number of popularity bins, not counting bin 0.
func (g *FreqGate) NumBins() int { return g.Logits.Data.Shape[0] - 1 }

// Bin returns the popularity bin of item id i.
func (g *FreqGate) Bin(i int) int { return g.bins[i] }

// Weights returns the [len(items), K] gate weights of the candidate items.
func (g *FreqGate) Weights(t *autograd.Tape, items []int) *autograd.Value {
	idx := t.ScratchInts(len(items))
	for n, it := range items {
		if it < 0 || it >= len(g.bins) {
			panic(fmt.Errorf("moe: FreqGate.Weights: item id %d outside 0..%d", it, len(g.bins)-1))
		}
		idx[n] = g.bins[it]
	}
	return normalize(t, t.Gather(g.Logits, idx, -1), g.Norm)
}

// Params returns the gate's parameter, named "logits".
func (g *FreqGate) Params() []nn.Param { return []nn.Param{{Name: "logits", Value: g.Logits}} }
