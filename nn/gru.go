package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// GRU is a single-layer, batch-first gated recurrent unit with PyTorch's
// equations and gate order (r, z, n):
//
//	r = σ(W_ir x + b_ir + W_hr h + b_hr)
//	z = σ(W_iz x + b_iz + W_hz h + b_hz)
//	n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//	h' = (1 − z) ⊙ n + z ⊙ h
//
// Parameter names: "weight_ih" [3H, in], "weight_hh" [3H, H], "bias_ih"
// [3H], "bias_hh" [3H] (PyTorch's names without the "_l0" suffix).
//
// Safe for concurrent Forward calls on different tapes as long as nobody
// updates its parameters.
type GRU struct {
	// WeightIH [3H, in] and WeightHH [3H, H] hold the r, z, n blocks in
	// that order; BiasIH and BiasHH are [3H].
	WeightIH, WeightHH, BiasIH, BiasHH *autograd.Value
	// Hidden is H.
	Hidden int
}

// NewGRU returns a GRU from in to hidden features, every parameter drawn
// from U(±1/√hidden) as PyTorch initializes nn.GRU.
func NewGRU(rng *rand.Rand, in, hidden int) *GRU {
	k := 1 / math.Sqrt(float64(hidden))
	p := func(shape ...int) *autograd.Value {
		x := tensor.New(shape...)
		Uniform(rng, x, -k, k)
		return autograd.NewParam(x)
	}
	return &GRU{
		WeightIH: p(3*hidden, in), WeightHH: p(3*hidden, hidden),
		BiasIH: p(3 * hidden), BiasHH: p(3 * hidden), Hidden: hidden,
	}
}

// Forward runs the GRU over x [B, T, in] from the initial state h0 [B, H]
// (nil for zeros) and returns every hidden state, [B, T, H].
func (g *GRU) Forward(t *autograd.Tape, x, h0 *autograd.Value) *autograd.Value {
	s := x.Data.Shape
	if len(s) != 3 || s[2] != g.WeightIH.Data.Shape[1] {
		panic(fmt.Errorf("%w: GRU input %v for weight_ih %v", tensor.ErrShape, s, g.WeightIH.Data.Shape))
	}
	B, T, H := s[0], s[1], g.Hidden
	gi := t.Linear(x, g.WeightIH, g.BiasIH) // [B,T,3H], all steps at once
	h := h0
	if h == nil {
		h = t.Full(0, B, H)
	}
	outs := make([]*autograd.Value, T)
	for step := 0; step < T; step++ {
		gis := t.Reshape(t.Slice(gi, 1, step, step+1), B, 3*H)
		gh := t.Linear(h, g.WeightHH, g.BiasHH)
		r := t.Sigmoid(t.Add(t.Slice(gis, -1, 0, H), t.Slice(gh, -1, 0, H)))
		z := t.Sigmoid(t.Add(t.Slice(gis, -1, H, 2*H), t.Slice(gh, -1, H, 2*H)))
		n := t.Tanh(t.Add(t.Slice(gis, -1, 2*H, 3*H), t.Mul(r, t.Slice(gh, -1, 2*H, 3*H))))
		h = t.Add(n, t.Mul(z, t.Sub(h, n))) // (1−z)⊙n + z⊙h
		outs[step] = t.Reshape(h, B, 1, H)
	}
	return t.Concat(1, outs...)
}

// Params returns "weight_ih", "weight_hh", "bias_ih", "bias_hh".
func (g *GRU) Params() []Param {
	return []Param{
		{Name: "weight_ih", Value: g.WeightIH}, {Name: "weight_hh", Value: g.WeightHH},
		{Name: "bias_ih", Value: g.BiasIH}, {Name: "bias_hh", Value: g.BiasHH},
	}
}
