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

// The assembly kernels, each with its half-width tail kernel.
var (
	avx2Kernel32   = asmKernel("avx2-6x16", 16, sgemmKernel6x16, asmKernel("avx2-6x8", 8, sgemmKernel6x8, nil))
	avx512Kernel32 = asmKernel("avx512-6x32", 32, sgemmKernel6x32AVX512, asmKernel("avx512-6x16", 16, sgemmKernel6x16AVX512, nil))
	avx2Kernel64   = asmKernel("avx2-6x8", 8, dgemmKernel6x8AVX2, asmKernel("avx2-6x4", 4, dgemmKernel6x4AVX2, nil))
	avx512Kernel64 = asmKernel("avx512-6x16", 16, dgemmKernel6x16AVX512, asmKernel("avx512-6x8", 8, dgemmKernel6x8AVX512, nil))
)

// asmKernel describes an assembly kernel of a 6 x nr tile. Its Go side
// checks what the driver guarantees (len(a) >= 6·kc, len(b) >= nr·kc, the
// tile at c inside c) before the assembly reads and writes through raw
// pointers.
func asmKernel[T float](name string, nr int, fn func(kc int, a, b, c *T, ldc int, alpha, beta T), tail *microKernel[T]) *microKernel[T] {
	return &microKernel[T]{name: name, mr: 6, nr: nr, kc: gemmKC, mc: gemmMC, nc: gemmNC, tail: tail,
		fn: func(kc int, a, b, c []T, ldc int, alpha, beta T) {
			_, _, _ = a[6*kc-1], b[nr*kc-1], c[5*ldc+nr-1]
			fn(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
		}}
}

// The assembly kernels compute the mr x nr tile C = alpha·Â·B̂ + beta·C (C
// only written when beta is ±0) from packed slivers; kc >= 1.

//go:noescape
func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernel6x8(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernel6x16AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dgemmKernel6x4AVX2(kc int, a, b, c *float64, ldc int, alpha, beta float64)

//go:noescape
func dgemmKernel6x8AVX512(kc int, a, b, c *float64, ldc int, alpha, beta float64)

//go:noescape
func sgemmKernel6x32AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dgemmKernel6x8AVX2(kc int, a, b, c *float64, ldc int, alpha, beta float64)

//go:noescape
func dgemmKernel6x16AVX512(kc int, a, b, c *float64, ldc int, alpha, beta float64)
