package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// numGrad returns the central finite-difference gradient of
// L(x) = Σ_i w_i·f(x)_i with respect to x, accumulating L in float64. f must
// recompute its output from the current contents of x.
func numGrad(x []float32, w []float32, h float32, f func() []float32) []float64 {
	loss := func() float64 {
		var s float64
		for i, v := range f() {
			s += float64(w[i]) * float64(v)
		}
		return s
	}
	g := make([]float64, len(x))
	for i := range x {
		old := x[i]
		x[i] = old + h
		lp := loss()
		x[i] = old - h
		lm := loss()
		x[i] = old
		g[i] = (lp - lm) / (2 * float64(h))
	}
	return g
}

// assertGrad compares an analytic gradient to a finite-difference one with an
// absolute-plus-relative tolerance (float32 forward passes limit the
// finite-difference accuracy to about 1e-3 with h = 1e-2).
func assertGrad(t *testing.T, want []float64, got []float32, tol float64, name string) {
	t.Helper()
	require.Len(t, got, len(want), name)
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Errorf("%s: grad[%d] = %v, finite difference %v", name, i, got[i], want[i])
			return
		}
	}
}

func TestTensorBasics(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	assert.Equal(t, 2, x.Rows())
	assert.Equal(t, 3, x.Cols())
	assert.Equal(t, 2, x.Dims())
	assert.Equal(t, []float32{4, 5, 6}, x.Row(1))
	r := x.Reshape(3, 2)
	r.Data[0] = 10
	assert.Equal(t, float32(10), x.Data[0], "Reshape shares data")
	c := x.Clone()
	c.Data[1] = -1
	assert.Equal(t, float32(2), x.Data[1], "Clone copies data")
	s := New()
	assert.Equal(t, 1, s.Len(), "a scalar holds one element")
	assert.Equal(t, 1, s.Cols())

	assertShapePanic(t, func() { FromSlice(make([]float32, 5), 2, 3) }, "FromSlice count")
	assertShapePanic(t, func() { x.Reshape(4, 2) }, "Reshape count")
	assertShapePanic(t, func() { New(2, -1) }, "negative dim")
	assertShapePanic(t, func() { x.CopyFrom(New(4)) }, "CopyFrom")
	assertShapePanic(t, func() { x.Ensure(3, 2) }, "Ensure on sized tensor")

	// Ensure: an empty tensor sizes itself, reusing (and zeroing) capacity.
	var d Tensor
	d.Ensure(2, 2)
	assert.Equal(t, []int{2, 2}, d.Shape)
	assert.Len(t, d.Data, 4)
	d.Data[0] = 7
	d.Ensure(2, 2) // already that shape: untouched
	assert.Equal(t, float32(7), d.Data[0])
	backing := d.Data
	d.Data = d.Data[:0]
	d.Ensure(3)
	assert.Equal(t, []float32{0, 0, 0}, d.Data)
	assert.Same(t, &backing[0], &d.Data[0], "capacity reused")
	var z Tensor
	z.Ensure(0, 4)
	assert.Equal(t, []int{0, 4}, z.Shape, "zero-element shapes size too")
	assert.Equal(t, 0, z.Len())
}

func TestElementwiseBroadcast(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	bias := FromSlice([]float32{10, 20, 30}, 3)
	assert.Equal(t, []float32{11, 22, 33, 14, 25, 36}, Add(&Tensor{}, a, bias).Data)
	assert.Equal(t, []float32{-9, -18, -27, -6, -15, -24}, Sub(&Tensor{}, a, bias).Data)
	assert.Equal(t, []float32{10, 40, 90, 40, 100, 180}, Mul(&Tensor{}, a, bias).Data)
	full := FromSlice([]float32{1, 1, 1, 2, 2, 2}, 2, 3)
	assert.Equal(t, []float32{2, 3, 4, 6, 7, 8}, Add(&Tensor{}, a, full).Data)
	scalar := FromSlice([]float32{2})
	assert.Equal(t, []float32{2, 4, 6, 8, 10, 12}, Mul(&Tensor{}, a, scalar).Data)
	// A [2,3] operand broadcast over [2,2,3].
	big := New(2, 2, 3)
	assert.Equal(t, []float32{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, Add(&Tensor{}, big, a).Data)
	// dst may alias a.
	y := a.Clone()
	Add(y, y, bias)
	assert.Equal(t, []float32{11, 22, 33, 14, 25, 36}, y.Data)

	assertShapePanic(t, func() { Add(&Tensor{}, a, New(2)) }, "non-suffix")
	assertShapePanic(t, func() { Sub(&Tensor{}, a, New(2, 2, 3)) }, "b bigger")
	assertShapePanic(t, func() { Mul(&Tensor{}, a, New(3, 1)) }, "wrong trailing")
	assertShapePanic(t, func() { Add(New(3, 2), a, bias) }, "wrong dst")
}

func TestScaleAxpyDot(t *testing.T) {
	a := FromSlice([]float32{1, -2, 3}, 3)
	assert.Equal(t, []float32{-0.5, 1, -1.5}, Scale(&Tensor{}, a, -0.5).Data)
	y := []float32{1, 1, 1}
	Axpy(2, a.Data, y)
	assert.Equal(t, []float32{3, -3, 7}, y)
	assertShapePanic(t, func() { Axpy(1, a.Data, y[:2]) }, "Axpy")
	assertShapePanic(t, func() { Dot(a.Data, y[:2]) }, "Dot")
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 3, 4, 5, 8, 13, 100} {
		x, z := randSlice(rng, n), randSlice(rng, n)
		var want, mag float64
		for i := range x {
			want += float64(x[i]) * float64(z[i])
			mag += math.Abs(float64(x[i]) * float64(z[i]))
		}
		assert.InDelta(t, want, float64(Dot(x, z)), float64(n+2)*mag/(1<<23)+1e-12, "n=%d", n)
	}
}

func TestActivations(t *testing.T) {
	x := FromSlice([]float32{-2, -0.5, 0, 0.5, 3}, 5)
	assert.Equal(t, []float32{0, 0, 0, 0.5, 3}, ReLU(&Tensor{}, x).Data)
	dy := FromSlice([]float32{1, 2, 3, 4, 5}, 5)
	assert.Equal(t, []float32{0, 0, 0, 4, 5}, ReLUBackward(&Tensor{}, dy, x).Data)
	// GELU (tanh form) at hand-checked points: gelu(0) = 0, gelu(1) =
	// 0.5·(1+tanh(0.79788456·1.044715)) = 0.841192, gelu(-1) = -0.158808.
	g := GELU(&Tensor{}, FromSlice([]float32{0, 1, -1}, 3))
	assert.InDelta(t, 0, float64(g.Data[0]), 1e-7)
	assert.InDelta(t, 0.841192, float64(g.Data[1]), 1e-5)
	assert.InDelta(t, -0.158808, float64(g.Data[2]), 1e-5)

	rng := rand.New(rand.NewPCG(13, 14))
	xs := randTensor(rng, 4, 6)
	for i, v := range xs.Data { // keep ReLU away from its kink
		if math.Abs(float64(v)) < 0.05 {
			xs.Data[i] = 0.3
		}
	}
	w := randTensor(rng, 4, 6)
	var out Tensor
	wantR := numGrad(xs.Data, w.Data, 1e-2, func() []float32 { return ReLU(&out, xs).Data })
	assertGrad(t, wantR, ReLUBackward(&Tensor{}, w, xs).Data, 1e-3, "ReLU")
	wantG := numGrad(xs.Data, w.Data, 1e-2, func() []float32 { return GELU(&out, xs).Data })
	assertGrad(t, wantG, GELUBackward(&Tensor{}, w, xs).Data, 2e-3, "GELU")
	// dx may alias dy.
	dd := w.Clone()
	GELUBackward(dd, dd, xs)
	assert.Equal(t, GELUBackward(&Tensor{}, w, xs).Data, dd.Data)

	assertShapePanic(t, func() { ReLUBackward(&Tensor{}, New(3), New(4)) }, "ReLUBackward dy")
	assertShapePanic(t, func() { GELUBackward(&Tensor{}, New(3), New(4)) }, "GELUBackward dy")
}

// refSoftmax is a float64 softmax of one row with excluded positions; a fully
// excluded row gives nil.
func refSoftmax(x []float32, add []float32, excl []bool) []float64 {
	mx := math.Inf(-1)
	v := make([]float64, len(x))
	for j := range x {
		v[j] = float64(x[j])
		if add != nil {
			v[j] += float64(add[j])
		}
		if excl != nil && excl[j] {
			v[j] = math.Inf(-1)
		}
		mx = math.Max(mx, v[j])
	}
	if math.IsInf(mx, -1) {
		return nil
	}
	var s float64
	for j := range v {
		s += math.Exp(v[j] - mx)
	}
	for j := range v {
		v[j] = math.Exp(v[j]-mx) / s
	}
	return v
}

func TestSoftmaxForward(t *testing.T) {
	ninf := float32(math.Inf(-1))
	// [2 rows x 3 cols] x 2 batches with a [2,3] additive mask: row 1 of the
	// mask excludes everything.
	src := FromSlice([]float32{1, 2, 3, 0, 0, 0, 1000, 1001, 1002, -5, 4, 2}, 2, 2, 3)
	mask := FromSlice([]float32{0, -1, ninf, ninf, ninf, ninf}, 2, 3)
	sm := Softmax(&Tensor{}, src, mask)
	lsm := LogSoftmax(&Tensor{}, src, mask)
	for r := 0; r < 4; r++ {
		want := refSoftmax(src.Row(r), mask.Row(r%2), nil)
		for j := 0; j < 3; j++ {
			got, lgot := sm.Data[r*3+j], lsm.Data[r*3+j]
			if want == nil || want[j] == 0 {
				assert.Equal(t, float32(0), got, "row %d col %d", r, j)
				assert.True(t, math.IsInf(float64(lgot), -1), "log row %d col %d = %v", r, j, lgot)
				continue
			}
			assert.InDelta(t, want[j], float64(got), 1e-6, "row %d col %d", r, j)
			assert.InDelta(t, math.Log(want[j]), float64(lgot), 1e-5, "log row %d col %d", r, j)
		}
	}
	// Boolean masks: keep of a whole [2,3] period, with a fully dropped row.
	keep := []bool{true, false, true, false, false, false}
	smk := SoftmaxKeep(&Tensor{}, src, keep)
	lsk := LogSoftmaxKeep(&Tensor{}, src, keep)
	for r := 0; r < 4; r++ {
		excl := make([]bool, 3)
		for j := range excl {
			excl[j] = !keep[(r%2)*3+j]
		}
		want := refSoftmax(src.Row(r), nil, excl)
		for j := 0; j < 3; j++ {
			if want == nil || excl[j] {
				assert.Equal(t, float32(0), smk.Data[r*3+j])
				assert.True(t, math.IsInf(float64(lsk.Data[r*3+j]), -1))
				continue
			}
			assert.InDelta(t, want[j], float64(smk.Data[r*3+j]), 1e-6)
			assert.InDelta(t, math.Log(want[j]), float64(lsk.Data[r*3+j]), 1e-5)
		}
	}
	// No mask; in place.
	x := FromSlice([]float32{0, math.Ln2, 0, 0}, 2, 2)
	Softmax(x, x, nil)
	assert.InDeltaSlice(t, []float64{1.0 / 3, 2.0 / 3, 0.5, 0.5}, toF64(x.Data), 1e-6)

	assertShapePanic(t, func() { Softmax(&Tensor{}, src, New(2)) }, "mask not a suffix")
	assertShapePanic(t, func() { Softmax(&Tensor{}, src, New()) }, "scalar mask")
	assertShapePanic(t, func() { SoftmaxKeep(&Tensor{}, src, make([]bool, 5)) }, "keep length")
	assertShapePanic(t, func() { SoftmaxKeep(&Tensor{}, src, []bool{}) }, "empty keep")
}

func toF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func TestSoftmaxBackwardFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	ninf := float32(math.Inf(-1))
	x := randTensor(rng, 3, 5)
	w := randTensor(rng, 3, 5)
	mask := FromSlice([]float32{0, ninf, 0, 0.5, 0}, 5)
	var out Tensor
	for _, tc := range []struct {
		name string
		m    *Tensor
	}{{"nomask", nil}, {"mask", mask}} {
		y := Softmax(&Tensor{}, x, tc.m)
		want := numGrad(x.Data, w.Data, 1e-2, func() []float32 { return Softmax(&out, x, tc.m).Data })
		assertGrad(t, want, SoftmaxBackward(&Tensor{}, y, w).Data, 2e-3, "Softmax "+tc.name)

		ly := LogSoftmax(&Tensor{}, x, tc.m)
		// Finite differences of LogSoftmax skip the -Inf outputs (weight 0):
		// they are constant in x.
		wl := w.Clone()
		for i, v := range ly.Data {
			if math.IsInf(float64(v), -1) {
				wl.Data[i] = 0
			}
		}
		want = numGrad(x.Data, wl.Data, 1e-2, func() []float32 {
			LogSoftmax(&out, x, tc.m)
			for i, v := range out.Data {
				if math.IsInf(float64(v), -1) {
					out.Data[i] = 0
				}
			}
			return out.Data
		})
		// dy at excluded positions is ignored by LogSoftmaxBackward, so the
		// unmodified w must give the same answer as wl.
		assertGrad(t, want, LogSoftmaxBackward(&Tensor{}, ly, w).Data, 2e-3, "LogSoftmax "+tc.name)
	}
	// A fully masked row has zero gradient everywhere.
	full := FromSlice([]float32{ninf, ninf, ninf, ninf, ninf}, 5)
	ly := LogSoftmax(&Tensor{}, x, full)
	assert.Equal(t, make([]float32, 15), LogSoftmaxBackward(&Tensor{}, ly, w).Data)
	y := Softmax(&Tensor{}, x, full)
	assert.Equal(t, make([]float32, 15), SoftmaxBackward(&Tensor{}, y, w).Data)

	assertShapePanic(t, func() { SoftmaxBackward(&Tensor{}, y, New(3, 4)) }, "SoftmaxBackward dy")
	// one row from a longer buffer (backbone's attention): the first len(y)
	// entries of dy, written into the first len(y) of dx, as a row of
	// SoftmaxBackward
	y2 := Softmax(&Tensor{}, x, nil)
	want2 := SoftmaxBackward(&Tensor{}, y2, w)
	buf := append(append([]float32(nil), w.Data[5:10]...), 7, 7)
	SoftmaxBackwardRow(buf, y2.Data[5:10], buf)
	assert.Equal(t, want2.Data[5:10], buf[:5])
	assert.Equal(t, []float32{7, 7}, buf[5:], "beyond the row: untouched")
	assertShapePanic(t, func() { SoftmaxBackwardRow(make([]float32, 5), y2.Data[:5], make([]float32, 4)) }, "SoftmaxBackwardRow dy")
	assertShapePanic(t, func() { SoftmaxBackwardRow(make([]float32, 4), y2.Data[:5], make([]float32, 5)) }, "SoftmaxBackwardRow dx")
	assertShapePanic(t, func() { LogSoftmaxBackward(&Tensor{}, ly, New(2)) }, "LogSoftmaxBackward dy")
}

func TestLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const rows, cols = 4, 7
	x := randTensor(rng, 2, 2, cols)
	for i := range x.Data[:cols] { // one row far from zero mean
		x.Data[i] = 100 + x.Data[i]
	}
	gamma, beta := randSlice(rng, cols), randSlice(rng, cols)
	const eps = 1e-5
	mean, rstd := make([]float32, rows), make([]float32, rows)
	y := LayerNorm(&Tensor{}, x, gamma, beta, eps, mean, rstd)
	for r := 0; r < rows; r++ {
		xr := x.Row(r)
		var mu, v float64
		for _, e := range xr {
			mu += float64(e)
		}
		mu /= cols
		for _, e := range xr {
			v += (float64(e) - mu) * (float64(e) - mu)
		}
		v /= cols
		rs := 1 / math.Sqrt(v+eps)
		assert.InDelta(t, mu, float64(mean[r]), 1e-4*(1+math.Abs(mu)))
		assert.InDelta(t, rs, float64(rstd[r]), 1e-5*rs)
		for j, e := range xr {
			want := (float64(e)-mu)*rs*float64(gamma[j]) + float64(beta[j])
			assert.InDelta(t, want, float64(y.Data[r*cols+j]), 1e-4, "row %d col %d", r, j)
		}
	}
	// No affine part and no statistics.
	y0 := LayerNorm(&Tensor{}, x, nil, nil, eps, nil, nil)
	for r := 0; r < rows; r++ {
		var s float64
		for _, e := range y0.Row(r) {
			s += float64(e)
		}
		assert.InDelta(t, 0, s, 1e-4)
	}

	// Backward vs finite differences for x, gamma and beta.
	w := randTensor(rng, 2, 2, cols)
	var out Tensor
	dgamma, dbeta := make([]float32, cols), make([]float32, cols)
	dx := LayerNormBackward(&Tensor{}, w, x, gamma, mean, rstd, dgamma, dbeta, false)
	// Finite differences on the far-from-zero row need a step that its float32
	// values can resolve; the other rows use the same h.
	fwd := func() []float32 { return LayerNorm(&out, x, gamma, beta, eps, nil, nil).Data }
	assertGrad(t, numGrad(x.Data, w.Data, 1e-2, fwd), dx.Data, 1e-2, "LayerNorm dx")
	assertGrad(t, numGrad(gamma, w.Data, 1e-2, fwd), dgamma, 2e-3, "LayerNorm dgamma")
	assertGrad(t, numGrad(beta, w.Data, 1e-2, fwd), dbeta, 2e-3, "LayerNorm dbeta")
	// Accumulate adds to what is there.
	acc := dx.Clone()
	LayerNormBackward(acc, w, x, gamma, mean, rstd, nil, nil, true)
	for i := range acc.Data {
		assert.InDelta(t, 2*float64(dx.Data[i]), float64(acc.Data[i]), 1e-6)
	}
	// Without gamma.
	m0, r0 := make([]float32, rows), make([]float32, rows)
	LayerNorm(&out, x, nil, nil, eps, m0, r0)
	fwd0 := func() []float32 { return LayerNorm(&out, x, nil, nil, eps, nil, nil).Data }
	assertGrad(t, numGrad(x.Data, w.Data, 1e-2, fwd0), LayerNormBackward(&Tensor{}, w, x, nil, m0, r0, nil, nil, false).Data, 1e-2, "LayerNorm dx no affine")

	assertShapePanic(t, func() { LayerNorm(&Tensor{}, x, make([]float32, 3), nil, eps, nil, nil) }, "gamma")
	assertShapePanic(t, func() { LayerNorm(&Tensor{}, x, nil, nil, eps, make([]float32, 2), nil) }, "mean")
	assertShapePanic(t, func() {
		LayerNormBackward(&Tensor{}, New(3), x, nil, mean, rstd, nil, nil, false)
	}, "dy")
	assertShapePanic(t, func() {
		LayerNormBackward(&Tensor{}, w, x, nil, mean[:1], rstd, nil, nil, false)
	}, "short mean")
	assertShapePanic(t, func() {
		LayerNormBackward(&Tensor{}, w, x, nil, mean, rstd, make([]float32, 2), nil, false)
	}, "dgamma")
}

func TestGatherScatterAdd(t *testing.T) {
	table := FromSlice([]float32{0, 0, 1, 10, 2, 20, 3, 30}, 4, 2)
	idx := []int{3, 1, 3, 0}
	g := Gather(&Tensor{}, table, idx)
	assert.Equal(t, []int{4, 2}, g.Shape)
	assert.Equal(t, []float32{3, 30, 1, 10, 3, 30, 0, 0}, g.Data)
	// A pre-shaped destination ([B, T, d]) keeps its shape.
	g3 := Gather(New(2, 2, 2), table, idx)
	assert.Equal(t, []int{2, 2, 2}, g3.Shape)
	assert.Equal(t, g.Data, g3.Data)

	grad := New(4, 2)
	src := FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 4, 2)
	ScatterAdd(grad, src, idx)
	// Row 3 receives rows 0 and 2 of src (1+5, 2+6); row 1 row 1; row 0 row 3.
	assert.Equal(t, []float32{7, 8, 3, 4, 0, 0, 6, 8}, grad.Data)

	assert.Equal(t, []int{0, 2}, Gather(&Tensor{}, table, nil).Shape, "no indices")
	assertShapePanic(t, func() { Gather(&Tensor{}, table, []int{4}) }, "Gather high")
	assertShapePanic(t, func() { Gather(&Tensor{}, table, []int{-1}) }, "Gather negative")
	assertShapePanic(t, func() { Gather(New(3, 2), table, idx) }, "Gather dst size")
	assertShapePanic(t, func() { ScatterAdd(grad, src, []int{0, 1, 2, 4}) }, "ScatterAdd high")
	assertShapePanic(t, func() { ScatterAdd(grad, src, []int{0, 1}) }, "ScatterAdd count")
}

func TestReductions(t *testing.T) {
	// src[i][j][k] = 100i + 10j + k on a [2,3,4] tensor.
	src := New(2, 3, 4)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 4; k++ {
				src.Data[(i*3+j)*4+k] = float32(100*i + 10*j + k)
			}
		}
	}
	assert.Equal(t, float64(24*(100*0.5+10*1+1.5)), Sum(src))
	// axis 0: 2 terms, sum = 100 + 2(10j + k).
	s0 := SumAxis(&Tensor{}, src, 0)
	assert.Equal(t, []int{3, 4}, s0.Shape)
	s1 := SumAxis(&Tensor{}, src, 1)
	assert.Equal(t, []int{2, 4}, s1.Shape)
	s2 := SumAxis(&Tensor{}, src, 2)
	assert.Equal(t, []int{2, 3}, s2.Shape)
	m1 := MeanAxis(&Tensor{}, src, 1)
	for j := 0; j < 3; j++ {
		for k := 0; k < 4; k++ {
			assert.Equal(t, float32(100+20*j+2*k), s0.Data[j*4+k])
		}
	}
	for i := 0; i < 2; i++ {
		for k := 0; k < 4; k++ {
			assert.Equal(t, float32(300*i+30+3*k), s1.Data[i*4+k])
			assert.Equal(t, float32(100*i+10+k), m1.Data[i*4+k])
		}
		for j := 0; j < 3; j++ {
			assert.Equal(t, float32(400*i+40*j+6), s2.Data[i*3+j])
		}
	}
	// A reused destination is overwritten, not accumulated.
	SumAxis(s2, src, 2)
	assert.Equal(t, float32(6), s2.Data[0])
	// 1-D to scalar.
	v := SumAxis(&Tensor{}, FromSlice([]float32{1, 2, 3}, 3), 0)
	assert.Equal(t, 0, v.Dims())
	assert.Equal(t, []float32{6}, v.Data)
	assert.Equal(t, []float32{2}, MeanAxis(&Tensor{}, FromSlice([]float32{1, 2, 3}, 3), 0).Data)

	assertShapePanic(t, func() { SumAxis(&Tensor{}, src, 3) }, "axis too big")
	assertShapePanic(t, func() { MeanAxis(&Tensor{}, src, -1) }, "negative axis")
	assertShapePanic(t, func() { SumAxis(New(4, 3), src, 1) }, "wrong dst")
}
