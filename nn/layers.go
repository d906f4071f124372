package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// Linear is y = x·Wᵀ + b with W stored [out, in] as PyTorch's nn.Linear.
// Parameter names: "weight", "bias".
//
// A Linear is safe for concurrent Forward calls on different tapes as long
// as nobody updates its parameters meanwhile.
type Linear struct {
	// Weight is [out, in].
	Weight *autograd.Value
	// Bias is [out], or nil for a layer without bias.
	Bias *autograd.Value
}

// NewLinear returns a Linear layer with Xavier-normal weights and, when bias
// is true, a bias drawn from U(±1/√in) (PyTorch's default for nn.Linear's
// bias), as the SASRec reference initializes.
func NewLinear(rng *rand.Rand, in, out int, bias bool) *Linear {
	l := ZeroLinear(in, out, bias)
	l.Init(rng)
	return l
}

// ZeroLinear returns a Linear layer with zero weights (to be loaded from a
// checkpoint, or initialized later with Init).
func ZeroLinear(in, out int, bias bool) *Linear {
	l := &Linear{Weight: autograd.NewParam(tensor.New(out, in))}
	if bias {
		l.Bias = autograd.NewParam(tensor.New(out))
	}
	return l
}

// Init draws Xavier-normal weights and a bias from U(±1/√in) (see
// NewLinear).
func (l *Linear) Init(rng *rand.Rand) {
	XavierNormal(rng, l.Weight.Data)
	if l.Bias != nil {
		bound := 1 / math.Sqrt(float64(l.In()))
		Uniform(rng, l.Bias.Data, -bound, bound)
	}
}

// In returns the input width.
func (l *Linear) In() int { return l.Weight.Data.Shape[1] }

// Out returns the output width.
func (l *Linear) Out() int { return l.Weight.Data.Shape[0] }

func biasData(b *autograd.Value) []float32 {
	if b == nil {
		return nil
	}
	return b.Data.Data
}

func gradData(v *autograd.Value) []float32 {
	if v == nil || !v.RequiresGrad() {
		return nil
	}
	return v.Grad.Data
}

// Apply is the layer's fast path outside a tape, for models that
// differentiate by hand (backbone's encoders and tables): it writes
// x·Wᵀ + b for the rows of x (n x in) into dst, resized to n x out, and
// returns dst. It runs the same kernel as Forward (tensor.LinearForward).
func (l *Linear) Apply(dst, x *tensor.Tensor) *tensor.Tensor {
	n := x.Rows()
	tensor.Resize(dst, n, l.Out())
	tensor.LinearForward(n, l.In(), l.Out(), x.Data, l.Weight.Data.Data, biasData(l.Bias), dst.Data)
	return dst
}

// Backprop is the gradient of Apply(·, x) given dy (n x out): it adds dW
// and db into the parameters' Grad (when they require a gradient) and, unless
// dx is nil, writes dy·W into dx (resized to n x in), or adds it when
// accumulate (dx must then have that shape).
func (l *Linear) Backprop(dx, dy, x *tensor.Tensor, accumulate bool) {
	n := dy.Rows()
	var dxd []float32
	if dx != nil {
		if !accumulate {
			tensor.Resize(dx, n, l.In())
		}
		dxd = dx.Data
	}
	tensor.LinearBackward(n, l.In(), l.Out(), x.Data, l.Weight.Data.Data, dy.Data, dxd, gradData(l.Weight), gradData(l.Bias), accumulate)
}

// Forward applies the layer to x [..., in] and returns [..., out].
func (l *Linear) Forward(t *autograd.Tape, x *autograd.Value) *autograd.Value {
	return t.Linear(x, l.Weight, l.Bias)
}

// Params returns "weight" and, if present, "bias".
func (l *Linear) Params() []Param {
	ps := []Param{{Name: "weight", Value: l.Weight}}
	if l.Bias != nil {
		ps = append(ps, Param{Name: "bias", Value: l.Bias})
	}
	return ps
}

// Embedding is a lookup table of Num rows of size Dim. The row Padding
// (when ≥ 0) is zeroed at construction and receives no gradient, as
// PyTorch's padding_idx. Parameter name: "weight".
//
// Safe for concurrent Forward calls as long as nobody updates the table.
type Embedding struct {
	// Weight is [Num, Dim].
	Weight *autograd.Value
	// Padding is the padding row, or -1 for none.
	Padding int
}

// NewEmbedding returns an Embedding of n rows of size d with Xavier-normal
// initialization (as the SASRec reference), the padding row (if ≥ 0) zeroed.
func NewEmbedding(rng *rand.Rand, n, d, padding int) *Embedding {
	w := tensor.New(n, d)
	XavierNormal(rng, w)
	if padding >= 0 {
		clear(w.Row(padding))
	}
	return &Embedding{Weight: autograd.NewParam(w), Padding: padding}
}

// Forward looks up rows idx and returns [lead..., d] where the product of
// lead equals len(idx) (lead omitted: [len(idx), d]). Indices must be in
// range (validate data first: an out-of-range index panics).
func (e *Embedding) Forward(t *autograd.Tape, idx []int, lead ...int) *autograd.Value {
	y := t.Gather(e.Weight, idx, e.Padding)
	if len(lead) == 0 {
		return y
	}
	switch len(lead) {
	case 1:
		return t.Reshape(y, lead[0], -1)
	case 2:
		return t.Reshape(y, lead[0], lead[1], -1)
	}
	shape := append(append(make([]int, 0, len(lead)+1), lead...), e.Weight.Data.Cols())
	return t.Reshape(y, shape...)
}

// Params returns "weight".
func (e *Embedding) Params() []Param { return []Param{{Name: "weight", Value: e.Weight}} }

// LayerNorm normalizes the last axis and applies a learned affine map.
// Parameter names: "weight" (gamma, init 1), "bias" (beta, init 0).
//
// Safe for concurrent Forward calls as long as nobody updates its
// parameters.
type LayerNorm struct {
	// Gamma (scale) and Beta (shift) are [d].
	Gamma, Beta *autograd.Value
	// Eps is added to the variance (the SASRec reference uses 1e-8,
	// PyTorch's default is 1e-5).
	Eps float32
}

// NewLayerNorm returns a LayerNorm over d features.
func NewLayerNorm(d int, eps float32) *LayerNorm {
	g := tensor.New(d)
	g.Fill(1)
	return &LayerNorm{Gamma: autograd.NewParam(g), Beta: autograd.NewParam(tensor.New(d)), Eps: eps}
}

// Forward normalizes x [..., d].
func (l *LayerNorm) Forward(t *autograd.Tape, x *autograd.Value) *autograd.Value {
	return t.LayerNorm(x, l.Gamma, l.Beta, l.Eps)
}

// LayerNormCache holds what LayerNorm.Backprop needs from one Apply: the
// output and the per-row mean and reciprocal standard deviation. Its memory
// is reused from call to call.
type LayerNormCache struct {
	// Out is the normalized output.
	Out tensor.Tensor
	// Mean and Rstd have one entry per row.
	Mean, Rstd []float32
}

func growFloats(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n, n+n/4)
	}
	return b[:n]
}

// Apply is the layer's fast path outside a tape (see Linear.Apply): it
// normalizes the rows of x into c.Out, keeping the statistics in c, and
// returns &c.Out. It runs the same kernel as Forward (tensor.LayerNorm).
func (l *LayerNorm) Apply(c *LayerNormCache, x *tensor.Tensor) *tensor.Tensor {
	n := x.Rows()
	c.Mean, c.Rstd = growFloats(c.Mean, n), growFloats(c.Rstd, n)
	tensor.Resize(&c.Out, n, x.Cols())
	tensor.LayerNorm(&c.Out, x, l.Gamma.Data.Data, l.Beta.Data.Data, l.Eps, c.Mean, c.Rstd)
	return &c.Out
}

// Backprop is the gradient of the Apply on x that filled c, given dy: it
// adds the affine parameters' gradients into their Grad (when they require
// one) and writes dx (resized), or adds into it when accumulate.
func (l *LayerNorm) Backprop(dx, dy, x *tensor.Tensor, c *LayerNormCache, accumulate bool) {
	if !accumulate {
		tensor.Resize(dx, x.Rows(), x.Cols())
	}
	tensor.LayerNormBackward(dx, dy, x, l.Gamma.Data.Data, c.Mean, c.Rstd, gradData(l.Gamma), gradData(l.Beta), accumulate)
}

// Params returns "weight" and "bias".
func (l *LayerNorm) Params() []Param {
	return []Param{{Name: "weight", Value: l.Gamma}, {Name: "bias", Value: l.Beta}}
}

// Dropout zeroes entries with probability P during training (inverted
// scaling); it has no parameters. The mode is an argument, never a global.
//
// Safe for concurrent use (it holds only P); the rng passed in is not.
type Dropout struct {
	// P is the probability of zeroing an entry.
	P float32
}

// Forward applies dropout when train is true, drawing the mask from rng;
// otherwise it returns x unchanged.
func (d Dropout) Forward(t *autograd.Tape, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	return t.Dropout(x, d.P, train, rng)
}

// Activation selects a nonlinearity: the one of a FeedForward layer, of
// backbone's encoders and of backbone's adapter item tables. It marshals as
// its name (see MarshalText).
type Activation int

const (
	// ReLU is max(x, 0) (SASRec), named "relu".
	ReLU Activation = iota
	// GELU is the tanh approximation of GELU (BERT4Rec), named "gelu".
	GELU
	// Identity is no nonlinearity, f(x) = x, named "none" (LLM-ESR's
	// adapter: a stack of Linear layers).
	Identity
)

// String returns "relu", "gelu" or "none".
func (a Activation) String() string {
	switch a {
	case ReLU:
		return "relu"
	case GELU:
		return "gelu"
	case Identity:
		return "none"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

func (a Activation) apply(t *autograd.Tape, x *autograd.Value) *autograd.Value {
	switch a {
	case GELU:
		return t.GELU(x)
	case Identity:
		return x
	}
	return t.ReLU(x)
}

// Apply is the activation's fast path outside a tape, for models that
// differentiate by hand: it writes a(x) into dst, which must be empty or
// have x's shape, and returns dst. It runs the same kernels as the tape ops.
func (a Activation) Apply(dst, x *tensor.Tensor) *tensor.Tensor {
	switch a {
	case GELU:
		return tensor.GELU(dst, x)
	case Identity:
		dst.Ensure(x.Shape...)
		copy(dst.Data, x.Data)
		return dst
	}
	return tensor.ReLU(dst, x)
}

// Backprop is the gradient of Apply at the pre-activation x: it writes
// dy·a'(x) into dx (empty or x's shape; it may alias dy) and returns dx.
func (a Activation) Backprop(dx, dy, x *tensor.Tensor) *tensor.Tensor {
	switch a {
	case GELU:
		return tensor.GELUBackward(dx, dy, x)
	case Identity:
		dx.Ensure(x.Shape...)
		copy(dx.Data, dy.Data)
		return dx
	}
	return tensor.ReLUBackward(dx, dy, x)
}

// FeedForward is the position-wise network W2·Dropout(act(W1·x + b1)) + b2.
// Parameter names: "w1.weight", "w1.bias", "w2.weight", "w2.bias".
//
// Safe for concurrent Forward calls on different tapes (with different rngs)
// as long as nobody updates its parameters.
type FeedForward struct {
	// W1 is d -> inner, W2 is inner -> d.
	W1, W2 *Linear
	// Act is the nonlinearity after W1.
	Act Activation
	// Dropout is the probability applied after the activation.
	Dropout float32
}

// NewFeedForward returns a FeedForward d -> inner -> d.
func NewFeedForward(rng *rand.Rand, d, inner int, act Activation, dropout float32) *FeedForward {
	return &FeedForward{W1: NewLinear(rng, d, inner, true), W2: NewLinear(rng, inner, d, true), Act: act, Dropout: dropout}
}

// Forward applies the network to x [..., d].
func (f *FeedForward) Forward(t *autograd.Tape, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	h := f.Act.apply(t, f.W1.Forward(t, x))
	h = t.Dropout(h, f.Dropout, train, rng)
	return f.W2.Forward(t, h)
}

// Params returns the two linear layers' parameters under "w1" and "w2".
func (f *FeedForward) Params() []Param {
	return append(Prefix("w1", f.W1.Params()), Prefix("w2", f.W2.Params())...)
}
