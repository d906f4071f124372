package recpca

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/tensor"
)

func TestNormalizeRowsAndStats(t *testing.T) {
	x := tensor.FromSlice([]float32{
		0, 0, // padding
		3, 4, // norm 5
		0, 0, // zero item row
		1, 0, // norm 1
		0, 2, // norm 2
	}, 5, 2)
	st, err := ComputeNormStats(x)
	require.NoError(t, err)
	assert.Equal(t, 4, st.Rows)
	assert.Equal(t, 1, st.ZeroRows)
	assert.Equal(t, 1.0, st.Min)
	assert.Equal(t, 5.0, st.Max)
	assert.Equal(t, 5.0, st.Ratio)
	assert.InDelta(t, 8.0/3, st.Mean, 1e-15)
	// population std of {1,2,5} = sqrt(((5/3)²+(2/3)²+(7/3)²)/3) = sqrt(78/27)
	assert.InDelta(t, math.Sqrt(78.0/27)/(8.0/3), st.CV, 1e-12)
	assert.Equal(t, 2.0, st.P50)
	assert.InDelta(t, 1+0.02*1, st.P1, 1e-12) // position 0.02 between 1 and 2
	assert.InDelta(t, 2+0.9*3, st.P95, 1e-12) // position 1.9 between 2 and 5

	n := NormalizeRows(nil, x, 1e-12)
	assert.Equal(t, []float32{0, 0, 0.6, 0.8, 0, 0, 1, 0, 0, 1}, n.Data)
	NormalizeRows(x, x, 1e-12) // in place
	assert.Equal(t, n.Data, x.Data)

	bad := tensor.FromSlice([]float32{0, 0, float32(math.NaN()), 1}, 2, 2)
	_, err = ComputeNormStats(bad)
	assert.ErrorContains(t, err, "row 1")
}

func TestGraphTVAndAlignment(t *testing.T) {
	// Items 1..4 in 2-D; edges 1-2 (w 2) and 3-4 (w 1).
	z := tensor.FromSlice([]float32{0, 0, 1, 0, 0, 1, 1, 1, 3, 4}, 5, 2)
	g, err := NewGraph(4, []Edge{{1, 2, 2}, {3, 4, 1}})
	require.NoError(t, err)
	tv, err := GraphTV(g, z)
	require.NoError(t, err)
	// ||z1−z2||² = 2, ||z3−z4||² = 4+9 = 13.
	assert.InDelta(t, 2*2+13, tv.Quadratic, 1e-12)
	assert.InDelta(t, 2*math.Sqrt(2)+math.Sqrt(13), tv.L1, 1e-12)

	al, err := Alignment(g, z, 1000, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	c12 := 0.0                          // (1,0)·(0,1)
	c34 := (3 + 4) / (math.Sqrt(2) * 5) // (1,1)·(3,4)
	assert.InDelta(t, (c12+c34)/2, al.EdgeCos, 1e-12)
	assert.InDelta(t, (2*c12+c34)/3, al.EdgeCosWeighted, 1e-12)
	assert.Equal(t, 2, al.Edges)
	assert.Equal(t, 1000, al.RandomPairs)
	// Mean cosine over the 6 distinct unordered pairs, which random pairs
	// sample uniformly.
	rows := [][2]float64{{1, 0}, {0, 1}, {1, 1}, {3, 4}}
	var all float64
	for i := range 4 {
		for j := i + 1; j < 4; j++ {
			a, b := rows[i], rows[j]
			all += (a[0]*b[0] + a[1]*b[1]) / math.Hypot(a[0], a[1]) / math.Hypot(b[0], b[1])
		}
	}
	assert.InDelta(t, all/6, al.RandomCos, 0.03)
	assert.InDelta(t, al.EdgeCos-al.RandomCos, al.Gap, 1e-15)
}

func TestCurvatureTwoItems(t *testing.T) {
	// Two items: Cov_p(e) = p1·p2·(e1−e2)(e1−e2)ᵀ, rank 1.
	e := tensor.FromSlice([]float32{0, 0, 1, 0, 0, 2}, 3, 2)
	h := tensor.FromSlice([]float32{0.3, 0.1}, 1, 2)
	// logits ⟨h,e1⟩ = 0.3 and ⟨h,e2⟩ = 0.2, with h's float32 rounding.
	l1, l2 := float64(float32(0.3)), 2*float64(float32(0.1))
	p1 := 1 / (1 + math.Exp(l2-l1))
	want := p1 * (1 - p1) * 5 // ||(1,−2)||² = 5
	for _, per := range []bool{false, true} {
		st, err := Curvature(h, e, CurvatureOptions{PerSequence: per})
		require.NoError(t, err)
		assert.InDelta(t, want, st.Mean.Max, 1e-12)
		assert.InDelta(t, 0, st.Mean.Min, 1e-12)
		assert.True(t, math.IsInf(st.Mean.Cond, 1))
		assert.Equal(t, 1, st.Mean.Rank)
		if per {
			require.Len(t, st.PerSequence, 1)
			assert.InDelta(t, want, st.PerSequence[0].Max, 1e-6)
		}
	}
}

// naiveHessian is Σ p e eᵀ − μμᵀ in float64.
func naiveHessian(h []float64, e [][]float64) *mat.SymDense {
	d := len(h)
	z := make([]float64, len(e))
	mx := math.Inf(-1)
	for i, ei := range e {
		for j := range d {
			z[i] += h[j] * ei[j]
		}
		mx = math.Max(mx, z[i])
	}
	var s float64
	for i := range z {
		z[i] = math.Exp(z[i] - mx)
		s += z[i]
	}
	mu := make([]float64, d)
	for i, ei := range e {
		for j := range d {
			mu[j] += z[i] / s * ei[j]
		}
	}
	out := mat.NewSymDense(d, nil)
	for a := range d {
		for b := a; b < d; b++ {
			var v float64
			for i, ei := range e {
				v += z[i] / s * ei[a] * ei[b]
			}
			out.SetSym(a, b, v-mu[a]*mu[b])
		}
	}
	return out
}

func TestCurvatureMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const n, d, B = 50, 4, 3
	e := tensor.New(n+1, d)
	e64 := make([][]float64, n)
	for i := range n {
		e64[i] = make([]float64, d)
		for j := range d {
			v := r.NormFloat64()
			e.Row(i + 1)[j] = float32(v)
			e64[i][j] = float64(float32(v))
		}
	}
	h := tensor.New(B, d)
	avg := mat.NewSymDense(d, nil)
	var perMax []float64
	for b := range B {
		hb := make([]float64, d)
		for j := range d {
			hb[j] = float64(float32(r.NormFloat64()))
			h.Row(b)[j] = float32(hb[j])
		}
		hs := naiveHessian(hb, e64)
		avg.AddSym(avg, hs)
		var es mat.EigenSym
		require.True(t, es.Factorize(hs, false))
		v := es.Values(nil)
		perMax = append(perMax, v[d-1])
	}
	avg.ScaleSym(1.0/B, avg)
	var es mat.EigenSym
	require.True(t, es.Factorize(avg, false))
	want := es.Values(nil)
	st, err := Curvature(h, e, CurvatureOptions{PerSequence: true, K: 2})
	require.NoError(t, err)
	assert.InDelta(t, want[d-1], st.Mean.Max, 1e-10)
	assert.InDelta(t, want[0], st.Mean.Min, 1e-10)
	assert.InDelta(t, want[d-1]/want[0], st.Mean.Cond, 1e-6*st.Mean.Cond)
	assert.InDelta(t, want[d-1]/want[d-2], st.Mean.CondK, 1e-6*st.Mean.CondK)
	for b := range B {
		assert.InDelta(t, perMax[b], st.PerSequence[b].Max, 1e-5)
	}
	_, err = Curvature(tensor.New(2, 3), e, CurvatureOptions{})
	assert.Error(t, err)
}

func TestCurvatureNormalizationLowersCondition(t *testing.T) {
	// Random directions with log-normal norms (σ = 1): a large norm
	// disparity, as in LLM item tables.
	r := rand.New(rand.NewPCG(5, 5))
	const n, d, B = 2000, 16, 32
	e := tensor.New(n+1, d)
	for i := 1; i <= n; i++ {
		row := e.Row(i)
		for j := range row {
			row[j] = float32(r.NormFloat64())
		}
		s := math.Exp(r.NormFloat64()) / math.Sqrt(sumSq32(row))
		for j := range row {
			row[j] *= float32(s)
		}
	}
	h := tensor.New(B, d)
	for i := range h.Data {
		h.Data[i] = float32(r.NormFloat64())
	}
	raw, err := Curvature(h, e, CurvatureOptions{PerSequence: true})
	require.NoError(t, err)
	ns, _ := ComputeNormStats(e)
	norm, err := Curvature(h, NormalizeRows(nil, e, 1e-12), CurvatureOptions{PerSequence: true})
	require.NoError(t, err)
	t.Logf("norm ratio %.1f; median cond raw %.1f normalized %.1f; mean-Hessian cond raw %.1f normalized %.1f",
		ns.Ratio, raw.MedianCond, norm.MedianCond, raw.Mean.Cond, norm.Mean.Cond)
	assert.Less(t, norm.MedianCond, raw.MedianCond)
	assert.Less(t, norm.Mean.Cond, raw.Mean.Cond)
	assert.LessOrEqual(t, norm.Mean.Max, 1.0) // ||e|| = 1 ⇒ λmax ≤ 1
}
