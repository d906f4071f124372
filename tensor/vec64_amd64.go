//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// vec64AVX2 is a read-only fact about the CPU, computed once: whether the
// AVX2+FMA float64 vector loops can run.
var vec64AVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The callers guarantee len(x) >= 1 and len(y), len(z) == len(x).

func dot64(x, y []float64) float64 {
	if vec64AVX2 {
		return dot64AVX2(&x[0], &y[0], len(x))
	}
	return dot64Go(x, y)
}

func axpy64(alpha float64, x, y []float64) {
	if vec64AVX2 {
		axpy64AVX2(alpha, &x[0], &y[0], len(x))
		return
	}
	axpy64Go(alpha, x, y)
}

func dotAxpy64(alpha float64, x, y, z []float64) float64 {
	if vec64AVX2 {
		return dotAxpy64AVX2(alpha, &x[0], &y[0], &z[0], len(x))
	}
	return dotAxpy64Go(alpha, x, y, z)
}

// vec64Impls lists the implementations this CPU can run.
func vec64Impls() []vec64Impl {
	out := []vec64Impl{vec64Go}
	if vec64AVX2 {
		out = append(out, vec64Impl{"avx2",
			func(x, y []float64) float64 { return dot64AVX2(&x[0], &y[0], len(x)) },
			func(alpha float64, x, y []float64) { axpy64AVX2(alpha, &x[0], &y[0], len(x)) },
			func(alpha float64, x, y, z []float64) float64 {
				return dotAxpy64AVX2(alpha, &x[0], &y[0], &z[0], len(x))
			},
		})
	}
	return out
}

// dot64AVX2 returns Σ x[i]·y[i], i < n (n >= 1).
//
//go:noescape
func dot64AVX2(x, y *float64, n int) float64

// axpy64AVX2 adds alpha·x[i] to y[i], i < n (n >= 1).
//
//go:noescape
func axpy64AVX2(alpha float64, x, y *float64, n int)

// dotAxpy64AVX2 returns Σ x[i]·y[i] and adds alpha·x[i] to z[i], i < n
// (n >= 1).
//
//go:noescape
func dotAxpy64AVX2(alpha float64, x, y, z *float64, n int) float64
