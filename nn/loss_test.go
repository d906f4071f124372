package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

func layerSoftplus(v float64) float64 { return math.Log1p(math.Exp(v)) }

func TestBCELossByHand(t *testing.T) {
	tp := autograd.NewInferenceTape()
	pos := tp.Const(tensor.FromSlice([]float32{2, 0.5, -1}, 3))
	neg := tp.Const(tensor.FromSlice([]float32{-1, 3, 0}, 3))
	mask := tensor.FromSlice([]float32{1, 1, 0}, 3)
	l := BCELoss(tp, pos, neg, mask)
	// −log σ(p) = layerSoftplus(−p); −log(1−σ(n)) = layerSoftplus(n); mean over the 2 real positions
	want := (layerSoftplus(-2)+layerSoftplus(-0.5))/2 + (layerSoftplus(-1)+layerSoftplus(3))/2
	require.InDelta(t, want, l.Data.Data[0], 1e-6)
}

func TestSampledSoftmaxLossByHand(t *testing.T) {
	tp := autograd.NewInferenceTape()
	pos := tp.Const(tensor.FromSlice([]float32{1, 0}, 2))
	neg := tp.Const(tensor.FromSlice([]float32{0, 2, 1, 1}, 2, 2))
	l := SampledSoftmaxLoss(tp, pos, neg, nil)
	r0 := -1 + math.Log(math.E+1+math.Exp(2))
	r1 := math.Log(1 + 2*math.E)
	require.InDelta(t, (r0+r1)/2, l.Data.Data[0], 1e-6)
	// masking the second row leaves the first
	l = SampledSoftmaxLoss(tp, pos, neg, tensor.FromSlice([]float32{1, 0}, 2))
	require.InDelta(t, r0, l.Data.Data[0], 1e-6)
}

func TestFullCrossEntropyByHand(t *testing.T) {
	tp := autograd.NewInferenceTape()
	h := tp.Const(tensor.FromSlice([]float32{1, 0, 0, 1}, 2, 2))
	items := tp.Const(tensor.FromSlice([]float32{0, 0, 1, 2, 3, -1}, 3, 2))
	// logits row 0: (0, 1, 3); row 1: (0, 2, −1)
	l := FullCrossEntropyLoss(tp, h, items, []int{1, 2}, nil)
	lse0 := math.Log(1 + math.E + math.Exp(3))
	lse1 := math.Log(1 + math.Exp(2) + math.Exp(-1))
	require.InDelta(t, ((lse0-1)+(lse1+1))/2, l.Data.Data[0], 1e-6)
	require.InDelta(t, 12.5, MSELoss(tp, tp.Const(tensor.FromSlice([]float32{1, 2}, 2)),
		tp.Const(tensor.FromSlice([]float32{6, 2}, 2))).Data.Data[0], 1e-6)
}

func TestLossGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	pos, neg := layerInput(rng, 2, 3), layerInput(rng, 2, 3)
	mask := tensor.FromSlice([]float32{0, 1, 1, 1, 1, 0}, 2, 3)
	require.NoError(t, autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
		return BCELoss(tp, pos, neg, mask)
	}, []*autograd.Value{pos, neg}, autograd.GradCheckOptions{}))
	negs := layerInput(rng, 2, 3, 4)
	require.NoError(t, autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
		return SampledSoftmaxLoss(tp, pos, negs, mask)
	}, []*autograd.Value{pos, negs}, autograd.GradCheckOptions{}))
	h, items := layerInput(rng, 2, 3, 4), layerInput(rng, 5, 4)
	require.NoError(t, autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
		return FullCrossEntropyLoss(tp, h, items, []int{1, 4, -1, 0, 2, 3}, nil)
	}, []*autograd.Value{h, items}, autograd.GradCheckOptions{}))
	a, b := layerInput(rng, 3, 2), layerInput(rng, 3, 2)
	require.NoError(t, autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
		return MSELoss(tp, a, b)
	}, []*autograd.Value{a, b}, autograd.GradCheckOptions{}))
}
