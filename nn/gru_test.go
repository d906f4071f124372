package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

func TestGRUHandComputed(t *testing.T) {
	// in = 1, hidden = 1: gates in PyTorch order (r, z, n)
	g := &GRU{
		WeightIH: autograd.NewParam(tensor.FromSlice([]float32{0.5, -0.3, 0.8}, 3, 1)),
		WeightHH: autograd.NewParam(tensor.FromSlice([]float32{0.2, 0.4, -0.6}, 3, 1)),
		BiasIH:   autograd.NewParam(tensor.FromSlice([]float32{0.1, 0.0, -0.1}, 3)),
		BiasHH:   autograd.NewParam(tensor.FromSlice([]float32{-0.2, 0.3, 0.05}, 3)),
		Hidden:   1,
	}
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	xs := []float64{1.0, -2.0}
	h := 0.25
	var want []float64
	for _, x := range xs {
		r := sig(0.5*x + 0.1 + 0.2*h - 0.2)
		z := sig(-0.3*x + 0.0 + 0.4*h + 0.3)
		n := math.Tanh(0.8*x - 0.1 + r*(-0.6*h+0.05))
		h = (1-z)*n + z*h
		want = append(want, h)
	}
	tp := autograd.NewInferenceTape()
	y := g.Forward(tp, tp.Const(tensor.FromSlice([]float32{1, -2}, 1, 2, 1)), tp.Const(tensor.FromSlice([]float32{0.25}, 1, 1)))
	require.Equal(t, []int{1, 2, 1}, y.Data.Shape)
	require.InDeltaSlice(t, want, layerF64(y.Data.Data), 1e-6)
}

func TestGRUGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	g := NewGRU(rng, 3, 2)
	require.Equal(t, []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}, layerNames(g.Params()))
	require.Equal(t, []int{6, 3}, g.WeightIH.Data.Shape)
	x, h0 := layerInput(rng, 2, 3, 3), layerInput(rng, 2, 2)
	err := autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value { return g.Forward(tp, x, h0) },
		append(layerValues(g.Params()), x, h0), autograd.GradCheckOptions{})
	require.NoError(t, err)
	tp := autograd.NewInferenceTape()
	require.Equal(t, []int{2, 3, 2}, g.Forward(tp, x, nil).Data.Shape)
}
