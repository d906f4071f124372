package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

func layerValues(ps []Param) []*autograd.Value {
	vs := make([]*autograd.Value, len(ps))
	for i, p := range ps {
		vs[i] = p.Value
	}
	return vs
}

func layerInput(rng *rand.Rand, shape ...int) *autograd.Value {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = 2*rng.Float32() - 1
	}
	return autograd.NewParam(x)
}

func layerNames(ps []Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func TestLinearGradAndNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	l := NewLinear(rng, 4, 3, true)
	require.Equal(t, []string{"weight", "bias"}, layerNames(l.Params()))
	require.Equal(t, []int{3, 4}, l.Weight.Data.Shape)
	for _, b := range l.Bias.Data.Data {
		require.LessOrEqual(t, math.Abs(float64(b)), 0.5) // U(±1/√4)
	}
	x := layerInput(rng, 2, 5, 4)
	err := autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value { return l.Forward(tp, x) },
		append(layerValues(l.Params()), x), autograd.GradCheckOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"weight"}, layerNames(NewLinear(rng, 4, 3, false).Params()))
}

func TestLinearForwardByHand(t *testing.T) {
	l := &Linear{
		Weight: autograd.NewParam(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)),
		Bias:   autograd.NewParam(tensor.FromSlice([]float32{0.5, -1}, 2)),
	}
	tp := autograd.NewInferenceTape()
	y := l.Forward(tp, tp.Const(tensor.FromSlice([]float32{1, 0, -1}, 1, 3)))
	// [1·1 + 0·2 − 1·3 + 0.5, 4 − 6 − 1]
	require.Equal(t, []float32{-1.5, -3}, y.Data.Data)
}

func TestEmbeddingPadding(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	e := NewEmbedding(rng, 5, 3, 0)
	require.Equal(t, []float32{0, 0, 0}, e.Weight.Data.Row(0))
	tp := autograd.NewTape()
	y := e.Forward(tp, []int{0, 3, 3, 0, 1, 2}, 2, 3)
	require.Equal(t, []int{2, 3, 3}, y.Data.Shape)
	require.Equal(t, e.Weight.Data.Row(3), y.Data.Data[3:6])
	require.NoError(t, tp.Backward(tp.Sum(y)))
	require.Equal(t, []float32{0, 0, 0}, e.Weight.Grad.Row(0), "padding row gets no gradient")
	require.Equal(t, []float32{2, 2, 2}, e.Weight.Grad.Row(3))
	require.Equal(t, []float32{0, 0, 0}, e.Weight.Grad.Row(4))

	// gradient check without a padding row
	e2 := NewEmbedding(rng, 4, 3, -1)
	err := autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
		return e2.Forward(tp, []int{1, 3, 1, 0}, 4)
	}, layerValues(e2.Params()), autograd.GradCheckOptions{})
	require.NoError(t, err)
}

func TestLayerNormLayer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	ln := NewLayerNorm(5, 1e-8)
	require.Equal(t, []string{"weight", "bias"}, layerNames(ln.Params()))
	ln.Gamma.Data.Data[1], ln.Beta.Data.Data[2] = 1.5, 0.3
	x := layerInput(rng, 2, 3, 5)
	err := autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value { return ln.Forward(tp, x) },
		append(layerValues(ln.Params()), x), autograd.GradCheckOptions{})
	require.NoError(t, err)

	// by hand: row (1, 2, 3, 4, 5): mean 3, biased variance 2
	ln2 := NewLayerNorm(5, 1e-8)
	tp := autograd.NewInferenceTape()
	y := ln2.Forward(tp, tp.Const(tensor.FromSlice([]float32{1, 2, 3, 4, 5}, 5)))
	s := math.Sqrt(2)
	require.InDeltaSlice(t, []float64{-2 / s, -1 / s, 0, 1 / s, 2 / s}, layerF64(y.Data.Data), 1e-6)
}

func layerF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func TestDropoutLayer(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	tp := autograd.NewTape()
	x := layerInput(rng, 100)
	require.Same(t, x, Dropout{P: 0.5}.Forward(tp, x, false, rng))
	y := Dropout{P: 0.5}.Forward(tp, x, true, rng)
	for i, v := range y.Data.Data {
		if v != 0 {
			require.InDelta(t, 2*x.Data.Data[i], v, 1e-6)
		}
	}
}

func TestFeedForwardGrad(t *testing.T) {
	for _, act := range []Activation{ReLU, GELU, Identity} {
		rng := rand.New(rand.NewPCG(5, 5))
		f := NewFeedForward(rng, 4, 6, act, 0.3)
		require.Equal(t, []string{"w1.weight", "w1.bias", "w2.weight", "w2.bias"}, layerNames(f.Params()))
		x := layerInput(rng, 2, 3, 4)
		err := autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
			return f.Forward(tp, x, true, rand.New(rand.NewPCG(9, 9)))
		}, append(layerValues(f.Params()), x), autograd.GradCheckOptions{})
		require.NoError(t, err, act.String())
	}
}

// The fast path of an activation agrees with known values and its gradient
// with central differences of Apply.
func TestActivationApplyBackprop(t *testing.T) {
	x := tensor.FromSlice([]float32{-2, -0.5, 0.25, 1.5}, 2, 2)
	want := map[Activation][]float64{
		ReLU:     {0, 0, 0.25, 1.5},
		Identity: {-2, -0.5, 0.25, 1.5},
		// 0.5·u·(1 + tanh(√(2/π)(u + 0.044715u³)))
		GELU: {-0.04540231, -0.15428599, 0.14967535, 1.39957158},
	}
	dy := tensor.FromSlice([]float32{0.3, -0.7, 1.1, 0.9}, 2, 2)
	for act, w := range want {
		y := act.Apply(&tensor.Tensor{}, x)
		require.Equal(t, []int{2, 2}, y.Shape)
		for i, v := range y.Data {
			require.InDelta(t, w[i], v, 1e-6, "%v(%g)", act, x.Data[i])
		}
		dx := act.Backprop(&tensor.Tensor{}, dy, x)
		for i := range x.Data {
			const h = 1e-3
			xp, xm := x.Clone(), x.Clone()
			xp.Data[i] += h
			xm.Data[i] -= h
			fd := (float64(act.Apply(&tensor.Tensor{}, xp).Data[i]) - float64(act.Apply(&tensor.Tensor{}, xm).Data[i])) / (2 * h)
			require.InDelta(t, fd*float64(dy.Data[i]), dx.Data[i], 2e-3, "%v'(%g)", act, x.Data[i])
		}
	}
}

func TestActivationNames(t *testing.T) {
	for name, want := range map[string]Activation{"relu": ReLU, "gelu": GELU, "none": Identity, "": ReLU} {
		got, err := ParseActivation(name)
		require.NoError(t, err)
		require.Equal(t, want, got)
		var u Activation
		require.NoError(t, u.UnmarshalText([]byte(name)))
		require.Equal(t, want, u)
	}
	for _, a := range []Activation{ReLU, GELU, Identity} {
		b, err := a.MarshalText()
		require.NoError(t, err)
		require.Equal(t, a.String(), string(b))
	}
	_, err := ParseActivation("tanh")
	require.ErrorIs(t, err, ErrBadConfig)
	var u Activation
	require.ErrorIs(t, u.UnmarshalText([]byte("swish")), ErrBadConfig)
	_, err = Activation(7).MarshalText()
	require.ErrorIs(t, err, ErrBadConfig)
	require.False(t, Activation(-1).Valid())
	require.False(t, Activation(3).Valid())
}
