package recpca

import (
	"bytes"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/tensor"
)

// synth returns an item matrix [n+1, D] (row 0 zero) with decaying column
// scales and a random graph whose edges prefer items close in the first
// coordinates, so the penalty has something to act on.
func synth(n, D, deg int, seed uint64) (*tensor.Tensor, *Graph) {
	r := rand.New(rand.NewPCG(seed, 7))
	x := tensor.New(n+1, D)
	for i := 1; i <= n; i++ {
		row := x.Row(i)
		for j := range row {
			row[j] = float32(r.NormFloat64()*math.Pow(0.85, float64(j)) + 0.3)
		}
	}
	var edges []Edge
	for i := 1; i <= n; i++ {
		for range deg {
			j := 1 + r.IntN(n)
			if i != j {
				edges = append(edges, Edge{I: i, J: j, W: float64(1 + r.IntN(3))})
			}
		}
	}
	g, err := NewGraph(n, edges)
	if err != nil {
		panic(err)
	}
	return x, g
}

// centred returns X̄ (items 1..n) in float64.
func centred(x *tensor.Tensor) *mat.Dense {
	n, D := x.Rows()-1, x.Cols()
	a := mat.NewDense(n, D, nil)
	for i := range n {
		for j := range D {
			a.Set(i, j, float64(x.Row(i + 1)[j]))
		}
	}
	for j := range D {
		var m float64
		for i := range n {
			m += a.At(i, j)
		}
		m /= float64(n)
		for i := range n {
			a.Set(i, j, a.At(i, j)-m)
		}
	}
	return a
}

// naiveRecPCA forms M densely (dense L over items) and returns its top-d
// eigenvectors: an independent float64 reference.
func naiveRecPCA(x *tensor.Tensor, g *Graph, kind LaplacianKind, lambda float64, d int) *mat.Dense {
	xb := centred(x)
	n, D := xb.Dims()
	lfull := denseLaplacian(g, kind)
	l := lfull.Slice(1, n+1, 1, n+1)
	var c, lx, gm mat.Dense
	c.Mul(xb.T(), xb)
	lx.Mul(l, xb)
	gm.Mul(xb.T(), &lx)
	trC, trG := mat.Trace(&c), mat.Trace(&gm)
	m := mat.NewSymDense(D, nil)
	for i := range D {
		for j := i; j < D; j++ {
			m.SetSym(i, j, c.At(i, j)/trC-lambda*(gm.At(i, j)+gm.At(j, i))/2/trG)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(m, true) {
		panic("eig")
	}
	var v mat.Dense
	es.VectorsTo(&v)
	return mat.DenseCopyOf(v.Slice(0, D, D-d, D))
}

func maxAngle(a, b *mat.Dense) float64 {
	ang := principalAngles(a, b)
	return ang[len(ang)-1]
}

func TestFitLambdaZeroIsPCA(t *testing.T) {
	x, g := synth(300, 24, 4, 1)
	// PCA subspace from the SVD of X̄ (float64).
	var svd mat.SVD
	require.True(t, svd.Factorize(centred(x), mat.SVDThin))
	var v mat.Dense
	svd.VTo(&v)
	const d = 5
	ref := mat.DenseCopyOf(v.Slice(0, 24, 0, d))
	for _, s := range []Solver{SolverExact, SolverRandomized} {
		p, err := Fit(x, g, Options{Dim: d, Solver: s})
		require.NoError(t, err)
		assert.Less(t, maxAngle(ref, p.W), 1e-6, "solver %v", s)
		assert.Equal(t, s, p.Stats.Solver)
		assert.InDelta(t, p.Stats.PCARetainedVariance, p.Stats.RetainedVariance, 1e-12)
		// Retained variance = Σ top-d σ² / Σ σ².
		sv := svd.Values(nil)
		var top, all float64
		for i, s := range sv {
			all += s * s
			if i < d {
				top += s * s
			}
		}
		assert.InDelta(t, top/all, p.Stats.RetainedVariance, 1e-9)
	}
}

func TestFitMatchesNaive(t *testing.T) {
	x, g := synth(200, 16, 3, 2)
	for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
		for _, lam := range []float64{0.5, 2} {
			ref := naiveRecPCA(x, g, kind, lam, 4)
			for _, s := range []Solver{SolverExact, SolverRandomized} {
				p, err := Fit(x, g, Options{Dim: 4, Lambda: lam, Laplacian: kind, Solver: s, Tol: 1e-10})
				require.NoError(t, err)
				assert.Less(t, maxAngle(ref, p.W), 1e-6, "%v λ=%v %v", kind, lam, s)
				assert.Less(t, p.Stats.GraphTV, p.Stats.PCAGraphTV, "%v λ=%v %v", kind, lam, s)
			}
		}
	}
}

func TestFitBetaAndTarget(t *testing.T) {
	x, g := synth(200, 16, 3, 3)
	pl, err := Fit(x, g, Options{Dim: 4, Lambda: 1})
	require.NoError(t, err)
	pb, err := Fit(x, g, Options{Dim: 4, Beta: 0.5})
	require.NoError(t, err)
	assert.InDelta(t, 1.0, pb.Stats.Lambda, 1e-15)
	assert.Less(t, maxAngle(pl.W, pb.W), 1e-9)

	pt, err := Fit(x, g, Options{Dim: 4, TargetVariance: 0.8})
	require.NoError(t, err)
	assert.InDelta(t, 0.8, pt.Stats.RetainedVariance/pt.Stats.PCARetainedVariance, 2e-3)
	assert.Greater(t, pt.Stats.Lambda, 0.0)
	assert.Greater(t, pt.Stats.LambdaEvals, 1)
}

// synthClusters returns items in k clusters whose centroids differ only in
// low-variance coordinates, and a graph of mostly within-cluster edges plus a
// few cross-cluster ones (the outliers an ℓ1 penalty tolerates).
func synthClusters(n, D, k int, seed uint64) (*tensor.Tensor, *Graph) {
	r := rand.New(rand.NewPCG(seed, 9))
	cent := make([][]float64, k)
	for c := range cent {
		cent[c] = make([]float64, D)
		for j := D / 2; j < D; j++ {
			cent[c][j] = r.NormFloat64() * 0.6
		}
	}
	x := tensor.New(n+1, D)
	lab := make([]int, n+1)
	for i := 1; i <= n; i++ {
		lab[i] = r.IntN(k)
		for j := range D {
			x.Row(i)[j] = float32(r.NormFloat64()*math.Pow(0.8, float64(j)) + cent[lab[i]][j])
		}
	}
	var edges []Edge
	for i := 1; i <= n; i++ {
		for range 4 {
			j := 1 + r.IntN(n)
			if r.Float64() < 0.85 {
				for lab[j] != lab[i] {
					j = 1 + r.IntN(n)
				}
			}
			if j != i {
				edges = append(edges, Edge{I: i, J: j, W: 1})
			}
		}
	}
	g, err := NewGraph(n, edges)
	if err != nil {
		panic(err)
	}
	return x, g
}

func TestFitL1IRLS(t *testing.T) {
	x, g := synthClusters(300, 20, 6, 4)
	for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
		q, err := Fit(x, g, Options{Dim: 3, Lambda: 0.5, Laplacian: kind})
		require.NoError(t, err)
		l1, err := Fit(x, g, Options{Dim: 3, Lambda: 0.5, Laplacian: kind, TV: TVL1})
		require.NoError(t, err)
		t.Logf("%v: ℓ1 TV quadratic %.2f, IRLS %.2f (PCA %.2f); retained %.3f vs %.3f", kind, q.Stats.GraphTVL1, l1.Stats.GraphTVL1, q.Stats.PCAGraphTVL1, q.Stats.RetainedVariance, l1.Stats.RetainedVariance)
		assert.Equal(t, 8, l1.Stats.IRLSIters)
		assert.Less(t, l1.Stats.GraphTVL1, q.Stats.GraphTVL1, "%v", kind)
	}
}

func TestFitOptionsAndTransform(t *testing.T) {
	x, g := synth(100, 10, 3, 5)
	p, err := Fit(x, g, Options{Dim: 3, Lambda: 0.3, NormalizeInput: true, Whiten: true})
	require.NoError(t, err)
	z := p.Transform(nil, x, false)
	require.Equal(t, []int{101, 3}, z.Shape)
	assert.Equal(t, []float32{0, 0, 0}, z.Row(0))
	// Whitened: every coordinate has unit variance over items (mean 0).
	for j := range 3 {
		var s, ss float64
		for i := 1; i <= 100; i++ {
			v := float64(z.Row(i)[j])
			s += v
			ss += v * v
		}
		assert.InDelta(t, 0, s/100, 1e-5)
		assert.InDelta(t, 1, ss/100, 1e-4)
	}
	zn := p.Transform(nil, x, true)
	for i := 1; i <= 100; i++ {
		assert.InDelta(t, 1, math.Sqrt(sumSq32(zn.Row(i))), 1e-5)
	}
	// Transform is (x/||x|| − Mean)·W, checked by hand for one row.
	r := x.Row(7)
	nr := math.Sqrt(sumSq32(r))
	for j := range 3 {
		var want float64
		for k := range 10 {
			want += (float64(r[k])/nr - p.Mean[k]) * p.W.At(k, j)
		}
		assert.InDelta(t, want, float64(z.Row(7)[j]), 1e-5)
	}
	assert.Panics(t, func() { p.Transform(nil, tensor.New(3, 4), false) })

	// No centring: Mean is zero.
	pn, err := Fit(x, nil, Options{Dim: 2, NoCenter: true})
	require.NoError(t, err)
	assert.Equal(t, make([]float64, 10), pn.Mean)
}

func TestFitErrors(t *testing.T) {
	x, g := synth(20, 6, 2, 6)
	_, err := Fit(x, g, Options{Dim: 7})
	assert.ErrorContains(t, err, "d = 7")
	small, _ := synth(3, 6, 1, 6)
	_, err = Fit(small, nil, Options{Dim: 4})
	assert.ErrorContains(t, err, "NumItems=3")
	_, err = Fit(x, nil, Options{Dim: 2, Lambda: 0.5})
	assert.ErrorIs(t, err, ErrEmptyGraph)
	empty, _ := NewGraph(20, nil)
	_, err = Fit(x, empty, Options{Dim: 2, TargetVariance: 0.9})
	assert.ErrorIs(t, err, ErrEmptyGraph)
	_, g2 := synth(21, 6, 2, 6)
	_, err = Fit(x, g2, Options{Dim: 2})
	assert.ErrorContains(t, err, "graph has 21 items, item matrix has 20")
	bad := x.Clone()
	bad.Row(5)[2] = float32(math.NaN())
	_, err = Fit(bad, g, Options{Dim: 2})
	assert.ErrorContains(t, err, "row 5 column 2")
	bad.Row(5)[2] = float32(math.Inf(1))
	_, err = Fit(bad, g, Options{Dim: 2})
	assert.ErrorContains(t, err, "row 5 column 2")
	_, err = Fit(x, g, Options{Dim: 2, Beta: 1})
	assert.Error(t, err)
}

func TestFitWarnsOnNonPositive(t *testing.T) {
	x, g := synth(200, 16, 3, 8)
	var buf bytes.Buffer
	p, err := Fit(x, g, Options{Dim: 12, Lambda: 20, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	require.Greater(t, p.Stats.NonPositive, 0)
	n := 0
	for _, v := range p.Eigenvalues {
		if v <= 0 {
			n++
		}
	}
	assert.Equal(t, n, p.Stats.NonPositive)
	assert.Contains(t, buf.String(), "not positive")
}
