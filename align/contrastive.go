package align

import (
	"github.com/llmrec/llmrec/autograd"
)

// DefaultTemperature is the temperature used when a contrastive loss's
// Temperature is 0 (the default of the info_nce package that PAD's
// InfoNCE alignment variant calls).
const DefaultTemperature = 0.1

// normEps guards the cosine normalization against zero rows.
const normEps = 1e-12

// InfoNCE is the one-directional contrastive loss: the positive of x_i is
// y_i and every other y_j of the batch is a negative,
//
//	L = −1/N Σ_i log softmax_j(s(x_i, y_j)/τ)[i],
//
// with s the dot product, or the cosine similarity when Cosine is set. It
// needs M ≥ N (the rows y_{N+1..M}, if any, are extra negatives). With all
// similarities equal it is log M.
//
// PAD's InfoNCE alignment ablation corresponds to
// InfoNCE{Temperature: 0.1, Cosine: true}. An InfoNCE holds configuration
// only and is safe for concurrent use as long as its fields are not modified.
type InfoNCE struct {
	// Temperature τ > 0; 0 means DefaultTemperature.
	Temperature float64
	// Cosine L2-normalizes the rows of x and y before the dot products.
	Cosine bool
}

// Loss returns the InfoNCE loss of x [N,d] against y [M,d] (M ≥ N) as a
// scalar on t.
func (c InfoNCE) Loss(t *autograd.Tape, x, y *autograd.Value) *autograd.Value {
	n, m := checkPair("InfoNCE", x, y, 1, false)
	if m < n {
		checkPair("InfoNCE (needs M >= N)", x, y, 1, true)
	}
	x, y = prepare(t, x, y, c.Cosine)
	logits := t.Scale(t.MatMul(x, y, false, true), invTemp(c.Temperature))
	return t.CrossEntropy(logits, diagTargets(t, n), nil)
}

// CLIP is the symmetric contrastive loss of CLIP: the mean of InfoNCE from
// x to y and InfoNCE from y to x, over one matrix of similarities. It needs
// N = M. A CLIP holds configuration only and is safe for concurrent use as
// long as its fields are not modified.
type CLIP struct {
	// Temperature τ > 0; 0 means DefaultTemperature.
	Temperature float64
	// Cosine L2-normalizes the rows of x and y before the dot products.
	Cosine bool
}

// Loss returns the symmetric contrastive loss of x [N,d] and y [N,d] as a
// scalar on t.
func (c CLIP) Loss(t *autograd.Tape, x, y *autograd.Value) *autograd.Value {
	n, _ := checkPair("CLIP", x, y, 1, true)
	x, y = prepare(t, x, y, c.Cosine)
	inv := invTemp(c.Temperature)
	targets := diagTargets(t, n)
	xy := t.CrossEntropy(t.Scale(t.MatMul(x, y, false, true), inv), targets, nil)
	yx := t.CrossEntropy(t.Scale(t.MatMul(y, x, false, true), inv), targets, nil)
	return t.Scale(t.Add(xy, yx), 0.5)
}

func prepare(t *autograd.Tape, x, y *autograd.Value, cosine bool) (*autograd.Value, *autograd.Value) {
	if cosine {
		return t.L2NormalizeRows(x, normEps), t.L2NormalizeRows(y, normEps)
	}
	return x, y
}

func invTemp(tau float64) float32 {
	if err := validTemperature("contrastive", tau); err != nil {
		panic(err) // NewAnchored reports it as an error before training
	}
	if tau == 0 {
		tau = DefaultTemperature
	}
	return float32(1 / tau)
}

func diagTargets(t *autograd.Tape, n int) []int {
	tg := t.ScratchInts(n)
	for i := range tg {
		tg[i] = i
	}
	return tg
}
