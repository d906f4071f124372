package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// gemm64Shapes are the float64 products of a Rec-PCA fit on Beauty (12,101
// items x 512 dims -> 64): the Gram matrix X̄ᵀX̄, the projection X̄W, and a
// 512-square times a 512 x 128 block.
var gemm64Shapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"gram-12101x512T.12101x512", true, false, 512, 512, 12101},
	{"12101x512.512x64", false, false, 12101, 64, 512},
	{"512x512.512x128", false, false, 512, 128, 512},
}

// BenchmarkGemm64 puts every float64 micro-kernel this CPU runs (through the
// parallel driver, as Gemm64 runs its fastest one) beside gonum's
// blas64.Gemm on the same operands, reporting GFLOP/s (2·m·n·k per call):
//
//	go test ./tensor/ -run '^$' -bench Gemm64 -benchtime 10x
func BenchmarkGemm64(b *testing.B) {
	for _, s := range gemm64Shapes {
		rng := rand.New(rand.NewPCG(1, 1))
		ar, ac, br, bc := s.m, s.k, s.k, s.n
		if s.transA {
			ar, ac = ac, ar
		}
		if s.transB {
			br, bc = bc, br
		}
		a, bm := randSliceOf[float64](rng, ar*ac), randSliceOf[float64](rng, br*bc)
		c := make([]float64, s.m*s.n)
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		for _, kern := range kernelsFor[float64]() {
			b.Run(fmt.Sprintf("llmrec-%s/%s", kern.name, s.name), func(b *testing.B) {
				run := func() {
					ws := getWorkspace()
					gemmDispatch(ws, runtime.GOMAXPROCS(0), kern, nil, s.transA, s.transB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
					putWorkspace(ws)
				}
				run() // warm up pool buffers and page faults before the clock
				for b.Loop() {
					run()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		b.Run("gonum/"+s.name, func(b *testing.B) {
			ta, tb := blas.NoTrans, blas.NoTrans
			if s.transA {
				ta = blas.Trans
			}
			if s.transB {
				tb = blas.Trans
			}
			ga := blas64.General{Rows: ar, Cols: ac, Stride: ac, Data: a}
			gb := blas64.General{Rows: br, Cols: bc, Stride: bc, Data: bm}
			gc := blas64.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: c}
			blas64.Gemm(ta, tb, 1, ga, gb, 0, gc)
			for b.Loop() {
				blas64.Gemm(ta, tb, 1, ga, gb, 0, gc)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGemmUpper64 sums the upper triangle of XᵀX for X of 12,101 x 512
// (Rec-PCA's Gram on Beauty) over chunks of 256 rows three ways: GemmUpper64,
// the loop of Gemm64 calls over row panels of 64 it replaces (each call
// repacks the columns right of its panel), and the full Gemm64 of each chunk.
// GFLOP/s counts the triangle's multiply-adds (n(n+1)/2·k, times 2) for all
// three:
//
//	go test ./tensor/ -run '^$' -bench GemmUpper64 -benchtime 10x
func BenchmarkGemmUpper64(b *testing.B) {
	const rows, n, chunk, panel = 12101, 512, 256, 64
	x := randSliceOf[float64](rand.New(rand.NewPCG(1, 1)), rows*n)
	c := make([]float64, n*n)
	flops := float64(n) * float64(n+1) * float64(rows)
	for _, v := range []struct {
		name string
		add  func(k int, xc []float64)
	}{
		{"GemmUpper64", func(k int, xc []float64) { GemmUpper64(true, false, n, k, 1, xc, n, xc, n, 1, c, n) }},
		{"Gemm64-panels", func(k int, xc []float64) {
			for i0 := 0; i0 < n; i0 += panel {
				Gemm64(true, false, panel, n-i0, k, 1, xc[i0:], n, xc[i0:], n, 1, c[i0*n+i0:], n)
			}
		}},
		{"Gemm64-full", func(k int, xc []float64) { Gemm64(true, false, n, n, k, 1, xc, n, xc, n, 1, c, n) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			run := func() {
				for lo := 0; lo < rows; lo += chunk {
					hi := min(lo+chunk, rows)
					v.add(hi-lo, x[lo*n:hi*n])
				}
			}
			run()
			for b.Loop() {
				run()
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
