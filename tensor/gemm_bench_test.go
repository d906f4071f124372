package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// BenchmarkGemm puts llmrec's Gemm beside gonum's blas32.Gemm (pure Go) on the
// same operands, reporting GFLOP/s (2·m·n·k per call). Run single-threaded
// with -cpu 1:
//
//	go test ./tensor/ -run '^$' -bench Gemm -cpu 1 -benchtime 20x
func BenchmarkGemm(b *testing.B) {
	for _, s := range [][3]int{{256, 64, 64}, {4096, 64, 64}, {1024, 1024, 1024}} {
		m, n, k := s[0], s[1], s[2]
		rng := rand.New(rand.NewPCG(1, 1))
		a, bm, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		flops := 2 * float64(m) * float64(n) * float64(k)
		name := fmt.Sprintf("%dx%dx%d", m, n, k)
		b.Run("llmrec/"+name, func(b *testing.B) {
			// Warm up (pool buffers, page faults) before b.Loop starts the
			// clock: with -benchtime 20x a cold first call would dominate.
			Gemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
			for b.Loop() {
				Gemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run("gonum/"+name, func(b *testing.B) {
			ga := blas32.General{Rows: m, Cols: k, Stride: k, Data: a}
			gb := blas32.General{Rows: k, Cols: n, Stride: n, Data: bm}
			gc := blas32.General{Rows: m, Cols: n, Stride: n, Data: c}
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gb, 0, gc)
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gb, 0, gc)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMatMulAttention is the attention-score product of a transformer
// recommender: [B·H, T, d]·[B·H, T, d]ᵀ with B·H = 256, T = 50, d = 64, and
// the following weights·values product [B·H, T, T]·[B·H, T, d].
func BenchmarkMatMulAttention(b *testing.B) {
	const bh, t, d = 256, 50, 64
	rng := rand.New(rand.NewPCG(2, 2))
	q, kk := randTensor(rng, bh, t, d), randTensor(rng, bh, t, d)
	scores, out := New(bh, t, t), New(bh, t, d)
	b.Run("QKt", func(b *testing.B) {
		MatMul(scores, q, kk, false, true)
		for b.Loop() {
			MatMul(scores, q, kk, false, true)
		}
		b.ReportMetric(2*bh*t*t*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("PV", func(b *testing.B) {
		MatMul(out, scores, kk, false, false)
		for b.Loop() {
			MatMul(out, scores, kk, false, false)
		}
		b.ReportMetric(2*bh*t*t*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("gonum-QKt", func(b *testing.B) {
		for b.Loop() {
			for i := 0; i < bh; i++ {
				ga := blas32.General{Rows: t, Cols: d, Stride: d, Data: q.Data[i*t*d : (i+1)*t*d]}
				gb := blas32.General{Rows: t, Cols: d, Stride: d, Data: kk.Data[i*t*d : (i+1)*t*d]}
				gc := blas32.General{Rows: t, Cols: t, Stride: t, Data: scores.Data[i*t*t : (i+1)*t*t]}
				blas32.Gemm(blas.NoTrans, blas.Trans, 1, ga, gb, 0, gc)
			}
		}
		b.ReportMetric(2*bh*t*t*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
