package recpca

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The float32-operator solver on Beauty (12,101 x 512 -> 64) agrees with the
// dense float64 one, window-1 graph, λ = 0.3. This is the real-data
// acceptance test that runs by default.
func TestBeautyRandomized32MatchesExact(t *testing.T) {
	b := loadBeauty(t)
	ex, err := Fit(b.x, b.g, Options{Dim: 64, Lambda: 0.3, Solver: SolverExact})
	require.NoError(t, err)
	rz, err := Fit(b.x, b.g, Options{Dim: 64, Lambda: 0.3, Solver: SolverRandomized32})
	require.NoError(t, err)
	require.Equal(t, SolverRandomized32, rz.Stats.Solver)
	ang := principalAngles(ex.W, rz.W)
	t.Logf("largest principal angle %.3g rad; iterations %d residual %.2g; retained %.10f vs exact %.10f", ang[len(ang)-1], rz.Stats.Iterations, rz.Stats.Residual, rz.Stats.RetainedVariance, ex.Stats.RetainedVariance)
	// float32 products stop the iteration near a 1e-5 relative residual;
	// measured 8e-4 rad on this problem (the float64 SolverRandomized
	// meets 1e-4: TestBeautyRandomizedMatchesExact). The objective itself
	// agrees to 1e-6.
	assert.Less(t, ang[len(ang)-1], 5e-3)
	// Measured 4 iterations. Without deflating the locked Ritz vectors in
	// the Chebyshev filter the iteration diverged once vectors locked and
	// ran to MaxIter (300).
	assert.LessOrEqual(t, rz.Stats.Iterations, 30)
	assert.InDelta(t, ex.Stats.RetainedVariance, rz.Stats.RetainedVariance, 1e-6)
	assert.InDelta(t, ex.Stats.GraphTV, rz.Stats.GraphTV, 1e-4*ex.Stats.GraphTV)
	for j, v := range ex.Eigenvalues {
		assert.InDelta(t, v, rz.Eigenvalues[j], 1e-6*ex.Eigenvalues[0], "eigenvalue %d", j)
	}
}

// The float64 scalable solver agrees with the dense one on Beauty to a much
// tighter angle. Long (LLMREC_LONG=1): float64 operator products.
func TestBeautyRandomizedMatchesExact(t *testing.T) {
	longTests(t)
	b := loadBeauty(t)
	ex, err := Fit(b.x, b.g, Options{Dim: 64, Lambda: 0.3, Solver: SolverExact})
	require.NoError(t, err)
	rz, err := Fit(b.x, b.g, Options{Dim: 64, Lambda: 0.3, Solver: SolverRandomized})
	require.NoError(t, err)
	ang := principalAngles(ex.W, rz.W)
	t.Logf("largest principal angle %.3g rad; randomized iterations %d residual %.2g", ang[len(ang)-1], rz.Stats.Iterations, rz.Stats.Residual)
	assert.Less(t, ang[len(ang)-1], 1e-4)
	assert.InDelta(t, ex.Stats.RetainedVariance, rz.Stats.RetainedVariance, 1e-8)
}

// Rec-PCA lowers graph TV below PCA's on Beauty; the table of methods.md §1.4
// is reproduced in the log.
func TestBeautyLambdaSweep(t *testing.T) {
	longTests(t) // several fits of Beauty
	b := loadBeauty(t)
	rng := rand.New(rand.NewPCG(1, 1))
	var prevTV float64 = math.Inf(1)
	for _, lam := range []float64{0.3, 0.6, 0.9, 1.0} {
		p, err := Fit(b.x, b.g, Options{Dim: 64, Lambda: lam})
		require.NoError(t, err)
		s := p.Stats
		al, err := Alignment(b.g, p.Transform(nil, b.x, false), 20000, rng)
		require.NoError(t, err)
		t.Logf("λ=%.1f: TV %.1f vs PCA %.1f (%.3f), TV1 %.1f vs %.1f, retained %.4f vs PCA %.4f, non-positive %d, edge cos %.3f random %.3f",
			lam, s.GraphTV, s.PCAGraphTV, s.GraphTV/s.PCAGraphTV, s.GraphTVL1, s.PCAGraphTVL1, s.RetainedVariance, s.PCARetainedVariance, s.NonPositive, al.EdgeCos, al.RandomCos)
		assert.Less(t, s.GraphTV, s.PCAGraphTV)
		assert.Less(t, s.GraphTV, prevTV, "TV decreases with λ")
		prevTV = s.GraphTV
	}
	p, err := Fit(b.x, b.g, Options{Dim: 64, TargetVariance: 0.8})
	require.NoError(t, err)
	s := p.Stats
	t.Logf("target 0.8 of PCA: λ=%.4f after %d solves, retained %.4f (%.4f of PCA), TV %.1f vs PCA %.1f, non-positive %d",
		s.Lambda, s.LambdaEvals, s.RetainedVariance, s.RetainedVariance/s.PCARetainedVariance, s.GraphTV, s.PCAGraphTV, s.NonPositive)
	assert.InDelta(t, 0.8, s.RetainedVariance/s.PCARetainedVariance, 1e-3)
	assert.Less(t, s.GraphTV, s.PCAGraphTV)
}

func TestBeautyNormsAndAlignment(t *testing.T) {
	b := loadBeauty(t)
	ns, err := ComputeNormStats(b.x)
	require.NoError(t, err)
	t.Logf("norms: %+v", ns)
	assert.Equal(t, 12101, ns.Rows)
	assert.InDelta(t, 1, ns.P50, 0.05, "USE-lite vectors are about unit norm")
	al, err := Alignment(b.g, b.x, 20000, rand.New(rand.NewPCG(2, 2)))
	require.NoError(t, err)
	t.Logf("raw alignment: %+v", al)
	assert.Greater(t, al.EdgeCos, al.RandomCos, "co-consumed items are semantically closer than random pairs")
}
