//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// CPU facts, computed once and read-only.
var (
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512F = cpu.X86.HasAVX512F
)

// kernels32 and kernels64 list the micro-kernels this CPU runs, fastest
// first: the assembly ones its extensions allow, then the portable Go one.
var (
	kernels32 = withFallback(&goKernel32, when(hasAVX512F, avx512Kernel32), when(hasAVX2FMA, avx2Kernel32))
	kernels64 = withFallback(&goKernel64, when(hasAVX512F, avx512Kernel64), when(hasAVX2FMA, avx2Kernel64))
)

// when returns k if the CPU can run it and nil otherwise.
func when[T float](ok bool, k *microKernel[T]) *microKernel[T] {
	if !ok {
		return nil
	}
	return k
}

// withFallback returns the non-nil kernels in order, then the fallback.
func withFallback[T float](fallback *microKernel[T], ks ...*microKernel[T]) []*microKernel[T] {
	var out []*microKernel[T]
	for _, k := range ks {
		if k != nil {
			out = append(out, k)
		}
	}
	return append(out, fallback)
}

var (
	avx2Kernel32   = &microKernel[float32]{name: "avx2-6x16", mr: 6, nr: 16, kc: gemmKC, mc: gemmMC, nc: gemmNC, fn: kernel6x16AVX2}
	avx512Kernel32 = &microKernel[float32]{name: "avx512-6x32", mr: 6, nr: 32, kc: gemmKC, mc: gemmMC, nc: gemmNC, fn: kernel6x32AVX512}
	avx2Kernel64   = &microKernel[float64]{name: "avx2-6x8", mr: 6, nr: 8, kc: gemmKC, mc: gemmMC, nc: gemmNC, fn: kernel6x8AVX2F64}
	avx512Kernel64 = &microKernel[float64]{name: "avx512-6x16", mr: 6, nr: 16, kc: gemmKC, mc: gemmMC, nc: gemmNC, fn: kernel6x16AVX512F64}
)

// The Go wrappers check what the driver guarantees (len(a) >= mr·kc,
// len(b) >= nr·kc, the mr x nr tile at c inside c) before the assembly
// reads and writes through raw pointers.

func kernel6x16AVX2(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[6*kc-1], b[16*kc-1], c[5*ldc+15]
	sgemmKernel6x16(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func kernel6x32AVX512(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[6*kc-1], b[32*kc-1], c[5*ldc+31]
	sgemmKernel6x32AVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func kernel6x8AVX2F64(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	_, _, _ = a[6*kc-1], b[8*kc-1], c[5*ldc+7]
	dgemmKernel6x8AVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func kernel6x16AVX512F64(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	_, _, _ = a[6*kc-1], b[16*kc-1], c[5*ldc+15]
	dgemmKernel6x16AVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// The assembly kernels compute the mr x nr tile C = alpha·Â·B̂ + beta·C (C
// only written when beta is ±0) from packed slivers; kc >= 1.

//go:noescape
func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernel6x32AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dgemmKernel6x8AVX2(kc int, a, b, c *float64, ldc int, alpha, beta float64)

//go:noescape
func dgemmKernel6x16AVX512(kc int, a, b, c *float64, ldc int, alpha, beta float64)
