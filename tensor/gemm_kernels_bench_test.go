package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchKernels runs one product with every assembly kernel for T (the Go
// kernel too when it is the only one), through the parallel driver as Gemm
// and Gemm64 run their fastest one, reporting GFLOP/s.
func benchKernels[T float](b *testing.B, name string, transA, transB bool, m, n, k int, a []T, lda int, bm []T, ldb int, c []T, ldc int) {
	flops := 2 * float64(m) * float64(n) * float64(k)
	ks := kernelsFor[T]()
	if len(ks) > 1 {
		ks = ks[:len(ks)-1]
	}
	for _, kern := range ks {
		b.Run(kern.name+"/"+name, func(b *testing.B) {
			run := func() {
				ws := getWorkspace()
				gemmDispatch(ws, runtime.GOMAXPROCS(0), kern, nil, transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, ldc)
				putWorkspace(ws)
			}
			run() // warm up pool buffers and page faults before the clock
			for b.Loop() {
				run()
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkKernels32 puts the float32 kernels side by side on
// BenchmarkGemm's shapes and the attention products:
//
//	go test ./tensor/ -run '^$' -bench Kernels32 -benchtime 20x
func BenchmarkKernels32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][3]int{{256, 64, 64}, {4096, 64, 64}, {1024, 1024, 1024}, {50, 50, 64}} {
		m, n, k := s[0], s[1], s[2]
		a, bm, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		benchKernels(b, fmt.Sprintf("%dx%dx%d", m, n, k), false, false, m, n, k, a, k, bm, n, c, n)
	}
}

// BenchmarkKernels32RecPCA50k puts the float32 kernels side by side on the
// operator products of a Rec-PCA fit at 50,000 x 4,096 -> 64 (k = 72 with
// oversampling): X̄V, X̄ᵀU as one transposed product, and X̄ᵀU as recpca
// computes it (Uᵀ·X̄ over chunks of 2,048 rows). It allocates ~0.9 GB:
//
//	go test ./tensor/ -run '^$' -bench Kernels32RecPCA50k -benchtime 3x
func BenchmarkKernels32RecPCA50k(b *testing.B) {
	const n, d, k, chunk = rp50kN, rp50kD, rp50kK, rp50kChunk
	x, v, u, ut, out := recpca50kOperands()
	benchKernels(b, "XV-50000x4096.4096x72", false, false, n, k, d, x, d, v, k, out, k)
	benchKernels(b, "XtU-4096x50000T.50000x72", true, false, d, k, n, x, d, u, k, out, k)
	// The chunked form: one product per chunk, 25 in all; reported per chunk.
	benchKernels(b, "UtX-chunk-72x2048.2048x4096", false, false, k, d, chunk, ut, n, x, d, out, d)
}

// The shapes of recpca's operator products at 50,000 x 4,096 -> 64: k = 72
// columns with oversampling, X̄ᵀU summed over chunks of 2,048 rows.
const rp50kN, rp50kD, rp50kK, rp50kChunk = 50000, 4096, 72, 2048

// recpca50kOperands returns X̄ (n x d), V (d x k), U (n x k), Uᵀ (k x n) and
// an n x k destination, random.
func recpca50kOperands() (x, v, u, ut, out []float32) {
	rng := rand.New(rand.NewPCG(2, 2))
	x, v = randSlice(rng, rp50kN*rp50kD), randSlice(rng, rp50kD*rp50kK)
	u, ut = randSlice(rng, rp50kN*rp50kK), randSlice(rng, rp50kK*rp50kN)
	return x, v, u, ut, make([]float32, rp50kN*rp50kK)
}

// BenchmarkPackedRecPCA50k puts Gemm (repacking X̄ on every call) beside
// GemmPackedA (X̄ packed once) on the operator products of a Rec-PCA fit at
// 50,000 x 4,096 -> 64 (k = 72), X̄V and X̄ᵀU, the latter summed over chunks
// of 2,048 rows as recpca does (Gemm as Uᵀ·X̄ per chunk, GemmPackedA as
// X̄ᵀ[:, chunk]·U[chunk]), and reports what packing once costs. It
// allocates ~2.6 GB:
//
//	go test ./tensor/ -run '^$' -bench PackedRecPCA50k -benchtime 3x
func BenchmarkPackedRecPCA50k(b *testing.B) {
	const n, d, k, chunk = rp50kN, rp50kD, rp50kK, rp50kChunk
	x, v, u, ut, out := recpca50kOperands()
	flops := 2.0 * n * d * k
	report := func(b *testing.B) {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	var px, pxt *PackedA
	b.Run("PackA-X", func(b *testing.B) {
		for b.Loop() {
			px = PackA(px, false, n, d, x, d)
		}
	})
	b.Run("PackA-Xt", func(b *testing.B) {
		for b.Loop() {
			pxt = PackA(pxt, true, d, n, x, d)
		}
	})
	b.Run("XV/Gemm", func(b *testing.B) {
		for b.Loop() {
			Gemm(false, false, n, k, d, 1, x, d, v, k, 0, out, k)
		}
		report(b)
	})
	b.Run("XV/GemmPackedA", func(b *testing.B) {
		for b.Loop() {
			GemmPackedA(px, false, k, 1, v, k, 0, out, k)
		}
		report(b)
	})
	b.Run("XtU-chunks/Gemm", func(b *testing.B) {
		for b.Loop() {
			for lo := 0; lo < n; lo += chunk {
				hi := min(lo+chunk, n)
				Gemm(false, false, k, d, hi-lo, 1, ut[lo:], n, x[lo*d:hi*d], d, 0, out[:k*d], d)
			}
		}
		report(b)
	})
	b.Run("XtU-chunks/GemmPackedA", func(b *testing.B) {
		for b.Loop() {
			for lo := 0; lo < n; lo += chunk {
				hi := min(lo+chunk, n)
				view := pxt.ColRange(lo, hi)
				GemmPackedA(&view, false, k, 1, u[lo*k:], k, 0, out[:d*k], k)
			}
		}
		report(b)
	})
}

// BenchmarkMicroKernel runs each micro-kernel alone on packed slivers that
// stay in L1 (kc = 256), single-threaded: the kernel's own speed, without
// packing, memory or the driver.
func BenchmarkMicroKernel(b *testing.B) {
	benchMicro[float32](b)
	benchMicro[float64](b)
}

func benchMicro[T float](b *testing.B) {
	const kc = 256
	rng := rand.New(rand.NewPCG(3, 3))
	for _, kern := range allKernels[T]() {
		a, bp := randSliceOf[T](rng, kc*kern.mr), randSliceOf[T](rng, kc*kern.nr)
		c := make([]T, kern.mr*kern.nr)
		b.Run(fmt.Sprintf("%T/%s", T(0), kern.name), func(b *testing.B) {
			for b.Loop() {
				kern.fn(kc, a, bp, c, kern.nr, 1, 1)
			}
			b.ReportMetric(2*kc*float64(kern.mr*kern.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
