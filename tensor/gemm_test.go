package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gemmCase is one product with its storage layout.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	alpha, beta    float32
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g",
		g.transA, g.transB, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.alpha, g.beta)
}

// operands builds random A, B and C of element type T for the case; C is
// filled with NaN when beta is 0 (Gemm must ignore it), and the padding
// between rows of every operand holds a sentinel that must survive.
func operands[T float](g gemmCase, rng *rand.Rand) (a, b, c []T) {
	ar, br := g.m, g.k
	if g.transA {
		ar = g.k
	}
	if g.transB {
		br = g.n
	}
	a = randSliceOf[T](rng, max(ar*g.lda, 1))
	b = randSliceOf[T](rng, max(br*g.ldb, 1))
	c = randSliceOf[T](rng, max(g.m*g.ldc, 1))
	for i := 0; i < g.m; i++ {
		for j := g.n; j < g.ldc; j++ {
			c[i*g.ldc+j] = 12345
		}
		if g.beta == 0 {
			for j := 0; j < g.n; j++ {
				c[i*g.ldc+j] = T(math.NaN())
			}
		}
	}
	return a, b, c
}

func randSlice(rng *rand.Rand, n int) []float32 { return randSliceOf[float32](rng, n) }

// randSliceOf returns n standard normal values; as float64 they carry all
// 53 bits, so products and sums round.
func randSliceOf[T float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.NormFloat64())
	}
	return s
}

// refGemm is an independent reference: it returns alpha·op(A)·op(B) + beta·C
// (beta = 0 ignoring C) and, per element, the magnitude bound
// |alpha|·Σ_p |op(A)_ip|·|op(B)_pj| + |beta|·|C_ij| used for the tolerance.
// The dot products are compensated (products split exactly with FMA, sums
// with TwoSum: Ogita, Rump and Oishi's Dot2), so the reference is as accurate
// as a dot product in twice float64's precision: its own error is far below
// the float64 tolerance it checks Gemm64 against.
func refGemm[T float](g gemmCase, a, b, c []T) (want, bound []float64) {
	want = make([]float64, g.m*g.n)
	bound = make([]float64, g.m*g.n)
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var s, e, sa float64
			for p := 0; p < g.k; p++ {
				var av, bv float64
				if g.transA {
					av = float64(a[p*g.lda+i])
				} else {
					av = float64(a[i*g.lda+p])
				}
				if g.transB {
					bv = float64(b[j*g.ldb+p])
				} else {
					bv = float64(b[p*g.ldb+j])
				}
				h := av * bv
				l := math.FMA(av, bv, -h) // h + l = av·bv exactly
				t := s + h
				z := t - s
				e += (s - (t - z)) + (h - z) + l // TwoSum error of s + h
				s = t
				sa += math.Abs(h)
			}
			s += e
			w := float64(g.alpha) * s
			bd := math.Abs(float64(g.alpha)) * sa
			if g.beta != 0 {
				old := float64(c[i*g.ldc+j])
				w += float64(g.beta) * old
				bd += math.Abs(float64(g.beta) * old)
			}
			want[i*g.n+j] = w
			bound[i*g.n+j] = bd
		}
	}
	return want, bound
}

// unitRoundoff is u for T: 2^-24 for float32, 2^-53 for float64.
func unitRoundoff[T float]() float64 {
	if _, ok := any(T(0)).(float32); ok {
		return 1.0 / (1 << 24)
	}
	return 1.0 / (1 << 53)
}

// gemmMismatches compares got (C after the call) to the reference and
// describes up to five wrong elements. A dot product of length k in T,
// summed in any order (blocking and FMA change the order), has a rounding
// error of at most about k·u·Σ|a_p·b_p| (Higham, Accuracy and Stability,
// §3.1); alpha, beta and the final add contribute a few more u. So the
// tolerance is (k+4)·u·bound, doubled for slack: relative to the magnitudes
// involved and scaled by k.
func gemmMismatches[T float](g gemmCase, got []T, want, bound []float64) []string {
	u := unitRoundoff[T]()
	var bad []string
	for i := 0; i < g.m && len(bad) < 5; i++ {
		for j := 0; j < g.ldc && len(bad) < 5; j++ {
			v := got[i*g.ldc+j]
			if j >= g.n {
				if v != 12345 {
					bad = append(bad, fmt.Sprintf("%v: C[%d,%d] padding changed to %v", g, i, j, v))
				}
				continue
			}
			w := want[i*g.n+j]
			tol := 2*float64(g.k+4)*u*bound[i*g.n+j] + 1e-300
			if d := math.Abs(float64(v) - w); !(d <= tol) {
				bad = append(bad, fmt.Sprintf("%v: C[%d,%d] = %v, want %v (|diff| %.3g > tol %.3g)", g, i, j, v, w, d, tol))
			}
		}
	}
	return bad
}

func checkGemmResult[T float](t *testing.T, g gemmCase, got []T, want, bound []float64) {
	t.Helper()
	for _, msg := range gemmMismatches(g, got, want, bound) {
		t.Error(msg)
	}
}

var gemmSizes = []int{1, 2, 3, 5, 7, 16, 17, 33, 64, 65, 127, 257}

func randomCases(rng *rand.Rand, sizes []int, count int) []gemmCase {
	abs := [][2]float32{{1, 0}, {2.5, 0}, {1, 1}, {-0.5, 0.75}, {1, -1}}
	var cs []gemmCase
	for i := 0; i < count; i++ {
		g := gemmCase{
			transA: i&1 != 0, transB: i&2 != 0,
			m: sizes[rng.IntN(len(sizes))],
			n: sizes[rng.IntN(len(sizes))],
			k: sizes[rng.IntN(len(sizes))],
		}
		ab := abs[rng.IntN(len(abs))]
		g.alpha, g.beta = ab[0], ab[1]
		ac, bc := g.k, g.n
		if g.transA {
			ac = g.m
		}
		if g.transB {
			bc = g.k
		}
		// Leading dimensions wider than the rows half of the time.
		g.lda, g.ldb, g.ldc = ac, bc, g.n
		if rng.IntN(2) == 0 {
			g.lda += 1 + rng.IntN(5)
			g.ldb += 1 + rng.IntN(5)
			g.ldc += 1 + rng.IntN(5)
		}
		cs = append(cs, g)
	}
	return cs
}

// referenceCases are the random cases plus fixed ones: each transpose pair
// on sizes that straddle the tiles and the kc/mc cache blocks (k = 600 > 256
// exercises beta = 1 after the first k block; m = 200 > mc), each with
// beta 0 and beta 2.
func referenceCases(t *testing.T, rng *rand.Rand) []gemmCase {
	sizes, count := gemmSizes, 160
	if testing.Short() {
		// The race detector (run with -short in CI) slows the float64
		// reference ~10x; the fixed cases below still cover every path.
		sizes, count = gemmSizes[:len(gemmSizes)-1], 48
	}
	cases := randomCases(rng, sizes, count)
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, mnk := range [][3]int{{1, 1, 1}, {6, 16, 4}, {7, 17, 3}, {200, 33, 600}, {13, 300, 257}} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 2}} {
					cases = append(cases, padded(gemmCase{transA: tA, transB: tB, m: mnk[0], n: mnk[1], k: mnk[2], alpha: ab[0], beta: ab[1]}))
				}
			}
		}
	}
	return cases
}

// padded sets g's row strides a few values wider than its rows.
func padded(g gemmCase) gemmCase {
	g.lda, g.ldb, g.ldc = g.k+3, g.n+1, g.n+2
	if g.transA {
		g.lda = g.m + 3
	}
	if g.transB {
		g.ldb = g.k + 1
	}
	return g
}

// testAgainstReference runs every case through every kernel this CPU has
// for T (serially) and through gemm (the public entry point), each checked
// against the compensated reference.
func testAgainstReference[T float](t *testing.T, rng *rand.Rand, cases []gemmCase) {
	ws := new(workspace)
	for _, g := range cases {
		a, b, c := operands[T](g, rng)
		want, bound := refGemm(g, a, b, c)
		for _, kern := range allKernels[T]() {
			got := append([]T(nil), c...)
			gemmSerial(ws, kern, nil, g.transA, g.transB, g.m, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), got, g.ldc)
			for _, msg := range gemmMismatches(g, got, want, bound) {
				t.Errorf("kernel %s: %s", kern.name, msg)
			}
		}
		gemm("gemm", g.transA, g.transB, g.m, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), c, g.ldc)
		checkGemmResult(t, g, c, want, bound)
	}
}

func TestGemmAgainstFloat64Reference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	t.Logf("float32 kernels on this CPU: %v", kernelNames(allKernels[float32]()))
	testAgainstReference[float32](t, rng, referenceCases(t, rng))
}

func TestGemm64AgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	t.Logf("float64 kernels on this CPU: %v", kernelNames(allKernels[float64]()))
	testAgainstReference[float64](t, rng, referenceCases(t, rng))
}

// allKernels lists every kernel this CPU runs for T, the tail kernels
// included (run on their own here, as the main kernels run them at edges).
func allKernels[T float]() []*microKernel[T] {
	var ks []*microKernel[T]
	for _, k := range kernelsFor[T]() {
		ks = append(ks, k)
		if k.tail != nil {
			ks = append(ks, k.tail)
		}
	}
	return ks
}

func kernelNames[T float](ks []*microKernel[T]) []string {
	var names []string
	for _, k := range ks {
		names = append(names, k.name)
	}
	return names
}

// TestGemmCheckCatchesWrongKernels shows that the reference check can fail:
// every kernel, wrapped to be wrong in a way a real bug would be (half the
// precision, a dropped k step, beta ignored), must produce mismatches, in
// float32 and in float64.
func TestGemmCheckCatchesWrongKernels(t *testing.T) {
	testCatchesWrongKernels[float32](t, rand.New(rand.NewPCG(13, 14)))
	testCatchesWrongKernels[float64](t, rand.New(rand.NewPCG(13, 14)))
}

// coarsen drops half of T's precision: float64 to float32, float32 to its
// top 12 mantissa bits.
func coarsen[T float](v T) T {
	if x, ok := any(v).(float32); ok {
		return T(math.Float32frombits(math.Float32bits(x) &^ 0xfff))
	}
	return T(float32(v))
}

func testCatchesWrongKernels[T float](t *testing.T, rng *rand.Rand) {
	cases := []gemmCase{
		{m: 13, n: 37, k: 40, lda: 40, ldb: 37, ldc: 37, alpha: 1, beta: 0.5},
		{transA: true, transB: true, m: 30, n: 17, k: 300, lda: 30, ldb: 300, ldc: 19, alpha: -0.5, beta: 1},
	}
	ws := new(workspace)
	for _, good := range allKernels[T]() {
		for _, kern := range wrongKernels(good) {
			var bad []string
			for _, g := range cases {
				a, b, c := operands[T](g, rng)
				want, bound := refGemm(g, a, b, c)
				gemmSerial(ws, kern, nil, g.transA, g.transB, g.m, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), c, g.ldc)
				bad = append(bad, gemmMismatches(g, c, want, bound)...)
			}
			assert.NotEmpty(t, bad, "%T: wrong kernel %s passed the check", T(0), kern.name)
		}
	}
}

// wrongKernels wraps good in kernels that are wrong the way a real bug
// would be: half the precision, a dropped k step, beta ignored.
func wrongKernels[T float](good *microKernel[T]) []*microKernel[T] {
	wrap := func(name string, fn func(kc int, a, b, c []T, ldc int, alpha, beta T)) *microKernel[T] {
		k := *good
		k.name, k.fn = good.name+"/"+name, fn
		return &k
	}
	return []*microKernel[T]{
		wrap("half-precision", func(kc int, a, b, c []T, ldc int, alpha, beta T) {
			good.fn(kc, a, b, c, ldc, alpha, beta)
			for i := 0; i < good.mr; i++ {
				for j := 0; j < good.nr; j++ {
					c[i*ldc+j] = coarsen(c[i*ldc+j])
				}
			}
		}),
		wrap("drops-last-k", func(kc int, a, b, c []T, ldc int, alpha, beta T) {
			if kc > 1 {
				kc--
			}
			good.fn(kc, a, b, c, ldc, alpha, beta)
		}),
		wrap("ignores-beta", func(kc int, a, b, c []T, ldc int, alpha, beta T) {
			good.fn(kc, a, b, c, ldc, alpha, 0)
		}),
	}
}

func TestGemmDegenerate(t *testing.T) {
	// k = 0 or alpha = 0: C = beta·C, and beta = 0 clears NaN.
	for _, tc := range []struct {
		k           int
		alpha, beta float32
		old, want   float32
	}{
		{0, 1, 0, float32(math.NaN()), 0},
		{0, 1, 2, 3, 6},
		{4, 0, 0.5, 3, 1.5},
		{4, 0, 0, float32(math.Inf(1)), 0},
		{0, 1, 1, 7, 7},
	} {
		a := []float32{1, 2, 3, 4, 5, 6, 7, 8}
		b := []float32{1, 2, 3, 4, 5, 6, 7, 8}
		c := []float32{tc.old, tc.old, tc.old, tc.old}
		Gemm(false, false, 2, 2, tc.k, tc.alpha, a, max(tc.k, 1), b, 2, tc.beta, c, 2)
		for _, v := range c {
			assert.Equal(t, tc.want, v, "k=%d alpha=%g beta=%g", tc.k, tc.alpha, tc.beta)
		}
	}
	// m = 0 or n = 0 touches nothing.
	require.NotPanics(t, func() { Gemm(false, false, 0, 3, 2, 1, nil, 2, make([]float32, 6), 3, 0, nil, 3) })
	require.NotPanics(t, func() { Gemm(false, false, 3, 0, 2, 1, make([]float32, 6), 2, nil, 1, 0, nil, 1) })
}

func TestGemm64Degenerate(t *testing.T) {
	c := []float64{math.NaN(), math.Inf(-1), 3, 4}
	Gemm64(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	assert.Equal(t, []float64{0, 0, 0, 0}, c, "k=0 beta=0 clears NaN and Inf")
	c = []float64{1, 2, 3, 4}
	Gemm64(false, false, 2, 2, 3, 0, make([]float64, 6), 3, make([]float64, 6), 2, -2, c, 2)
	assert.Equal(t, []float64{-2, -4, -6, -8}, c, "alpha=0 scales by beta")
	require.NotPanics(t, func() { Gemm64(true, true, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1) })
}

// gemmFunc is Gemm's or Gemm64's signature.
type gemmFunc[T float] func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)

func TestGemmHandComputed(t *testing.T) {
	testHandComputed[float32](t, Gemm)
	testHandComputed[float64](t, Gemm64)
	// A sum only float64 holds: 1 + 2^-40 + 2^-40 (float32 arithmetic would
	// round it to 1).
	tiny := math.Ldexp(1, -40)
	var d [1]float64
	Gemm64(false, true, 1, 1, 3, 1, []float64{1, tiny, tiny}, 3, []float64{1, 1, 1}, 3, 0, d[:], 1)
	assert.Equal(t, 1+2*tiny, d[0], "float64 precision kept")
}

func testHandComputed[T float](t *testing.T, gemm gemmFunc[T]) {
	// [1 2; 3 4]·[5 6; 7 8] = [19 22; 43 50]; with alpha=2, beta=1 on C=1.
	a := []T{1, 2, 3, 4}
	b := []T{5, 6, 7, 8}
	c := []T{1, 1, 1, 1}
	gemm(false, false, 2, 2, 2, 2, a, 2, b, 2, 1, c, 2)
	assert.Equal(t, []T{39, 45, 87, 101}, c)
	// Aᵀ·Bᵀ = [1 3; 2 4]·[5 7; 6 8] = [23 31; 34 46].
	gemm(true, true, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	assert.Equal(t, []T{23, 31, 34, 46}, c)
}

func TestGemmPanics(t *testing.T) {
	testGemmPanics[float32](t, "Gemm", Gemm)
	testGemmPanics[float64](t, "Gemm64", Gemm64)
}

func testGemmPanics[T float](t *testing.T, fn string, gemm gemmFunc[T]) {
	s := make([]T, 12)
	for name, f := range map[string]func(){
		"lda too small": func() { gemm(false, false, 3, 4, 4, 1, s, 3, s, 4, 0, s, 4) },
		"ldb too small": func() { gemm(false, true, 3, 4, 3, 1, s, 3, s, 2, 0, s, 4) },
		"ldc too small": func() { gemm(false, false, 3, 4, 3, 1, s, 3, s, 4, 0, s, 3) },
		"negative":      func() { gemm(false, false, -1, 4, 3, 1, s, 3, s, 4, 0, s, 4) },
		"a too short":   func() { gemm(false, false, 5, 2, 3, 1, s, 3, s, 2, 0, s, 2) },
		"b too short":   func() { gemm(false, false, 1, 4, 4, 1, s, 4, s, 4, 0, s, 4) },
		"c too short":   func() { gemm(false, false, 3, 5, 2, 1, s, 2, s, 5, 0, s, 5) },
	} {
		assertShapePanic(t, f, fn+" "+name)
	}
}

// assertShapePanic checks that f panics with an error wrapping ErrShape.
func assertShapePanic(t *testing.T, f func(), msgAndArgs ...any) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if !assert.NotNil(t, r, msgAndArgs...) {
			return
		}
		err, ok := r.(error)
		if assert.True(t, ok, "panic value %v is not an error", r) {
			assert.ErrorIs(t, err, ErrShape, msgAndArgs...)
		}
	}()
	f()
}

func TestGemmParallelMatchesSerial(t *testing.T) {
	testParallelMatchesSerial[float32](t, rand.New(rand.NewPCG(3, 4)))
}

func TestGemm64ParallelMatchesSerial(t *testing.T) {
	testParallelMatchesSerial[float64](t, rand.New(rand.NewPCG(15, 16)))
}

// testParallelMatchesSerial splits tall (over rows) and wide (over columns)
// products, both above parallelMinWork, with k spanning two cache blocks,
// with every kernel. The split is on micro-tile boundaries and every element
// sums in the same order, so the results must be bit-identical.
func testParallelMatchesSerial[T float](t *testing.T, rng *rand.Rand) {
	for _, g := range []gemmCase{
		{m: 301, n: 70, k: 300, lda: 300, ldb: 70, ldc: 71, alpha: 1, beta: 0},
		{m: 40, n: 1000, k: 290, lda: 290, ldb: 1000, ldc: 1000, alpha: 0.5, beta: 1},
		{transA: true, transB: true, m: 257, n: 129, k: 260, lda: 257, ldb: 260, ldc: 129, alpha: 1, beta: -1},
	} {
		require.GreaterOrEqual(t, g.m*g.n*g.k, parallelMinWork)
		a, b, c := operands[T](g, rng)
		want, bound := refGemm(g, a, b, c)
		for _, kern := range allKernels[T]() {
			serial := append([]T(nil), c...)
			gemmSerial(new(workspace), kern, nil, g.transA, g.transB, g.m, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), serial, g.ldc)
			for _, procs := range []int{2, 3, 8} {
				par := append([]T(nil), c...)
				gemmDispatch(new(workspace), procs, kern, nil, g.transA, g.transB, g.m, g.n, g.k, T(g.alpha), a, g.lda, b, g.ldb, T(g.beta), par, g.ldc)
				require.Equal(t, serial, par, "%s: %v procs=%d", kern.name, g, procs)
			}
			checkGemmResult(t, g, serial, want, bound)
		}
	}
}

// naiveMatMul is a float64 reference for batched MatMulAdd.
func naiveMatMul(a, b, c *Tensor, transA, transB bool, alpha, beta float32) []float64 {
	ar, ac := a.Shape[a.Dims()-2], a.Shape[a.Dims()-1]
	br, bc := b.Shape[b.Dims()-2], b.Shape[b.Dims()-1]
	m, k, n := ar, ac, bc
	if transA {
		m, k = ac, ar
	}
	if transB {
		n = br
	}
	batch := a.Len() / (ar * ac)
	out := make([]float64, batch*m*n)
	for q := 0; q < batch; q++ {
		bo := 0
		if b.Dims() > 2 {
			bo = q * br * bc
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					ai, bi := i*ac+p, p*bc+j
					if transA {
						ai = p*ac + i
					}
					if transB {
						bi = j*bc + p
					}
					s += float64(a.Data[q*ar*ac+ai]) * float64(b.Data[bo+bi])
				}
				o := (q*m+i)*n + j
				out[o] = float64(alpha) * s
				if beta != 0 {
					out[o] += float64(beta) * float64(c.Data[o])
				}
			}
		}
	}
	return out
}

func randTensor(rng *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

func assertClose64(t *testing.T, want []float64, got []float32, tol float64, msgAndArgs ...any) {
	t.Helper()
	require.Len(t, got, len(want), msgAndArgs...)
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("element %d: got %v want %v (diff %g): %v", i, got[i], want[i], d, fmt.Sprint(msgAndArgs...))
		}
	}
}

func TestMatMulBatched(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		aShape, bShape []int
		tA, tB         bool
		outShape       []int
	}{
		{[]int{3, 4}, []int{4, 5}, false, false, []int{3, 5}},
		{[]int{2, 3, 4}, []int{5, 4}, false, true, []int{2, 3, 5}},             // shared 2-D b
		{[]int{2, 2, 4, 3}, []int{2, 2, 4, 5}, true, false, []int{2, 2, 3, 5}}, // batched b
		{[]int{6, 7, 9}, []int{6, 9, 7}, false, false, []int{6, 7, 7}},
	} {
		a, b := randTensor(rng, tc.aShape...), randTensor(rng, tc.bShape...)
		dst := MatMul(&Tensor{}, a, b, tc.tA, tc.tB)
		require.Equal(t, tc.outShape, dst.Shape)
		assertClose64(t, naiveMatMul(a, b, dst, tc.tA, tc.tB, 1, 0), dst.Data, 1e-5, tc.aShape)
		// Accumulate: dst = 0.5·a·b + 2·dst.
		old := dst.Clone()
		want := naiveMatMul(a, b, old, tc.tA, tc.tB, 0.5, 2)
		MatMulAdd(dst, a, b, tc.tA, tc.tB, 0.5, 2)
		assertClose64(t, want, dst.Data, 1e-5, tc.aShape)
	}
	// Zero-sized dimensions size the destination and compute nothing.
	d := MatMul(&Tensor{}, New(0, 3, 4), New(4, 2), false, false)
	assert.Equal(t, []int{0, 3, 2}, d.Shape)
	d = MatMul(&Tensor{}, New(3, 0), New(0, 2), false, false)
	assert.Equal(t, []int{3, 2}, d.Shape)
	assert.Equal(t, make([]float32, 6), d.Data)
	d = MatMul(&Tensor{}, New(3, 4), New(4, 0), false, false)
	assert.Equal(t, []int{3, 0}, d.Shape)

	assertShapePanic(t, func() { MatMul(&Tensor{}, New(3, 4), New(5, 2), false, false) }, "inner mismatch")
	assertShapePanic(t, func() { MatMul(&Tensor{}, New(2, 3, 4), New(3, 4, 2), false, false) }, "batch mismatch")
	assertShapePanic(t, func() { MatMul(&Tensor{}, New(4), New(4, 2), false, false) }, "vector")
	assertShapePanic(t, func() { MatMul(New(3, 3), New(3, 4), New(4, 2), false, false) }, "wrong dst")
}

func TestMatMulBatchParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	// Attention-like [B·H, T, d]·[B·H, T, d]ᵀ: each product is small, the batch
	// is large enough to be shared out.
	a, b := randTensor(rng, 64, 50, 64), randTensor(rng, 64, 50, 64)
	require.Less(t, 50*50*64, parallelMinWork)
	require.GreaterOrEqual(t, 64*50*50*64, parallelMinWork)
	ser, par := New(64, 50, 50), New(64, 50, 50)
	for _, procs := range []int{1, 2, 3} {
		out := ser
		if procs > 1 {
			out = par
		}
		job := batchJob{transB: true, m: 50, n: 50, k: 64, alpha: 1, a: a.Data, b: b.Data, c: out.Data,
			sa: 50 * 64, sb: 50 * 64, sc: 50 * 50, lda: 64, ldb: 64, bBatched: true}
		job.run(new(workspace), 0, 64, procs, 64)
		if procs > 1 {
			require.Equal(t, ser.Data, par.Data, "procs=%d", procs)
		}
	}
	assertClose64(t, naiveMatMul(a, b, ser, false, true, 1, 0), ser.Data, 1e-5)
}

func TestGemmAllocsNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	a, b, c := randSlice(rng, 64*64), randSlice(rng, 64*64), make([]float32, 64*64)
	Gemm(false, false, 64, 64, 64, 1, a, 64, b, 64, 0, c, 64) // warm the pool
	allocs := testing.AllocsPerRun(50, func() {
		Gemm(false, true, 64, 64, 64, 1, a, 64, b, 64, 0, c, 64)
	})
	assert.Zero(t, allocs, "Gemm 64x64x64")
	x, y, dst := randTensor(rng, 8, 20, 16), randTensor(rng, 8, 20, 16), New(8, 20, 20)
	MatMul(dst, x, y, false, true)
	allocs = testing.AllocsPerRun(50, func() { MatMul(dst, x, y, false, true) })
	assert.Zero(t, allocs, "MatMul [8,20,16]x[8,20,16]^T")

	// Large enough to be split over the worker pool (when GOMAXPROCS > 1):
	// the parallel paths must not allocate either.
	pa, pb, pc := randSlice(rng, 256*64), randSlice(rng, 64*256), make([]float32, 256*256)
	Gemm(false, false, 256, 256, 64, 1, pa, 64, pb, 256, 0, pc, 256)
	allocs = testing.AllocsPerRun(20, func() {
		Gemm(false, false, 256, 256, 64, 1, pa, 64, pb, 256, 0, pc, 256)
	})
	assert.Zero(t, allocs, "parallel Gemm 256x256x64")
	qa, qb, qc := randSliceOf[float64](rng, 256*64), randSliceOf[float64](rng, 64*256), make([]float64, 256*256)
	Gemm64(false, false, 256, 256, 64, 1, qa, 64, qb, 256, 0, qc, 256)
	allocs = testing.AllocsPerRun(20, func() {
		Gemm64(false, false, 256, 256, 64, 1, qa, 64, qb, 256, 0, qc, 256)
		Gemm64(true, false, 64, 64, 64, 1, qa, 64, qb, 64, 0, qc, 64)
	})
	assert.Zero(t, allocs, "Gemm64 parallel 256x256x64 and serial 64x64x64")
	bx, by, bdst := randTensor(rng, 64, 50, 64), randTensor(rng, 64, 50, 64), New(64, 50, 50)
	MatMul(bdst, bx, by, false, true)
	allocs = testing.AllocsPerRun(20, func() { MatMul(bdst, bx, by, false, true) })
	assert.Zero(t, allocs, "parallel batched MatMul [64,50,64]x[64,50,64]^T")
}
