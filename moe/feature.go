package moe

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// FeatureGate is a learned gate on item features: for candidate item i with
// feature row f_i (an LLM embedding, popularity statistics, ...)
//
//	g(i) = normalize(W·f_i + b)
//
// with SoftmaxNorm (a standard softmax gate) or SigmoidNorm (PAD's rule). It
// generalizes FreqGate: with one-hot bin features and no bias it is exactly a
// frequency gate.
//
// A FeatureGate is safe for concurrent Weights calls (each goroutine with its
// own tape) while nobody updates its parameters or Features.
type FeatureGate struct {
	// Features is the constant feature table [numItems+1, F], row i for item
	// id i (row 0 for padding). It receives no gradient.
	Features *tensor.Tensor
	// Weight [K, F] and Bias [K] are the parameters ("weight", "bias"), in
	// nn.Linear's layout.
	Weight, Bias *autograd.Value
	// Norm turns logits into weights.
	Norm Normalization
}

// NewFeatureGate returns a gate over k experts reading features, with
// Weight drawn from U(−1/√F, 1/√F) using r (PyTorch's Linear default) and a
// zero Bias. It returns an error when k < 1 or features is not a non-empty
// matrix.
func NewFeatureGate(r *rand.Rand, features *tensor.Tensor, k int, norm Normalization) (*FeatureGate, error) {
	if k < 1 {
		return nil, fmt.Errorf("moe: NewFeatureGate: %w: %d experts", ErrBadConfig, k)
	}
	if !norm.Valid() {
		return nil, fmt.Errorf("moe: NewFeatureGate: %w: normalization %v", ErrBadConfig, norm)
	}
	if features == nil || features.Dims() != 2 || features.Len() == 0 {
		return nil, fmt.Errorf("moe: NewFeatureGate: features must be a non-empty [items, F] matrix")
	}
	f := features.Shape[1]
	w := tensor.New(k, f)
	bound := 1 / math.Sqrt(float64(f))
	for i := range w.Data {
		w.Data[i] = float32((2*r.Float64() - 1) * bound)
	}
	return &FeatureGate{
		Features: features,
		Weight:   autograd.NewParam(w),
		Bias:     autograd.NewParam(tensor.New(k)),
		Norm:     norm,
	}, nil
}

// Weights returns the [len(items), K] gate weights of the candidate items.
func (g *FeatureGate) Weights(t *autograd.Tape, items []int) *autograd.Value {
	rows := g.Features.Shape[0]
	for _, it := range items {
		if it < 0 || it >= rows {
			panic(fmt.Errorf("moe: FeatureGate.Weights: item id %d outside 0..%d", it, rows-1))
		}
	}
	x := t.Gather(t.Const(g.Features), items, -1)
	return normalize(t, t.Linear(x, g.Weight, g.Bias), g.Norm)
}

// Params returns "weight" and "bias".
func (g *FeatureGate) Params() []nn.Param {
	return []nn.Param{{Name: "weight", Value: g.Weight}, {Name: "bias", Value: g.Bias}}
}
