package recpca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// naiveLX returns L·X̄ (n x D, float64) by a plain loop over the edges, an
// independent reference for the Laplacian rows.
func naiveLX(xb *mat.Dense, g *Graph, kind LaplacianKind) *mat.Dense {
	n, D := xb.Dims()
	out := mat.NewDense(n, D, nil)
	for i := 1; i <= n; i++ {
		var deg float64
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			deg += g.Val[t]
		}
		if deg == 0 {
			continue
		}
		for c := range D {
			v := xb.At(i-1, c)
			if kind == Combinatorial {
				v *= deg
			}
			for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
				j := int(g.Col[t])
				w := g.Val[t]
				if kind == SymNormalized {
					var dj float64
					for s := g.RowPtr[j]; s < g.RowPtr[j+1]; s++ {
						dj += g.Val[s]
					}
					w /= math.Sqrt(deg * dj)
				}
				v -= w * xb.At(j-1, c)
			}
			out.Set(i-1, c, v)
		}
	}
	return out
}

// maxAbsDiff returns max |a_ij − b_ij| and max |b_ij|.
func maxAbsDiff(a []float64, b *mat.Dense) (diff, scale float64) {
	r, c := b.Dims()
	for i := range r {
		for j := range c {
			diff = math.Max(diff, math.Abs(a[i*c+j]-b.At(i, j)))
			scale = math.Max(scale, math.Abs(b.At(i, j)))
		}
	}
	return diff, scale
}

// The one-pass float64 Gram matrices C = X̄ᵀX̄ and G = X̄ᵀLX̄ match gonum
// float64 products of an independent L·X̄ (naiveLX) on a small problem whose
// row count is not a multiple of the chunk (so the last, partial chunk is
// exercised) with a few isolated items, for both Laplacians, with and without
// row normalization and centring, on both design paths.
func TestGramsMatchFloat64Small(t *testing.T) {
	const n, D = 2*gramRows + 37, 24
	x, g0 := synth(n, D, 3, 21)
	// Items 5, 77 and 300 isolated (their L·X̄ rows are zero).
	var edges []Edge
	for i := 1; i < g0.N; i++ {
		for t := g0.RowPtr[i]; t < g0.RowPtr[i+1]; t++ {
			j := int(g0.Col[t])
			if j > i && i != 5 && j != 5 && i != 77 && j != 77 && i != 300 && j != 300 {
				edges = append(edges, Edge{I: i, J: j, W: g0.Val[t]})
			}
		}
	}
	g, err := NewGraph(n, edges)
	require.NoError(t, err)
	require.Zero(t, g.Degree()[77])
	for _, normalize := range []bool{false, true} {
		for _, center := range []bool{true, false} {
			m0 := newDesign(x.Data, n, D, normalize, normEps, center, false)
			xb := mat.NewDense(n, D, nil)
			for i := range n {
				m0.row(i, xb.RawRowView(i))
			}
			var wantC mat.Dense
			wantC.Mul(xb.T(), xb)
			for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
				var wantG mat.Dense
				wantG.Mul(xb.T(), naiveLX(xb, g, kind))
				for _, materialized := range []bool{true, false} {
					m := newDesign(x.Data, n, D, normalize, normEps, center, materialized)
					require.Equal(t, materialized, m.full != nil)
					p := &problem{m: m, n: n, D: D, kind: kind}
					c, gm := p.grams(g, true)
					name := fmt.Sprintf("normalize %v center %v kind %v materialized %v", normalize, center, kind, materialized)
					diff, sc := maxAbsDiff(c, &wantC)
					assert.Less(t, diff, 1e-12*sc, "C: %s", name)
					diff, sc = maxAbsDiff(gm, &wantG)
					assert.Less(t, diff, 1e-12*sc, "G: %s", name)
					c2, gm2 := p.grams(g, false)
					assert.Nil(t, c2)
					assert.Equal(t, gm, gm2, "G alone: %s", name)
					c3, gm3 := p.grams(nil, true)
					assert.Nil(t, gm3)
					assert.Equal(t, c, c3, "C alone: %s", name)
				}
			}
		}
	}
}

// On real data (Beauty, 12,101 x 512, window-1 graph) the one-pass Gram
// matrices agree entry by entry with float64 products formed independently
// (gonum dgemm of the centred rows and of naiveLXFast) — C = X̄ᵀX̄ and M =
// C/trC − λ·X̄ᵀLX̄/trG at λ = 0.9, the edge of the useful band where M nearly
// cancels, formed as the exact solver forms it — and the exact fit built on
// them spans the subspace of a full dsyev of the float64 M, with PCA's
// retained variance equal to the float64 top-d eigenvalue sum.
func TestGramsMatchFloat64Beauty(t *testing.T) {
	b := loadBeauty(t)
	n, D := b.x.Rows()-1, b.x.Cols()
	const d, lambda = 64, 0.9
	// Centred rows in float64.
	xb := make([]float64, n*D)
	mean := make([]float64, D)
	for i := range n {
		for j, v := range b.x.Row(i + 1) {
			xb[i*D+j] = float64(v)
			mean[j] += float64(v)
		}
	}
	for i := range n {
		for j := range D {
			xb[i*D+j] -= mean[j] / float64(n)
		}
	}
	xm := mat.NewDense(n, D, xb)
	lx := naiveLXFast(xm, b.g)
	var trC, trG float64
	for i, v := range xb {
		trC += v * v
		trG += v * lx.RawMatrix().Data[i]
	}
	pr := mat.NewDense(n, D, nil)
	pr.Apply(func(i, j int, v float64) float64 { return v/trC - lambda*lx.At(i, j)/trG }, xm)
	var wantC, wantM mat.Dense
	wantC.Mul(xm.T(), xm)
	wantM.Mul(xm.T(), pr)
	symM := make([]float64, D*D)
	for i := range D {
		for j := range D {
			symM[i*D+j] = (wantM.At(i, j) + wantM.At(j, i)) / 2
		}
	}

	m := newDesign(b.x.Data, n, D, false, normEps, true, false)
	p := &problem{m: m, n: n, D: D, kind: SymNormalized}
	c, gm := p.grams(b.g, true)
	p.C, p.G, p.trC, p.trG = c, gm, trace(c, D), trace(gm, D)
	require.InDelta(t, trC, p.trC, 1e-9*trC)
	require.InDelta(t, trG, p.trG, 1e-9*trG)
	gotM := make([]float64, D*D)
	for i := range gotM {
		gotM[i] = c[i]/p.trC - lambda*gm[i]/p.trG
	}
	diffC, scC := maxAbsDiff(c, &wantC)
	diffM, scM := maxAbsDiff(gotM, mat.NewDense(D, D, symM))
	t.Logf("C: max |Δ| %.3g of max %.3g (%.2g); M(λ=%v): %.3g of %.3g (%.2g)", diffC, scC, diffC/scC, lambda, diffM, scM, diffM/scM)
	assert.Less(t, diffC, 2e-7*scC)
	assert.Less(t, diffM, 5e-8*scM)

	refVals, refW, ok := topEigFull(symM, D, d)
	require.True(t, ok)
	wc := make([]float64, D*D)
	copy(wc, wantC.RawMatrix().Data)
	pcaVals, _, ok := topEigFull(wc, D, d)
	require.True(t, ok)
	var pcaRV float64
	for _, v := range pcaVals {
		pcaRV += v / trC
	}

	fast, err := Fit(b.x, b.g, Options{Dim: d, Lambda: lambda, Solver: SolverExact})
	require.NoError(t, err)
	ang := principalAngles(mat.NewDense(D, d, refW), fast.W)
	t.Logf("largest principal angle to the float64 dsyev subspace: %.3g rad; PCA retained %.12f vs %.12f", ang[d-1], fast.Stats.PCARetainedVariance, pcaRV)
	assert.Less(t, ang[d-1], 1e-5)
	assert.InDelta(t, pcaRV, fast.Stats.PCARetainedVariance, 1e-9)
	for j, v := range refVals {
		assert.InDelta(t, v, fast.Eigenvalues[j], 1e-8*refVals[0], "eigenvalue %d", j)
	}
}

// topEig returns the top-d eigenpairs of a full dsyev, on matrices with
// well separated, clustered and exactly repeated eigenvalues.
func TestTopEigMatchesDsyev(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n, d = 120, 20
	spectra := map[string]func(i int) float64{
		"decaying":  func(i int) float64 { return math.Pow(0.9, float64(i)) },
		"clustered": func(i int) float64 { return 1 - 1e-9*float64(i%4) - float64(i/4)*0.05 },
		"repeated":  func(i int) float64 { return float64(3 - min(i/8, 3)) },
		"indefinite": func(i int) float64 {
			return 0.5 - float64(i)/float64(n)
		},
	}
	for name, spec := range spectra {
		// A = Q diag(s) Qᵀ with a random orthogonal Q.
		q := make([]float64, n*n)
		for i := range q {
			q[i] = r.NormFloat64()
		}
		orthonormalize(q, n, n)
		a := make([]float64, n*n)
		for i := range n {
			for j := range n {
				var s float64
				for k := range n {
					s += q[i*n+k] * spec(k) * q[j*n+k]
				}
				a[i*n+j] = s
			}
		}
		mirrorUpper(a, n)
		a2 := append([]float64(nil), a...)
		vals, w, ok := topEig(a, n, d)
		require.True(t, ok, name)
		rv, rw, ok := topEigFull(a2, n, d)
		require.True(t, ok, name)
		for j := range d {
			assert.InDelta(t, spec(j), vals[j], 1e-12, "%s eigenvalue %d", name, j)
			assert.InDelta(t, rv[j], vals[j], 1e-12, "%s eigenvalue %d", name, j)
		}
		// Compare subspaces where the d-th eigenvalue is separated from the
		// (d+1)-th (it is for all spectra above but "repeated", whose
		// d = 20 splits the third block of 8).
		if name != "repeated" {
			ang := principalAngles(mat.NewDense(n, d, rw), mat.NewDense(n, d, w))
			assert.Less(t, ang[d-1], 1e-9, name)
		}
		// Orthonormal columns.
		wm := mat.NewDense(n, d, w)
		var g mat.Dense
		g.Mul(wm.T(), wm)
		for i := range d {
			for j := range d {
				want := 0.0
				if i == j {
					want = 1
				}
				assert.InDelta(t, want, g.At(i, j), 1e-12, "%s WᵀW[%d,%d]", name, i, j)
			}
		}
	}
}

// naiveLXFast is naiveLX for the symmetric normalized Laplacian with the
// degrees computed once (Beauty-sized graphs).
func naiveLXFast(xb *mat.Dense, g *Graph) *mat.Dense {
	n, D := xb.Dims()
	deg := make([]float64, n+1)
	for i := 1; i <= n; i++ {
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			deg[i] += g.Val[t]
		}
	}
	out := mat.NewDense(n, D, nil)
	for i := 1; i <= n; i++ {
		if deg[i] == 0 {
			continue
		}
		row := out.RawRowView(i - 1)
		copy(row, xb.RawRowView(i-1))
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			j := int(g.Col[t])
			w := g.Val[t] / math.Sqrt(deg[i]*deg[j])
			for c, v := range xb.RawRowView(j - 1) {
				row[c] -= w * v
			}
		}
	}
	return out
}

// laplacianTrace equals a naive tr(X̄ᵀ·L·X̄) (naiveLX) on both design paths
// (materialized rows; raw float32 rows with row scaling and mean applied in
// the sum), for both Laplacians, with and without row normalization.
func TestLaplacianTrace(t *testing.T) {
	const n, D = 150, 12
	x, g := synth(n, D, 3, 23)
	for _, normalize := range []bool{false, true} {
		m0 := newDesign(x.Data, n, D, normalize, normEps, true, false)
		xb := mat.NewDense(n, D, nil)
		for i := range n {
			m0.row(i, xb.RawRowView(i))
		}
		for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
			lx := naiveLX(xb, g, kind)
			want := 0.0
			for i, v := range xb.RawMatrix().Data {
				want += v * lx.RawMatrix().Data[i]
			}
			for _, materialized := range []bool{true, false} {
				m := newDesign(x.Data, n, D, normalize, normEps, true, materialized)
				assert.InDelta(t, want, m.laplacianTrace(g, kind), 1e-10*want, "normalize %v kind %v materialized %v", normalize, kind, materialized)
			}
		}
	}
}

// subRows (the vector kernel where the CPU has one, with its 8- and
// 4-column steps and the scalar tail) matches a plain float64 loop for every
// length up to 40, with one and four rows.
func TestSubRowsMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 7))
	for n := range 41 {
		for _, k := range []int{1, 4} {
			var w [4]float64
			var x [4][]float32
			for q := range k {
				w[q] = r.NormFloat64()
				x[q] = make([]float32, n+3) // longer than out, as rows may be
				for c := range x[q] {
					x[q][c] = float32(r.NormFloat64())
				}
			}
			out := make([]float64, n)
			want := make([]float64, n)
			for c := range out {
				out[c] = r.NormFloat64()
				want[c] = out[c]
				for q := range k {
					want[c] -= w[q] * float64(x[q][c])
				}
			}
			subRows(out, &w, &x, &x, k)
			for c := range out {
				assert.InDelta(t, want[c], out[c], 1e-14*(1+math.Abs(want[c])), "n %d k %d column %d", n, k, c)
			}
		}
	}
}

// sqDiff32 (the vector kernel where the CPU has one, with its 8- and
// 4-column steps and the scalar tail) matches a plain float64 loop for every
// length up to 40, with and without the mean term.
func TestSqDiff32MatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	for n := range 41 {
		x, y := make([]float32, n), make([]float32, n+3)
		mu := make([]float64, n+3)
		for c := range y {
			if c < n {
				x[c] = float32(r.NormFloat64())
			}
			y[c] = float32(r.NormFloat64())
			mu[c] = r.NormFloat64()
		}
		a, b := r.NormFloat64(), r.NormFloat64()
		for _, em := range []float64{0, r.NormFloat64()} {
			var want float64
			for c := range x {
				e := a*float64(x[c]) - b*float64(y[c]) - em*mu[c]
				want += e * e
			}
			m := mu
			if em == 0 {
				m = nil
			}
			assert.InDelta(t, want, sqDiff32(x, y, a, b, em, m), 1e-13*(1+want), "n %d em %v", n, em)
		}
	}
}

// widen (the vector kernel where the CPU has one) equals the Go expression
// float64(x)·s − μ (to an ulp, in case a compiler fuses it) for every length
// up to 40, with and without μ.
func TestWidenMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 9))
	for n := range 41 {
		x := make([]float32, n+3)
		mu := make([]float64, n+3)
		for c := range x {
			x[c] = float32(r.NormFloat64())
			mu[c] = r.NormFloat64()
		}
		s := r.NormFloat64()
		for _, m := range [][]float64{nil, mu} {
			out := make([]float64, n)
			widen(out, x, s, m)
			for c := range out {
				want := float64(x[c]) * s
				if m != nil {
					want -= m[c]
				}
				assert.InDelta(t, want, out[c], 1e-15*(1+math.Abs(want)), "n %d mean %v column %d", n, m != nil, c)
			}
		}
	}
}
