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

func TestGBCEBeta(t *testing.T) {
	// gSASRec: α = k/(N−1); β = α(t(1 − 1/α) + 1/α)
	for _, c := range []struct {
		k, n int
		t    float64
	}{{256, 12102, 0.75}, {1, 3, 0.5}, {10, 11, 1}, {5, 100, 0}} {
		a := float64(c.k) / float64(c.n-1)
		want := a * (c.t*(1-1/a) + 1/a)
		got, err := GBCEBeta(c.k, c.n, c.t)
		require.NoError(t, err)
		require.InDelta(t, want, got, 1e-12, "%+v", c)
	}
	b, _ := GBCEBeta(5, 100, 0)
	require.Equal(t, 1.0, b, "t = 0 is plain BCE")
	b, _ = GBCEBeta(33, 100, 1)
	require.InDelta(t, 33.0/99, b, 1e-12, "t = 1 is β = α")
	for _, c := range []struct {
		k, n int
		t    float64
	}{{0, 10, 0.5}, {10, 10, 0.5}, {3, 1, 0.5}, {3, 10, -0.1}, {3, 10, 1.5}, {3, 10, math.NaN()}} {
		_, err := GBCEBeta(c.k, c.n, c.t)
		require.ErrorIs(t, err, ErrBadConfig, "%+v", c)
	}
}

func TestGBCELossByHand(t *testing.T) {
	tp := autograd.NewInferenceTape()
	pos := tp.Const(tensor.FromSlice([]float32{2, -0.5, 1}, 3))
	neg := tp.Const(tensor.FromSlice([]float32{-1, 3, 0, 0.5, 4, 4}, 3, 2))
	mask := tensor.FromSlice([]float32{1, 1, 0}, 3)
	const beta = 0.3
	// per row β·softplus(−s_p) + Σ softplus(s_n), over 1 + k = 3 logits, mean over 2 rows
	r0 := beta*layerSoftplus(-2) + layerSoftplus(-1) + layerSoftplus(3)
	r1 := beta*layerSoftplus(0.5) + layerSoftplus(0) + layerSoftplus(0.5)
	l := GBCELoss(tp, pos, neg, beta, nil, mask)
	require.InDelta(t, (r0+r1)/3/2, l.Data.Data[0], 1e-6)
	// a dropped negative leaves its term out (the divisor stays 1 + k)
	nw := tensor.FromSlice([]float32{1, 0, 1, 1, 1, 1}, 3, 2)
	l = GBCELoss(tp, pos, neg, beta, nw, mask)
	require.InDelta(t, (r0-layerSoftplus(3)+r1)/3/2, l.Data.Data[0], 1e-6)
	// β = 1 weighs the positive like each negative
	l = GBCELoss(tp, pos, neg, 1, nil, nil)
	r2 := layerSoftplus(-1) + layerSoftplus(4) + layerSoftplus(4)
	all := (r0 + (1-beta)*layerSoftplus(-2) + r1 + (1-beta)*layerSoftplus(0.5) + r2) / 3 / 3
	require.InDelta(t, all, l.Data.Data[0], 1e-6)
}

func TestLogQSampledSoftmaxLossByHand(t *testing.T) {
	tp := autograd.NewInferenceTape()
	pos := tp.Const(tensor.FromSlice([]float32{1, 0}, 2))
	neg := tp.Const(tensor.FromSlice([]float32{0, 2, 1, 1}, 2, 2))
	lqp := tensor.FromSlice([]float32{-2, -1}, 2)
	inf := float32(math.Inf(1))
	lqn := tensor.FromSlice([]float32{-3, -0.5, inf, -1}, 2, 2)
	l := LogQSampledSoftmaxLoss(tp, pos, neg, lqp, lqn, nil)
	// row 0: logits 1+2, 0+3, 2+0.5; row 1: 0+1, (excluded), 1+1
	r0 := -3 + math.Log(math.Exp(3)+math.Exp(3)+math.Exp(2.5))
	r1 := -1 + math.Log(math.Exp(1)+math.Exp(2))
	require.InDelta(t, (r0+r1)/2, l.Data.Data[0], 1e-5)
	// a uniform proposal (the same logQ everywhere) is plain sampled softmax
	c := func(v float32, s ...int) *tensor.Tensor {
		x := tensor.New(s...)
		x.Fill(v)
		return x
	}
	l = LogQSampledSoftmaxLoss(tp, pos, neg, c(-4, 2), c(-4, 2, 2), nil)
	require.InDelta(t, SampledSoftmaxLoss(tp, pos, neg, nil).Data.Data[0], l.Data.Data[0], 1e-6)
}

func TestSampledLossGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pos, neg := layerInput(rng, 4), layerInput(rng, 4, 3)
	mask := tensor.FromSlice([]float32{1, 0, 1, 1}, 4)
	nw := tensor.FromSlice([]float32{1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1}, 4, 3)
	require.NoError(t, autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
		return GBCELoss(tp, pos, neg, 0.37, nw, mask)
	}, []*autograd.Value{pos, neg}, autograd.GradCheckOptions{}))
	lqp := tensor.FromSlice([]float32{-1, -2, -0.5, -3}, 4)
	lqn := tensor.FromSlice([]float32{-1, -2, float32(math.Inf(1)), -0.5, -3, -1, -2, -2, -1, -4, -0.1, -1}, 4, 3)
	require.NoError(t, autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
		return LogQSampledSoftmaxLoss(tp, pos, neg, lqp, lqn, mask)
	}, []*autograd.Value{pos, neg}, autograd.GradCheckOptions{}))
}
