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
			symvUpper64,
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

// symvUpper64 is SymvUpper64 after its checks (y cleared by the caller).
// With AVX2+FMA it takes four rows at a time: their 4 x 4 diagonal block
// here, the columns right of it (a multiple of 4) in symv4AVX2, the last
// n mod 4 columns here.
func symvUpper64(n int, a []float64, lda int, x, y []float64) {
	if !vec64AVX2 {
		symvUpper64Go(n, a, lda, x, y)
		return
	}
	i := 0
	for ; i+4 <= n; i += 4 {
		// The 4 x 4 diagonal block: its upper triangle row by row, its
		// mirrored strict lower part into y.
		r0 := a[i*lda+i : i*lda+i+4]
		r1 := a[(i+1)*lda+i+1 : (i+1)*lda+i+4]
		r2 := a[(i+2)*lda+i+2 : (i+2)*lda+i+4]
		a33 := a[(i+3)*lda+i+3]
		xr := [4]float64(x[i : i+4])
		dots := [4]float64{
			r0[0]*xr[0] + r0[1]*xr[1] + r0[2]*xr[2] + r0[3]*xr[3],
			r1[0]*xr[1] + r1[1]*xr[2] + r1[2]*xr[3],
			r2[0]*xr[2] + r2[1]*xr[3],
			a33 * xr[3],
		}
		yb := y[i : i+4]
		yb[1] += r0[1] * xr[0]
		yb[2] += r0[2]*xr[0] + r1[1]*xr[1]
		yb[3] += r0[3]*xr[0] + r1[2]*xr[1] + r2[1]*xr[2]
		rest := n - i - 4
		if l4 := rest &^ 3; l4 > 0 {
			_ = a[(i+3)*lda+i+4+l4-1]
			symv4AVX2(&a[i*lda+i+4], lda, &x[i+4], &y[i+4], l4, &xr, &dots)
		}
		for j := n - rest&3; j < n; j++ {
			for r := range 4 {
				v := a[(i+r)*lda+j]
				dots[r] += v * x[j]
				y[j] += v * xr[r]
			}
		}
		yb[0] += dots[0]
		yb[1] += dots[1]
		yb[2] += dots[2]
		yb[3] += dots[3]
	}
	symvUpperRows(n, i, a, lda, x, y)
}

// symv4AVX2 adds the products of four rows of a (row stride lda, n columns,
// n a positive multiple of 4) with x to dots and their combination
// Σ_r xr[r]·row_r to y.
//
//go:noescape
func symv4AVX2(a *float64, lda int, x, y *float64, n int, xr, dots *[4]float64)
