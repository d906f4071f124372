package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lowerSentinel fills the strict lower triangle of C before an upper-triangle
// product; it must survive.
const lowerSentinel = 777

// upperOperands is operands for a square case (g.m = g.n) with the strict
// lower triangle of C set to lowerSentinel.
func upperOperands[T float](g gemmCase, rng *rand.Rand) (a, b, c []T) {
	a, b, c = operands[T](g, rng)
	for i := 0; i < g.n; i++ {
		for j := 0; j < i; j++ {
			c[i*g.ldc+j] = lowerSentinel
		}
	}
	return a, b, c
}

// upperMismatches describes up to five wrong elements of C after an
// upper-triangle product: the triangle j >= i against the compensated
// reference (tolerance as gemmMismatches), everything else (the strict lower
// triangle, the padding between rows) against its sentinel.
func upperMismatches[T float](g gemmCase, got []T, want, bound []float64) []string {
	u := unitRoundoff[T]()
	var bad []string
	for i := 0; i < g.n && len(bad) < 5; i++ {
		for j := 0; j < g.ldc && len(bad) < 5; j++ {
			v := got[i*g.ldc+j]
			switch {
			case j >= g.n:
				if v != 12345 {
					bad = append(bad, fmt.Sprintf("%v: C[%d,%d] padding changed to %v", g, i, j, v))
				}
			case j < i:
				if v != lowerSentinel {
					bad = append(bad, fmt.Sprintf("%v: C[%d,%d] below the diagonal changed to %v", g, i, j, v))
				}
			default:
				w := want[i*g.n+j]
				tol := 2*float64(g.k+4)*u*bound[i*g.n+j] + 1e-300
				if d := math.Abs(float64(v) - w); !(d <= tol) {
					bad = append(bad, fmt.Sprintf("%v: C[%d,%d] = %v, want %v (|diff| %.3g > tol %.3g)", g, i, j, v, w, d, tol))
				}
			}
		}
	}
	return bad
}

// upperCases are square products that straddle the tiles (mr = 6, nr up to
// 32), the kc and mc cache blocks (k = 300 > 256, n = 200 > 96) and every
// transpose pair, with beta 0, 1 and other, plus random ones.
func upperCases(rng *rand.Rand) []gemmCase {
	var cs []gemmCase
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, nk := range [][2]int{{1, 1}, {5, 3}, {6, 16}, {17, 7}, {40, 33}, {200, 300}} {
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}} {
					cs = append(cs, padded(gemmCase{transA: tA, transB: tB, m: nk[0], n: nk[0], k: nk[1], alpha: ab[0], beta: ab[1]}))
				}
			}
		}
	}
	for _, g := range randomCases(rng, gemmSizes[:len(gemmSizes)-1], 24) {
		g.m = g.n
		if g.transA {
			g.lda = max(g.lda, g.n)
		}
		g.ldc = max(g.ldc, g.n)
		cs = append(cs, g)
	}
	return cs
}

// testUpperAgainstReference runs every case through every kernel this CPU
// has for T (serially, and split into two bands at every row tile) and
// through gemmUpper, each checked against the compensated reference.
func testUpperAgainstReference[T float](t *testing.T, rng *rand.Rand) {
	ws := new(workspace)
	for _, g := range upperCases(rng) {
		a, b, c := upperOperands[T](g, rng)
		want, bound := refGemm(g, a, b, c)
		for _, kern := range allKernels[T]() {
			got := append([]T(nil), c...)
			gemmUpperRows(ws, kern, g.transA, g.transB, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), got, g.ldc, 0, g.n)
			for _, msg := range upperMismatches(g, got, want, bound) {
				t.Errorf("kernel %s: %s", kern.name, msg)
			}
			for r := kern.mr; r < g.n && g.n <= 40; r += kern.mr {
				two := append([]T(nil), c...)
				gemmUpperRows(ws, kern, g.transA, g.transB, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), two, g.ldc, 0, r)
				gemmUpperRows(ws, kern, g.transA, g.transB, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), two, g.ldc, r, g.n)
				require.Equal(t, got, two, "kernel %s: %v split at row %d", kern.name, g, r)
			}
		}
		gemmUpper("gemmUpper", g.transA, g.transB, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), c, g.ldc)
		for _, msg := range upperMismatches(g, c, want, bound) {
			t.Error(msg)
		}
	}
}

func TestGemmUpper64AgainstReference(t *testing.T) {
	testUpperAgainstReference[float64](t, rand.New(rand.NewPCG(21, 22)))
}

// The driver is generic; float32 runs it on the other kernels' tile widths.
func TestGemmUpperFloat32AgainstReference(t *testing.T) {
	testUpperAgainstReference[float32](t, rand.New(rand.NewPCG(23, 24)))
}

// TestGemmUpperCheckCatchesWrongKernelsAndDrivers shows that the check above
// can fail: wrong kernels (as in TestGemmCheckCatchesWrongKernels) and
// planted driver bugs: a full product (writes below the diagonal), a band
// that misses the first row tile, and one that stops a row tile short.
func TestGemmUpperCheckCatchesWrongKernelsAndDrivers(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	cases := []gemmCase{
		{m: 37, n: 37, k: 40, lda: 40, ldb: 37, ldc: 37, alpha: 1, beta: 0.5},
		{transA: true, m: 30, n: 30, k: 300, lda: 30, ldb: 31, ldc: 33, alpha: -0.5, beta: 1},
	}
	ws := new(workspace)
	run := func(kern *microKernel[float64], body func(g gemmCase, a, b, c []float64)) []string {
		var bad []string
		for _, g := range cases {
			a, b, c := upperOperands[float64](g, rng)
			want, bound := refGemm(g, a, b, c)
			body(g, a, b, c)
			bad = append(bad, upperMismatches(g, c, want, bound)...)
		}
		return bad
	}
	for _, good := range allKernels[float64]() {
		for _, kern := range wrongKernels(good) {
			bad := run(kern, func(g gemmCase, a, b, c []float64) {
				gemmUpperRows(ws, kern, g.transA, g.transB, g.n, g.k, g.alpha64(), a, g.lda, b, g.ldb, g.beta64(), c, g.ldc, 0, g.n)
			})
			assert.NotEmpty(t, bad, "wrong kernel %s passed the check", kern.name)
		}
		for name, driver := range map[string]func(g gemmCase, a, b, c []float64){
			"full product": func(g gemmCase, a, b, c []float64) {
				gemmSerial(ws, good, nil, g.transA, g.transB, g.n, g.n, g.k, g.alpha64(), a, g.lda, b, g.ldb, g.beta64(), c, g.ldc)
			},
			"misses the first rows": func(g gemmCase, a, b, c []float64) {
				gemmUpperRows(ws, good, g.transA, g.transB, g.n, g.k, g.alpha64(), a, g.lda, b, g.ldb, g.beta64(), c, g.ldc, good.mr, g.n)
			},
			"stops short": func(g gemmCase, a, b, c []float64) {
				gemmUpperRows(ws, good, g.transA, g.transB, g.n, g.k, g.alpha64(), a, g.lda, b, g.ldb, g.beta64(), c, g.ldc, 0, g.n-good.mr)
			},
		} {
			assert.NotEmpty(t, run(good, driver), "kernel %s: planted driver bug %q passed the check", good.name, name)
		}
	}
}

func (g gemmCase) alpha64() float64 { return float64(g.alpha) }
func (g gemmCase) beta64() float64  { return float64(g.beta) }

// TestGemmUpper64ParallelMatchesSerial splits products above
// parallelMinWork into 2, 3 and 8 bands with every kernel: the bands share
// the serial tile grid, so the results must be bit-identical.
func TestGemmUpper64ParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for _, g := range []gemmCase{
		{m: 301, n: 301, k: 290, lda: 290, ldb: 301, ldc: 303, alpha: 1, beta: 0},
		{transA: true, transB: true, m: 257, n: 257, k: 260, lda: 257, ldb: 260, ldc: 257, alpha: 0.5, beta: 1},
	} {
		require.GreaterOrEqual(t, g.n*(g.n+1)/2*g.k, parallelMinWork)
		a, b, c := upperOperands[float64](g, rng)
		want, bound := refGemm(g, a, b, c)
		for _, kern := range allKernels[float64]() {
			serial := append([]float64(nil), c...)
			gemmUpperRows(new(workspace), kern, g.transA, g.transB, g.n, g.k, g.alpha64(), a, g.lda, b, g.ldb, g.beta64(), serial, g.ldc, 0, g.n)
			for _, procs := range []int{2, 3, 8} {
				par := append([]float64(nil), c...)
				gemmUpperDispatch(new(workspace), procs, kern, g.transA, g.transB, g.n, g.k, g.alpha64(), a, g.lda, b, g.ldb, g.beta64(), par, g.ldc)
				require.Equal(t, serial, par, "%s: %v procs=%d", kern.name, g, procs)
			}
			for _, msg := range upperMismatches(g, serial, want, bound) {
				t.Errorf("kernel %s: %s", kern.name, msg)
			}
		}
	}
}

func TestGemmUpper64Degenerate(t *testing.T) {
	// k = 0: the upper triangle becomes beta·C (beta = 0 clears NaN), the
	// lower one is untouched.
	c := []float64{math.NaN(), math.Inf(1), 5, math.NaN()}
	GemmUpper64(false, false, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	assert.Equal(t, []float64{0, 0, 5, 0}, c)
	c = []float64{1, 2, 3, 4}
	GemmUpper64(false, false, 2, 3, 0, make([]float64, 6), 3, make([]float64, 6), 2, -2, c, 2)
	assert.Equal(t, []float64{-2, -4, 3, -8}, c, "alpha = 0 scales the upper triangle by beta")
	require.NotPanics(t, func() { GemmUpper64(true, true, 0, 3, 1, nil, 1, nil, 3, 0, nil, 1) })
	s, big := make([]float64, 12), make([]float64, 100)
	for name, f := range map[string]func(){
		"negative n":    func() { GemmUpper64(false, false, -1, 2, 1, s, 2, s, 2, 0, s, 2) },
		"lda too small": func() { GemmUpper64(false, false, 3, 4, 1, s, 3, s, 3, 0, s, 3) },
		"c too short":   func() { GemmUpper64(false, false, 4, 1, 1, s, 1, s, 4, 0, s, 4) },
		"b too short":   func() { GemmUpper64(true, true, 3, 5, 1, big, 3, s, 5, 0, big, 3) },
	} {
		assertShapePanic(t, f, "GemmUpper64 "+name)
	}
}

func TestGemmUpper64AllocsNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	rng := rand.New(rand.NewPCG(29, 30))
	for _, n := range []int{64, 512} { // serial, and split over the worker pool
		x, c := randSliceOf[float64](rng, 256*n), make([]float64, n*n)
		GemmUpper64(true, false, n, 256, 1, x, n, x, n, 1, c, n)
		allocs := testing.AllocsPerRun(10, func() { GemmUpper64(true, false, n, 256, 1, x, n, x, n, 1, c, n) })
		assert.Zero(t, allocs, "GemmUpper64 n=%d k=256", n)
	}
}
