package align

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

var estNames = map[Estimator]string{Unbiased: "unbiased", Biased: "biased", UnbiasedOffset: "pad", Linear: "linear"}

func ones(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// lossValue evaluates l on an inference tape.
func lossValue(l Loss, x, y *tensor.Tensor) float64 {
	t := autograd.NewInferenceTape()
	v := l.Loss(t, t.Const(x), t.Const(y))
	return float64(v.Data.Data[0])
}

func TestBandwidthMatchesNaiveMean(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := toTensor(gaussRows(r, 7, 4, 0))
	y := toTensor(gaussRows(r, 5, 4, 3))
	want := refBandwidthMean(toF64(x), toF64(y))
	assert.InDelta(t, want, Bandwidth(x, y), 1e-9*want)
}

func TestMKMMDMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	custom := MKMMD{Alphas: []float64{0.3, 1.7}, Weights: []float64{0.25, 2}}
	for _, est := range []Estimator{Unbiased, Biased, UnbiasedOffset, Linear} {
		for _, cfg := range []MKMMD{{}, custom} {
			for _, sizes := range [][2]int{{10, 10}, {9, 6}} {
				n, m := sizes[0], sizes[1]
				if n != m && (est == UnbiasedOffset || est == Linear) {
					continue
				}
				name := fmt.Sprintf("%v/alphas=%v/N=%d,M=%d", est, cfg.Alphas, n, m)
				t.Run(name, func(t *testing.T) {
					x := toTensor(gaussRows(r, n, 5, 0))
					y := toTensor(gaussRows(r, m, 5, 0.7))
					cfg.Estimator = est
					alphas, weights := cfg.Alphas, cfg.Weights
					if alphas == nil {
						alphas, weights = DefaultAlphas, ones(len(DefaultAlphas))
					}
					want := refMMD(toF64(x), toF64(y), alphas, weights, estNames[est])
					got := lossValue(cfg, x, y)
					assert.InDelta(t, want, got, 2e-6*(1+math.Abs(want)))
				})
			}
		}
	}
}

// TestMKMMDSameDistributionNearZero: two independent samples of N(0, I_16).
func TestMKMMDSameDistributionNearZero(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for rep := range 3 {
		x := toTensor(gaussRows(r, 256, 16, 0))
		y := toTensor(gaussRows(r, 256, 16, 0))
		v := lossValue(MKMMD{}, x, y)
		t.Logf("rep %d: unbiased MK-MMD of one distribution, N=256 d=16: %.5f", rep, v)
		assert.Less(t, math.Abs(v), 0.02)
	}
}

// TestMKMMDGrowsWithShift: y ~ N(δ·1, I), x ~ N(0, I), N = 256, d = 16.
func TestMKMMDGrowsWithShift(t *testing.T) {
	shifts := []float64{0, 0.25, 0.5, 1, 2}
	for _, est := range []Estimator{Unbiased, Biased, UnbiasedOffset} {
		r := rand.New(rand.NewPCG(7, 8))
		x := toTensor(gaussRows(r, 256, 16, 0))
		base := gaussRows(r, 256, 16, 0)
		prev := math.Inf(-1)
		var vals []float64
		for _, d := range shifts {
			y := make([][]float64, len(base))
			for i, row := range base {
				y[i] = make([]float64, len(row))
				for j, v := range row {
					y[i][j] = v + d
				}
			}
			v := lossValue(MKMMD{Estimator: est}, x, toTensor(y))
			vals = append(vals, v)
			assert.Greater(t, v, prev, "%v: MMD at shift %v not above the previous shift", est, d)
			prev = v
		}
		t.Logf("%v MK-MMD, N=256 d=16, shift δ=%v: %.4f", est, shifts, vals)
	}
}

// TestLinearAgreesInExpectation averages the linear and the quadratic
// (unbiased) estimators over many batches drawn with the same bandwidth.
func TestLinearAgreesInExpectation(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const reps = 300
	for _, shift := range []float64{0, 0.3} {
		var lin, quad []float64
		for range reps {
			x := toTensor(gaussRows(r, 64, 8, 0))
			y := toTensor(gaussRows(r, 64, 8, shift))
			lin = append(lin, lossValue(MKMMD{Estimator: Linear, FixedBandwidth: 16}, x, y))
			quad = append(quad, lossValue(MKMMD{FixedBandwidth: 16}, x, y))
		}
		ml, sl := meanSE(lin)
		mq, sq := meanSE(quad)
		t.Logf("shift %v: linear mean %.5f ± %.5f, quadratic mean %.5f ± %.5f (%d batches of 64)", shift, ml, sl, mq, sq, reps)
		assert.InDelta(t, mq, ml, 4*math.Hypot(sl, sq))
	}
}

func meanSE(v []float64) (mean, se float64) {
	for _, a := range v {
		mean += a
	}
	mean /= float64(len(v))
	var s float64
	for _, a := range v {
		s += (a - mean) * (a - mean)
	}
	return mean, math.Sqrt(s / float64(len(v)-1) / float64(len(v)))
}

func TestMKMMDBandwidthIsNotDifferentiated(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := toTensor(gaussRows(r, 6, 3, 0))
	y := toTensor(gaussRows(r, 6, 3, 1))
	grads := func(l Loss) ([]float32, []float32) {
		px, py := autograd.NewParam(x), autograd.NewParam(y)
		tp := autograd.NewTape()
		require.NoError(t, tp.Backward(l.Loss(tp, px, py)))
		return px.Grad.Data, py.Grad.Data
	}
	ax, ay := grads(MKMMD{})
	bx, by := grads(MKMMD{FixedBandwidth: Bandwidth(x, y)})
	assert.Equal(t, bx, ax)
	assert.Equal(t, by, ay)
}

// oracleGradCheck compares the tape gradients of l at (x, y) with central
// differences (step 1e-5, float64) of the float64 oracle f. It returns the
// largest absolute error and the largest error relative to max(|g|, 1e-3).
func oracleGradCheck(t *testing.T, l Loss, x, y *tensor.Tensor, f func(x, y [][]float64) float64) (maxAbs, maxRel float64) {
	t.Helper()
	px, py := autograd.NewParam(x), autograd.NewParam(y)
	tp := autograd.NewTape()
	loss := l.Loss(tp, px, py)
	require.NoError(t, tp.Backward(loss))
	xs, ys := toF64(x), toF64(y)
	check := func(rows [][]float64, grad []float32) {
		for i := range rows {
			for j := range rows[i] {
				old := rows[i][j]
				const h = 1e-5
				rows[i][j] = old + h
				fp := f(xs, ys)
				rows[i][j] = old - h
				fm := f(xs, ys)
				rows[i][j] = old
				num := (fp - fm) / (2 * h)
				ana := float64(grad[i*len(rows[i])+j])
				e := math.Abs(ana - num)
				maxAbs = max(maxAbs, e)
				maxRel = max(maxRel, e/max(math.Abs(num), 1e-3))
			}
		}
	}
	check(xs, px.Grad.Data)
	check(ys, py.Grad.Data)
	return maxAbs, maxRel
}

func TestGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	type tc struct {
		name string
		loss Loss
		n, m int
		ref  func(x, y [][]float64) float64
	}
	const bw = 7.5
	mmd := func(est Estimator, alphas, weights []float64) func(x, y [][]float64) float64 {
		return func(x, y [][]float64) float64 { return refMMDAt(x, y, alphas, weights, estNames[est], bw) }
	}
	var cases []tc
	for _, est := range []Estimator{Unbiased, Biased, UnbiasedOffset, Linear} {
		n, m := 8, 8
		if est == Unbiased || est == Biased {
			m = 5
		}
		cases = append(cases, tc{"MKMMD/" + est.String(), MKMMD{Estimator: est, FixedBandwidth: bw}, n, m, mmd(est, DefaultAlphas, ones(5))})
	}
	cases = append(cases, tc{"MKMMD/unbiased/weighted", MKMMD{Alphas: []float64{0.5, 3}, Weights: []float64{2, 0.5}, FixedBandwidth: bw}, 6, 7, mmd(Unbiased, []float64{0.5, 3}, []float64{2, 0.5})})
	for _, cos := range []bool{false, true} {
		tau := 0.5
		if cos {
			tau = 0.1
		}
		cases = append(cases,
			tc{fmt.Sprintf("InfoNCE/cosine=%v", cos), InfoNCE{Temperature: tau, Cosine: cos}, 6, 8,
				func(x, y [][]float64) float64 { return refInfoNCE(x, y, tau, cos) }},
			tc{fmt.Sprintf("CLIP/cosine=%v", cos), CLIP{Temperature: tau, Cosine: cos}, 6, 6,
				func(x, y [][]float64) float64 { return (refInfoNCE(x, y, tau, cos) + refInfoNCE(y, x, tau, cos)) / 2 }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := toTensor(gaussRows(r, c.n, 4, 0))
			y := toTensor(gaussRows(r, c.m, 4, 0.5))
			// value against the oracle
			assert.InDelta(t, c.ref(toF64(x), toF64(y)), lossValue(c.loss, x, y), 1e-5)
			maxAbs, maxRel := oracleGradCheck(t, c.loss, x, y, c.ref)
			t.Logf("%s: gradient vs float64 finite differences: max abs err %.2e, max rel err %.2e", c.name, maxAbs, maxRel)
			assert.Less(t, maxRel, 1e-3)
			// and autograd's own float32 check on the tape
			px, py := autograd.NewParam(x), autograd.NewParam(y)
			err := autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value { return c.loss.Loss(tp, px, py) },
				[]*autograd.Value{px, py}, autograd.GradCheckOptions{Eps: 1e-2})
			assert.NoError(t, err)
		})
	}
}

func TestInfoNCEEqualSimilaritiesIsLogN(t *testing.T) {
	for _, n := range []int{2, 5, 32} {
		x := tensor.New(n, 3)
		y := tensor.New(n, 3)
		for i := range n {
			copy(x.Row(i), []float32{1, -2, 0.5})
			copy(y.Row(i), []float32{0.3, 0.1, 2})
		}
		for _, cos := range []bool{false, true} {
			want := math.Log(float64(n))
			assert.InDelta(t, want, lossValue(InfoNCE{Temperature: 0.2, Cosine: cos}, x, y), 1e-5)
			assert.InDelta(t, want, lossValue(CLIP{Temperature: 0.2, Cosine: cos}, x, y), 1e-5)
		}
	}
	// InfoNCE with extra negatives: log M.
	x, y := tensor.New(3, 2), tensor.New(7, 2)
	assert.InDelta(t, math.Log(7), lossValue(InfoNCE{}, x, y), 1e-6)
}

func TestShapeErrorsPanic(t *testing.T) {
	x, y5, y4 := tensor.New(4, 3), tensor.New(5, 3), tensor.New(4, 2)
	for name, f := range map[string]func(){
		"width":         func() { lossValue(MKMMD{}, x, y4) },
		"linear N!=M":   func() { lossValue(MKMMD{Estimator: Linear}, x, y5) },
		"offset N!=M":   func() { lossValue(MKMMD{Estimator: UnbiasedOffset}, x, y5) },
		"one row":       func() { lossValue(MKMMD{}, tensor.New(1, 3), y5) },
		"CLIP N!=M":     func() { lossValue(CLIP{}, x, y5) },
		"InfoNCE M<N":   func() { lossValue(InfoNCE{}, y5, x) },
		"InfoNCE width": func() { lossValue(InfoNCE{}, x, y4) },
		"not a matrix":  func() { lossValue(MKMMD{}, tensor.New(12), tensor.New(12)) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r, "no panic")
				err, ok := r.(error)
				require.True(t, ok, "panic value %v is not an error", r)
				assert.True(t, errors.Is(err, tensor.ErrShape), "%v does not wrap tensor.ErrShape", err)
			}()
			f()
		})
	}
}

func TestIdenticalPointsGiveZero(t *testing.T) {
	x := tensor.New(4, 3)
	for i := range x.Data {
		x.Data[i] = 1.5
	}
	v := lossValue(MKMMD{}, x, x)
	assert.False(t, math.IsNaN(v))
	assert.InDelta(t, 0, v, 1e-6)
}
