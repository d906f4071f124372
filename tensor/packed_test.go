package tensor

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGemmPackedAMatchesGemm multiplies pre-packed operands (both packing
// orientations) and checks the result against the compensated reference and
// against Gemm on the same operands, which it must equal bit for bit (same
// kernel, same blocks, same summation order). Sizes straddle the tiles, the
// cache blocks and the parallel threshold.
func TestGemmPackedAMatchesGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	cases := randomCases(rng, gemmSizes[:len(gemmSizes)-1], 40)
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, mnk := range [][3]int{{1, 1, 1}, {7, 33, 600}, {301, 70, 300}, {40, 1000, 290}} {
				g := gemmCase{transA: tA, transB: tB, m: mnk[0], n: mnk[1], k: mnk[2], alpha: 0.5, beta: 2}
				g.lda, g.ldb, g.ldc = g.k+1, g.n, g.n+3
				if tA {
					g.lda = g.m + 2
				}
				if tB {
					g.ldb = g.k + 5
				}
				cases = append(cases, g)
			}
		}
	}
	var pa *PackedA
	for _, g := range cases {
		a, b, c := operands[float32](g, rng)
		want, bound := refGemm(g, a, b, c)
		viaGemm := append([]float32(nil), c...)
		Gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, viaGemm, g.ldc)
		pa = PackA(pa, g.transA, g.m, g.k, a, g.lda) // storage reused across cases
		require.Equal(t, g.m, pa.Rows())
		require.Equal(t, g.k, pa.Cols())
		GemmPackedA(pa, g.transB, g.n, g.alpha, b, g.ldb, g.beta, c, g.ldc)
		checkGemmResult(t, g, c, want, bound)
		require.Equal(t, viaGemm, c, "%v", g)
	}
}

// TestPackedAColRange splits k into chunks (not multiples of any block) and
// checks each chunk's product against Gemm on the same columns of op(A) and
// rows of op(B), bit for bit.
func TestPackedAColRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const m, n, k = 301, 40, 1000
	for _, transA := range []bool{false, true} {
		lda := k
		if transA {
			lda = m
		}
		a := randSlice(rng, m*k)
		b := randSlice(rng, k*n)
		pa := PackA(nil, transA, m, k, a, lda)
		for _, r := range [][2]int{{0, k}, {0, 300}, {300, 555}, {555, k}, {17, 18}, {400, 400}} {
			lo, hi := r[0], r[1]
			view := pa.ColRange(lo, hi)
			require.Equal(t, hi-lo, view.Cols())
			got := randSlice(rng, m*n)
			want := append([]float32(nil), got...)
			GemmPackedA(&view, false, n, 1, b[lo*n:], n, 0.5, got, n)
			ao := lo
			if transA {
				ao = lo * lda
			}
			Gemm(transA, false, m, n, hi-lo, 1, a[ao:], lda, b[lo*n:], n, 0.5, want, n)
			require.Equal(t, want, got, "transA=%v cols [%d, %d)", transA, lo, hi)
		}
	}
}

func TestPackedAPanics(t *testing.T) {
	s := make([]float32, 12)
	pa := PackA(nil, false, 3, 4, s, 4)
	for name, f := range map[string]func(){
		"PackA lda too small":   func() { PackA(nil, false, 3, 4, s, 3) },
		"PackA a too short":     func() { PackA(nil, true, 4, 4, s, 4) },
		"PackA negative":        func() { PackA(nil, false, -1, 4, s, 4) },
		"B too short":           func() { GemmPackedA(pa, false, 4, 1, s, 4, 0, make([]float32, 16), 4) },
		"ldc too small":         func() { GemmPackedA(pa, false, 3, 1, s, 3, 0, s, 2) },
		"negative n":            func() { GemmPackedA(pa, false, -1, 1, s, 1, 0, s, 1) },
		"ColRange past the end": func() { pa.ColRange(2, 5) },
		"ColRange reversed":     func() { pa.ColRange(3, 2) },
	} {
		assertShapePanic(t, f, name)
	}
}

func TestGemmPackedAAllocsNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	rng := rand.New(rand.NewPCG(25, 26))
	for _, s := range [][3]int{{64, 64, 64}, {512, 64, 256}} { // serial, then split
		m, n, k := s[0], s[1], s[2]
		a, b, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		pa := PackA(nil, false, m, k, a, k)
		GemmPackedA(pa, false, n, 1, b, n, 0, c, n)
		allocs := testing.AllocsPerRun(20, func() {
			GemmPackedA(pa, false, n, 1, b, n, 0, c, n)
			v := pa.ColRange(0, k/2)
			GemmPackedA(&v, false, n, 1, b, n, 1, c, n)
		})
		assert.Zero(t, allocs, "GemmPackedA %dx%dx%d", m, n, k)
	}
}
