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

// knownSpectrum returns n items in D dimensions, X = Z·diag(σ)·Vᵀ with Z
// standard normal (n x D), V a random orthogonal D x D matrix and σ_j =
// 1/(1 + j/4): the covariance's eigenvectors are V's columns (up to the
// sampling of Z, which a large n makes small but not zero), so the
// reference is PCA of the float64 matrix by SVD, and V's top columns are
// checked loosely.
func knownSpectrum(n, D int, seed uint64) (*tensor.Tensor, *mat.Dense) {
	r := rand.New(rand.NewPCG(seed, 11))
	g := make([]float64, D*D)
	for i := range g {
		g[i] = r.NormFloat64()
	}
	orthonormalize(g, D, D)
	v := mat.NewDense(D, D, g)
	x := tensor.New(n+1, D)
	z := make([]float64, D)
	for i := 1; i <= n; i++ {
		for j := range z {
			z[j] = r.NormFloat64() / (1 + float64(j)/4)
		}
		row := x.Row(i)
		for c := range D {
			var s float64
			for j := range D {
				s += v.At(c, j) * z[j]
			}
			row[c] = float32(s)
		}
	}
	return x, v
}

// SolverKrylov32 finds the PCA subspace of a matrix with a known spectrum
// (float64 SVD of the same matrix as the reference; Tol below the float32
// floor: iterations until the residual stalls, then the float64 polish),
// and Rec-PCA's subspace on a graph problem as the exact solver does.
func TestKrylov32KnownAnswer(t *testing.T) {
	const n, D, d = 2000, 96, 6
	x, v := knownSpectrum(n, D, 1)
	var svd mat.SVD
	require.True(t, svd.Factorize(centred(x), mat.SVDThin))
	var vt mat.Dense
	svd.VTo(&vt)
	ref := mat.DenseCopyOf(vt.Slice(0, D, 0, d))
	p, err := Fit(x, nil, Options{Dim: d, Solver: SolverKrylov32, Tol: 1e-9})
	require.NoError(t, err)
	assert.Equal(t, SolverKrylov32, p.Stats.Solver)
	ang := maxAngle(ref, p.W)
	t.Logf("PCA: %d steps, residual %.2g, largest principal angle to the SVD %.3g rad, to the generating V %.3g rad",
		p.Stats.Iterations, p.Stats.Residual, ang, maxAngle(mat.DenseCopyOf(v.Slice(0, D, 0, d)), p.W))
	assert.Less(t, ang, 1e-6)
	assert.Less(t, maxAngle(mat.DenseCopyOf(v.Slice(0, D, 0, d)), p.W), 0.2, "the sample covariance's top directions are near V's")
	sv := svd.Values(nil)
	var top, all float64
	for i, s := range sv {
		all += s * s
		if i < d {
			top += s * s
		}
	}
	assert.InDelta(t, top/all, p.Stats.RetainedVariance, 1e-6)

	// D = 32, d = 4: a basis of at most two 12-column blocks, so the
	// solver restarts at every other step.
	xs, _ := knownSpectrum(500, 32, 2)
	var svd2 mat.SVD
	require.True(t, svd2.Factorize(centred(xs), mat.SVDThin))
	var vt2 mat.Dense
	svd2.VTo(&vt2)
	ps, err := Fit(xs, nil, Options{Dim: 4, Solver: SolverKrylov32, Tol: 1e-9})
	require.NoError(t, err)
	t.Logf("D = 32 with restarts: %d steps, largest principal angle to the SVD %.3g rad", ps.Stats.Iterations, maxAngle(mat.DenseCopyOf(vt2.Slice(0, 32, 0, 4)), ps.W))
	assert.Less(t, maxAngle(mat.DenseCopyOf(vt2.Slice(0, 32, 0, 4)), ps.W), 1e-6)
	assert.Less(t, ps.Stats.Iterations, 40)

	xg, g := synth(1500, 40, 4, 3)
	for _, lam := range []float64{0.3, 0.8} {
		ex, err := Fit(xg, g, Options{Dim: 5, Lambda: lam, Solver: SolverExact})
		require.NoError(t, err)
		kr, err := Fit(xg, g, Options{Dim: 5, Lambda: lam, Solver: SolverKrylov32, Tol: 1e-9})
		require.NoError(t, err)
		a := maxAngle(ex.W, kr.W)
		t.Logf("λ = %v: %d steps, largest principal angle to the exact solver %.3g rad", lam, kr.Stats.Iterations, a)
		assert.Less(t, a, 1e-6)
		assert.InDelta(t, ex.Stats.RetainedVariance, kr.Stats.RetainedVariance, 1e-9)
	}
	// Target variance through the bisection's warm starts.
	ex, err := Fit(xg, g, Options{Dim: 5, TargetVariance: 0.9, Solver: SolverExact})
	require.NoError(t, err)
	kr, err := Fit(xg, g, Options{Dim: 5, TargetVariance: 0.9, Solver: SolverKrylov32, Tol: 1e-9})
	require.NoError(t, err)
	assert.InDelta(t, ex.Stats.Lambda, kr.Stats.Lambda, 1e-3*ex.Stats.Lambda)
	assert.Less(t, maxAngle(ex.W, kr.W), 1e-3)
}

// On Beauty (12,101 x 512 -> 64) SolverKrylov32 against the exact solver:
// at Tol 1e-5 (float32 products only) and at Tol 1e-9 (iterate to the float32
// floor, then the float64 polish), at λ = 0, 0.3 and 0.9 (the edge of the
// useful band, where SolverRandomized32 stops 0.26 rad away). Long.
func TestKrylov32Beauty(t *testing.T) {
	longTests(t)
	b := loadBeauty(t)
	for _, c := range []struct {
		lambda, tol, maxAngle float64
	}{{0, 1e-5, 1e-2}, {0.3, 1e-5, 1e-2}, {0.3, 1e-9, 1e-6}, {0.9, 1e-9, 1e-5}} {
		ex, err := Fit(b.x, b.g, Options{Dim: 64, Lambda: c.lambda, Solver: SolverExact})
		require.NoError(t, err)
		kr, err := Fit(b.x, b.g, Options{Dim: 64, Lambda: c.lambda, Solver: SolverKrylov32, Tol: c.tol})
		require.NoError(t, err)
		ang := principalAngles(ex.W, kr.W)
		t.Logf("λ = %v, Tol %g: %d steps, residual %.2g, largest principal angle to exact %.3g rad, retained %.8f vs %.8f",
			c.lambda, c.tol, kr.Stats.Iterations, kr.Stats.Residual, ang[len(ang)-1], kr.Stats.RetainedVariance, ex.Stats.RetainedVariance)
		assert.Less(t, ang[len(ang)-1], c.maxAngle)
		assert.InDelta(t, ex.Stats.RetainedVariance, kr.Stats.RetainedVariance, 1e-4)
		assert.False(t, math.IsNaN(kr.Stats.Residual))
	}
}

// Beauty (λ = 0.9, graph included) with the exact solver and with
// SolverKrylov32 at Tol 1e-9 (float32 passes to the floor, float64 polish),
// side by side.
func BenchmarkFitBeautyKrylov32(b *testing.B) {
	d := loadBeauty(b)
	for _, s := range []Solver{SolverExact, SolverKrylov32} {
		b.Run(s.String(), func(b *testing.B) {
			for b.Loop() {
				g, err := BuildGraph(d.seqs, d.x.Rows()-1, GraphOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Fit(d.x, g, Options{Dim: 64, Lambda: 0.9, Solver: s, Tol: 1e-9}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// At Tol ≥ 1e-5 SolverKrylov32 reports the statistics from X̄Q·S kept from
// its steps instead of a final pass over X̄: they equal the statistics of
// the returned W projected in float64, with and without restarts.
func TestKrylov32StatsFromBasis(t *testing.T) {
	xa, ga := synth(1500, 40, 4, 5)
	xb0, _ := knownSpectrum(500, 32, 2)
	_, gb := synth(500, 32, 4, 5)
	for _, c := range []struct {
		x      *tensor.Tensor
		g      *Graph
		d      int
		lambda float64
	}{{xa, ga, 5, 0.5}, {xb0, gb, 4, 0}} { // the second restarts (two 12-column blocks)
		p, err := Fit(c.x, c.g, Options{Dim: c.d, Lambda: c.lambda, Solver: SolverKrylov32, Tol: 1e-5})
		require.NoError(t, err)
		var z mat.Dense
		xb := centred(c.x)
		z.Mul(xb, p.W)
		var zz, all float64
		for _, v := range z.RawMatrix().Data {
			zz += v * v
		}
		for _, v := range xb.RawMatrix().Data {
			all += v * v
		}
		tv2, _ := tvRows(c.g, z.RawMatrix().Data, c.d, 1)
		t.Logf("D = %d, λ = %v: %d steps; retained %.9f vs %.9f, TV %.6g vs %.6g", c.x.Cols(), c.lambda, p.Stats.Iterations, p.Stats.RetainedVariance, zz/all, p.Stats.GraphTV, tv2)
		assert.InDelta(t, zz/all, p.Stats.RetainedVariance, 1e-6)
		assert.InDelta(t, tv2, p.Stats.GraphTV, 1e-5*tv2)
	}
}
