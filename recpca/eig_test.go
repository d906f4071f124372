package recpca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// symWithSpectrum returns Q·diag(s)·Qᵀ (n x n, full, exactly symmetric) for
// a random orthogonal Q and s_i = spec(i).
func symWithSpectrum(r *rand.Rand, n int, spec func(i int) float64) []float64 {
	g := make([]float64, n*n)
	for i := range g {
		g[i] = r.NormFloat64()
	}
	var qr mat.QR
	qr.Factorize(mat.NewDense(n, n, g))
	var q mat.Dense
	qr.QTo(&q)
	qs := mat.DenseCopyOf(&q)
	for j := range n {
		s := spec(j)
		for i := range n {
			qs.Set(i, j, qs.At(i, j)*s)
		}
	}
	var a mat.Dense
	a.Mul(qs, q.T())
	out := a.RawMatrix().Data
	for i := range n {
		for j := i + 1; j < n; j++ {
			s := (out[i*n+j] + out[j*n+i]) / 2
			out[i*n+j], out[j*n+i] = s, s
		}
	}
	return out
}

// randomSym returns a symmetric n x n matrix with independent N(0, 1)
// entries on and above the diagonal (a spectrum with no structure).
func randomSym(r *rand.Rand, n int) []float64 {
	a := make([]float64, n*n)
	for i := range n {
		for j := i; j < n; j++ {
			v := r.NormFloat64()
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	return a
}

// decayingSpectrum is a spectrum shaped like Beauty's normalized Gram matrix
// C/trC: a few large eigenvalues, then a slowly decaying tail summing to ~1.
func decayingSpectrum(n int) func(i int) float64 {
	return func(i int) float64 {
		return 0.3*math.Pow(0.5, float64(i)) + 0.7/float64(n)*math.Pow(float64(i+1), -0.6)*2
	}
}

// checkTopEig compares topEigTridiag (which must not need the dsyev
// fallback) with gonum's dsyev on a: eigenvalues, the residuals
// ||A·w_j − θ_j·w_j|| recomputed here, orthonormality, and the principal
// angles between the two d-dimensional subspaces when the d-th eigenvalue
// is separated from the (d+1)-th by more than 1e-6·||A||.
func checkTopEig(t *testing.T, name string, a []float64, n, d int) {
	t.Helper()
	orig := slices.Clone(a)
	vals, w, ok := topEigTridiag(a, n, d)
	require.True(t, ok, "%s: fast path fell back", name)
	require.Equal(t, orig, a, "%s: a modified", name)
	all, ok := symEig(slices.Clone(a), n)
	require.True(t, ok)
	slices.Reverse(all)
	var anorm float64
	for _, v := range all {
		anorm = math.Max(anorm, math.Abs(v))
	}
	if anorm == 0 {
		anorm = 1
	}
	for j := range d {
		assert.InDelta(t, all[j], vals[j], 1e-12*anorm, "%s: eigenvalue %d", name, j)
	}
	am := mat.NewDense(n, n, orig)
	wm := mat.NewDense(n, d, w)
	var aw mat.Dense
	aw.Mul(am, wm)
	for j := range d {
		var r float64
		for i := range n {
			e := aw.At(i, j) - vals[j]*w[i*d+j]
			r += e * e
		}
		assert.Less(t, math.Sqrt(r), 1e-12*anorm*math.Sqrt(float64(n)), "%s: residual %d", name, j)
	}
	assertOrthonormal(t, wm, 1e-12, name)
	if d < n && all[d-1]-all[d] > 1e-6*anorm {
		_, rw, ok := topEigFull(slices.Clone(a), n, d)
		require.True(t, ok)
		ang := principalAngles(mat.NewDense(n, d, rw), wm)
		gap := (all[d-1] - all[d]) / anorm
		assert.Less(t, ang[d-1], 1e-13/gap, "%s: largest principal angle (relative gap %.2g)", name, gap)
	}
}

// The blocked tridiagonal path agrees with dsyev on random, decaying,
// clustered, repeated, low-rank, negative and indefinite spectra, for sizes
// below, at and around multiples of the panel widths eigPanel and wyBlock.
func TestTopEigTridiagMatchesDsyev(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 4))
	for _, n := range []int{3, 4, 7, 15, 16, 17, 31, 32, 33, 64, 65, 97, 130, 200} {
		d := max(1, min(n/2, n/5+1))
		spectra := map[string]func(i int) float64{
			"decaying":  decayingSpectrum(n),
			"clustered": func(i int) float64 { return 1 - 1e-10*float64(i%3) - float64(i/3)*0.02 },
			"repeated":  func(i int) float64 { return float64(3 - min(i/5, 3)) },
			"low-rank":  func(i int) float64 { return float64(max(0, d/2+1-i)) },
			"negative":  func(i int) float64 { return -1 - float64(i)*float64(i)/float64(n) },
			"indefinite": func(i int) float64 {
				return 0.5 - float64(i)/float64(n)
			},
		}
		for _, name := range []string{"decaying", "clustered", "repeated", "low-rank", "negative", "indefinite"} {
			a := symWithSpectrum(r, n, spectra[name])
			checkTopEig(t, fmt.Sprintf("%s n=%d d=%d", name, n, d), a, n, d)
		}
		checkTopEig(t, fmt.Sprintf("random n=%d d=%d", n, d), randomSym(r, n), n, d)
	}
}

// tridiagonalize and applyReflectors, checked on their own: with Q the
// result of applyReflectors on the identity, QᵀQ = I and QᵀAQ is the
// tridiagonal matrix (td, te), entry by entry.
func TestTridiagonalizeFactorization(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 14))
	for _, n := range []int{2, 3, 5, 32, 33, 70, 129} {
		a := randomSym(r, n)
		work := slices.Clone(a)
		td, te, tau := make([]float64, n), make([]float64, n-1), make([]float64, n-1)
		tridiagonalize(work, n, td, te, tau)
		q := make([]float64, n*n)
		for i := range n {
			q[i*n+i] = 1
		}
		applyReflectors(work, n, tau, q, n)
		qm, am := mat.NewDense(n, n, q), mat.NewDense(n, n, a)
		var qtq, aq, qtaq mat.Dense
		qtq.Mul(qm.T(), qm)
		aq.Mul(am, qm)
		qtaq.Mul(qm.T(), &aq)
		scale := math.Sqrt(float64(n)) * 4
		for i := range n {
			for j := range n {
				wantI, wantT := 0.0, 0.0
				switch {
				case i == j:
					wantI, wantT = 1, td[i]
				case j == i+1:
					wantT = te[i]
				case i == j+1:
					wantT = te[j]
				}
				require.InDelta(t, wantI, qtq.At(i, j), 1e-13, "n=%d QᵀQ[%d,%d]", n, i, j)
				require.InDelta(t, wantT, qtaq.At(i, j), 1e-13*scale, "n=%d QᵀAQ[%d,%d]", n, i, j)
			}
		}
	}
}

// The dispatcher: tiny or wide requests go to dsyev and still agree; a is
// never modified.
func TestTopEigSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct{ n, d int }{{1, 1}, {2, 1}, {2, 2}, {3, 1}, {4, 3}, {6, 3}} {
		a := randomSym(r, c.n)
		orig := slices.Clone(a)
		vals, w, ok := topEig(a, c.n, c.d)
		require.True(t, ok)
		require.Equal(t, orig, a)
		rv, _, ok := topEigFull(slices.Clone(a), c.n, c.d)
		require.True(t, ok)
		for j := range c.d {
			assert.InDelta(t, rv[j], vals[j], 1e-12, "n=%d d=%d eigenvalue %d", c.n, c.d, j)
			var res float64
			for i := range c.n {
				var s float64
				for k := range c.n {
					s += a[i*c.n+k] * w[k*c.d+j]
				}
				res += (s - vals[j]*w[i*c.d+j]) * (s - vals[j]*w[i*c.d+j])
			}
			assert.Less(t, math.Sqrt(res), 1e-12, "n=%d d=%d residual %d", c.n, c.d, j)
		}
	}
}

// beautyGrams returns Beauty's C/trC and M(λ = 0.9) as the exact solver
// forms them (D = 512).
func beautyGrams(tb testing.TB) (c, m []float64, D int) {
	b := loadBeauty(tb)
	n := b.x.Rows() - 1
	D = b.x.Cols()
	p := &problem{m: newDesign(b.x.Data, n, D, false, normEps, true, false), n: n, D: D, kind: SymNormalized}
	p.C, p.G = p.grams(b.g, true)
	p.trC, p.trG = trace(p.C, D), trace(p.G, D)
	return p.matM(0), p.matM(0.9), D
}

// On Beauty's actual matrices (C/trC and M at λ = 0.9, 512 x 512, d = 64)
// the blocked path agrees with dsyev and with the previous Dsytrd path.
func TestTopEigBeauty(t *testing.T) {
	longTests(t)
	c, m, D := beautyGrams(t)
	const d = 64
	for name, a := range map[string][]float64{"C": c, "M": m} {
		checkTopEig(t, "Beauty "+name, slices.Clone(a), D, d)
		vals, w, ok := topEigTridiag(slices.Clone(a), D, d)
		require.True(t, ok)
		ov, ow, ok := topEigDsytrd(slices.Clone(a), D, d)
		require.True(t, ok)
		for j := range d {
			assert.InDelta(t, ov[j], vals[j], 1e-13*ov[0], "Beauty %s eigenvalue %d", name, j)
		}
		ang := principalAngles(mat.NewDense(D, d, ow), mat.NewDense(D, d, w))
		t.Logf("Beauty %s: θ_1 %.6g θ_64 %.6g, largest angle to the Dsytrd path %.3g", name, vals[0], vals[d-1], ang[d-1])
		assert.Less(t, ang[d-1], 1e-9)
	}
}

// Old (gonum Dsytrd + Dormqr) and new (blocked reduction) topEig side by
// side at Beauty's size, n = 512, d = 64, on a synthetic matrix with a
// decaying spectrum.
func BenchmarkTopEig(b *testing.B) {
	const n = 512
	benchTopEig(b, symWithSpectrum(rand.New(rand.NewPCG(1, 2)), n, decayingSpectrum(n)), n, 64)
}

// The same on Beauty's C/trC and M (λ = 0.9), the two matrices of a fit.
func BenchmarkTopEigBeauty(b *testing.B) {
	c, m, D := beautyGrams(b)
	b.Run("C", func(b *testing.B) { benchTopEig(b, c, D, 64) })
	b.Run("M", func(b *testing.B) { benchTopEig(b, m, D, 64) })
}

func benchTopEig(b *testing.B, a0 []float64, n, d int) {
	for _, impl := range []struct {
		name string
		f    func(a []float64, n, d int) ([]float64, []float64, bool)
	}{{"dsytrd", topEigDsytrd}, {"blocked", topEigTridiag}} {
		b.Run(impl.name, func(b *testing.B) {
			a := slices.Clone(a0)
			for b.Loop() {
				copy(a, a0)
				if _, _, ok := impl.f(a, n, d); !ok {
					b.Fatal("fell back")
				}
			}
		})
	}
}

// orthonormalizeNear returns orthonormal columns spanning the input's span,
// both on nearly orthonormal input (the Cholesky QR branch) and on a random
// block (the Householder branch).
func TestOrthonormalizeNear(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n, d = 150, 24
	q := make([]float64, n*d)
	for i := range q {
		q[i] = r.NormFloat64()
	}
	orthonormalize(q, n, d)
	near := slices.Clone(q)
	for i := range near {
		near[i] += 2e-8 * r.NormFloat64()
	}
	far := make([]float64, n*d)
	for i := range far {
		far[i] = r.NormFloat64()
	}
	for name, v := range map[string][]float64{"near": near, "far": far} {
		orig := mat.NewDense(n, d, slices.Clone(v))
		w := orthonormalizeNear(v, n, d)
		wm := mat.NewDense(n, d, w)
		assertOrthonormal(t, wm, 2e-15, name)
		ang := principalAngles(orig, wm)
		assert.Less(t, ang[d-1], 1e-12, name)
	}
}

// assertOrthonormal checks WᵀW = I entry by entry to tol.
func assertOrthonormal(t *testing.T, w *mat.Dense, tol float64, name string) {
	t.Helper()
	_, d := w.Dims()
	var g mat.Dense
	g.Mul(w.T(), w)
	for i := range d {
		for j := range d {
			want := 0.0
			if i == j {
				want = 1
			}
			assert.InDelta(t, want, g.At(i, j), tol, "%s: WᵀW[%d,%d]", name, i, j)
		}
	}
}

// householder maps x onto (beta, 0, ..., 0) by an orthogonal H (tau·vᵀv =
// 2), at ordinary, tiny and huge scales (where Σx² under- or overflows) and
// with a zero tail (H = I).
func TestHouseholder(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 2))
	for _, sc := range []float64{1, 1e-170, 1e170, -3} {
		for _, m := range []int{1, 2, 5, 40} {
			x0 := make([]float64, m)
			for i := range x0 {
				x0[i] = sc * r.NormFloat64()
			}
			x := slices.Clone(x0)
			beta, tau := householder(x)
			v := append([]float64{1}, x[1:]...)
			var vx, vv, norm float64
			for i := range m {
				vx += v[i] * x0[i]
				vv += v[i] * v[i]
				norm = math.Max(norm, math.Abs(x0[i]))
			}
			if m == 1 {
				assert.Equal(t, 0.0, tau)
				assert.Equal(t, x0[0], beta)
				continue
			}
			assert.InDelta(t, 2, tau*vv, 1e-14, "scale %g m=%d", sc, m)
			for i := range m {
				// H·x₀ = x₀ − tau·v·(vᵀx₀), computed in units of norm.
				got := x0[i]/norm - tau*v[i]*(vx/norm)
				want := 0.0
				if i == 0 {
					want = beta / norm
				}
				assert.InDelta(t, want, got, 1e-14, "scale %g m=%d entry %d", sc, m, i)
			}
		}
	}
	x := []float64{2, 0, 0}
	beta, tau := householder(x)
	assert.Equal(t, 2.0, beta)
	assert.Equal(t, 0.0, tau)
}
