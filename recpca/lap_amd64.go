//go:build amd64 && !purego

package recpca

import "golang.org/x/sys/cpu"

var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// subRowsBlocks runs subRows' AVX2+FMA kernel on the longest prefix of out
// whose length is a multiple of 4 and returns that length; without AVX2 and
// FMA it does nothing and subRows' portable loop does it all. x holds 1 or 4
// rows, each at least as long as out; with 4, the kernel prefetches the rows
// pre (each at least as long as out) on the way.
func subRowsBlocks(out []float64, w *[4]float64, x, pre *[4][]float32, k int) int {
	n := len(out) &^ 3
	if !hasAVX2FMA || n == 0 {
		return 0
	}
	if k == 1 {
		_ = x[0][n-1]
		subRow1AVX2(&out[0], &x[0][0], w[0], n)
		return n
	}
	_, _, _, _ = x[0][n-1], x[1][n-1], x[2][n-1], x[3][n-1]
	_, _, _, _ = pre[0][n-1], pre[1][n-1], pre[2][n-1], pre[3][n-1]
	subRows4AVX2(&out[0], &x[0][0], &x[1][0], &x[2][0], &x[3][0], w, n, &pre[0][0], &pre[1][0], &pre[2][0], &pre[3][0])
	return n
}

// subRows4AVX2 sets out[c] −= w[0]·x0[c] + w[1]·x1[c] + w[2]·x2[c] +
// w[3]·x3[c] for c < n (n a positive multiple of 4), the float32 rows
// widened to float64, and prefetches p0..p3[:n].
//
//go:noescape
func subRows4AVX2(out *float64, x0, x1, x2, x3 *float32, w *[4]float64, n int, p0, p1, p2, p3 *float32)

// subRow1AVX2 sets out[c] −= w·x0[c] for c < n (n a positive multiple of 4).
//
//go:noescape
func subRow1AVX2(out *float64, x0 *float32, w float64, n int)

// sqDiffBlocks runs sqDiff32's AVX2+FMA kernel on the longest prefix of x
// whose length is a multiple of 4 and returns that length and the prefix's
// sum; without AVX2 and FMA it does nothing. y (and mu when em ≠ 0) are at
// least as long as x.
func sqDiffBlocks(x, y []float32, a, b, em float64, mu []float64) (int, float64) {
	n := len(x) &^ 3
	if !hasAVX2FMA || n == 0 {
		return 0, 0
	}
	_ = y[n-1]
	if em == 0 {
		return n, sqDiffAVX2(&x[0], &y[0], n, a, b)
	}
	_ = mu[n-1]
	return n, sqDiffMuAVX2(&x[0], &y[0], &mu[0], n, a, b, em)
}

// sqDiffAVX2 returns Σ_c (a·x[c] − b·y[c])² for c < n (n a positive
// multiple of 4).
//
//go:noescape
func sqDiffAVX2(x, y *float32, n int, a, b float64) float64

// sqDiffMuAVX2 returns Σ_c (a·x[c] − b·y[c] − em·mu[c])² for c < n (n a
// positive multiple of 4).
//
//go:noescape
func sqDiffMuAVX2(x, y *float32, mu *float64, n int, a, b, em float64) float64

// widenBlocks runs widen's AVX2 kernel on the longest prefix of out whose
// length is a multiple of 4 and returns that length; without AVX2 and FMA it
// does nothing. x (and mu when not nil) are at least as long as out.
func widenBlocks(out []float64, x []float32, s float64, mu []float64) int {
	n := len(out) &^ 3
	if !hasAVX2FMA || n == 0 {
		return 0
	}
	_ = x[n-1]
	var mp *float64
	if mu != nil {
		_ = mu[n-1]
		mp = &mu[0]
	}
	widenAVX2(&out[0], &x[0], mp, n, s)
	return n
}

// widenAVX2 sets out[c] = float64(x[c])·s − mu[c] (mu nil: without the
// subtraction) for c < n (n a positive multiple of 4).
//
//go:noescape
func widenAVX2(out *float64, x *float32, mu *float64, n int, s float64)
