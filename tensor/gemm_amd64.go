//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// pickKernel returns the AVX2+FMA assembly micro-kernel when the CPU has
// both extensions, and the portable Go one otherwise.
func pickKernel() microKernel {
	if hasAVX2FMA {
		return avx2Kernel
	}
	return goKernel
}

// hasAVX2FMA is a read-only fact about the CPU, computed once.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

var avx2Kernel = microKernel{mr: 6, nr: 16, fn: kernel6x16AVX2}

func kernel6x16AVX2(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	// The driver guarantees len(a) >= 6·kc, len(b) >= 16·kc and that the
	// 6 x 16 tile at c lies inside c; check the cheap part anyway.
	_ = a[6*kc-1]
	_ = b[16*kc-1]
	_ = c[5*ldc+15]
	sgemmKernel6x16(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// sgemmKernel6x16 computes the 6 x 16 tile C = alpha·Â·B̂ + beta·C (C only
// written when beta is ±0) from packed slivers; kc >= 1.
//
//go:noescape
func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)
