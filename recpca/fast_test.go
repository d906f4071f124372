package recpca

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The float32 operator's products match a naive float64 X̄·V and X̄ᵀ·U on
// both of its paths: the materialized centred copy and the raw rows with
// centring and row scaling applied algebraically (the path taken above
// maxMaterialize32 elements, forced here on a small matrix).
func TestOp32MatchesFloat64(t *testing.T) {
	x, _ := synth(300, 40, 1, 11)
	n, D, k := 300, 40, 7
	r := rand.New(rand.NewPCG(3, 3))
	v := make([]float64, D*k)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	u := make([]float64, n*k)
	for i := range u {
		u[i] = r.NormFloat64()
	}
	for _, normalize := range []bool{false, true} {
		m := newDesign(x.Data, n, D, normalize, normEps, true, true)
		// Naive float64 reference from the centred rows.
		xb := make([]float64, n*D)
		for i := range n {
			m.row(i, xb[i*D:(i+1)*D])
		}
		wantU := make([]float64, n*k)
		wantY := make([]float64, D*k)
		for i := range n {
			for c := range k {
				var s float64
				for j := range D {
					s += xb[i*D+j] * v[j*k+c]
					wantY[j*k+c] += xb[i*D+j] * u[i*k+c]
				}
				wantU[i*k+c] = s
			}
		}
		for _, alg := range []bool{false, true} {
			o := newOp32(m)
			require.True(t, o.cent)
			if alg {
				o = &op32{m: m, x: m.x[D : (n+1)*D], mean: m.mean}
			}
			gotU := make([]float64, n*k)
			o.mul(gotU, v, k)
			gotY := make([]float64, D*k)
			o.mulT(gotY, u, k)
			scaleU, scaleY := math.Sqrt(sumSq(wantU)/float64(len(wantU))), math.Sqrt(sumSq(wantY)/float64(len(wantY)))
			for i := range wantU {
				require.InDelta(t, wantU[i], gotU[i], 1e-5*scaleU, "normalize %v algebraic %v U[%d]", normalize, alg, i)
			}
			for i := range wantY {
				require.InDelta(t, wantY[i], gotY[i], 1e-5*scaleY, "normalize %v algebraic %v Y[%d]", normalize, alg, i)
			}
		}
	}
}

// SolverRandomized32 finds the naive Rec-PCA subspace on a small problem
// with a clear eigengap.
func TestFitRandomized32(t *testing.T) {
	x, g := synth(400, 96, 3, 12)
	for _, lam := range []float64{0, 0.5} {
		ref := naiveRecPCA(x, g, SymNormalized, lam, 4)
		p, err := Fit(x, g, Options{Dim: 4, Lambda: lam, Oversample: 8, Solver: SolverRandomized32})
		require.NoError(t, err)
		assert.Equal(t, SolverRandomized32, p.Stats.Solver)
		assert.Less(t, maxAngle(ref, p.W), 1e-4, "λ=%v", lam)
		ex, err := Fit(x, g, Options{Dim: 4, Lambda: lam, Solver: SolverExact})
		require.NoError(t, err)
		assert.InDelta(t, ex.Stats.RetainedVariance, p.Stats.RetainedVariance, 1e-7)
	}
}
