package tensor

import "fmt"

// Float64 level-1 and level-2 kernels for dense linear algebra in float64
// (the eigensolver of package recpca): dot products, axpy, their fused form
// and the symmetric matrix-vector product. On amd64 with AVX2 and FMA they
// run assembly loops chosen at run time; elsewhere, or with the purego build
// tag, portable Go loops with the same results up to rounding order.

// Dot64 returns Σ x[i]·y[i] over i < len(x). It panics with ErrShape when y
// is shorter than x.
func Dot64(x, y []float64) float64 {
	if len(y) < len(x) {
		panic(fmt.Errorf("%w: Dot64 len(x)=%d len(y)=%d", ErrShape, len(x), len(y)))
	}
	if len(x) == 0 {
		return 0
	}
	return dot64(x, y[:len(x)])
}

// Axpy64 adds alpha·x[i] to y[i] for i < len(x). It panics with ErrShape
// when y is shorter than x.
func Axpy64(alpha float64, x, y []float64) {
	if len(y) < len(x) {
		panic(fmt.Errorf("%w: Axpy64 len(x)=%d len(y)=%d", ErrShape, len(x), len(y)))
	}
	if len(x) == 0 {
		return
	}
	axpy64(alpha, x, y[:len(x)])
}

// DotAxpy64 returns Σ x[i]·y[i] and adds alpha·x[i] to z[i], over i <
// len(x), in one pass over x: the inner step of a symmetric matrix-vector
// product that reads each stored entry once. z must not overlap x or y. It
// panics with ErrShape when y or z is shorter than x.
func DotAxpy64(alpha float64, x, y, z []float64) float64 {
	if len(y) < len(x) || len(z) < len(x) {
		panic(fmt.Errorf("%w: DotAxpy64 len(x)=%d len(y)=%d len(z)=%d", ErrShape, len(x), len(y), len(z)))
	}
	if len(x) == 0 {
		return 0
	}
	return dotAxpy64(alpha, x, y[:len(x)], z[:len(x)])
}

// SymvUpper64 sets y = A·x for the symmetric n x n matrix A whose upper
// triangle (diagonal included) is stored row-major in a with row stride lda;
// the strict lower triangle of a is never read. x and y have length >= n and
// must not overlap. It panics with ErrShape on inconsistent sizes.
func SymvUpper64(n int, a []float64, lda int, x, y []float64) {
	if n < 0 || lda < max(n, 1) || len(x) < n || len(y) < n || (n > 0 && len(a) < (n-1)*lda+n) {
		panic(fmt.Errorf("%w: SymvUpper64 n=%d lda=%d len(a)=%d len(x)=%d len(y)=%d", ErrShape, n, lda, len(a), len(x), len(y)))
	}
	clear(y[:n])
	symvUpper64(n, a, lda, x, y)
}

// symvUpper64Go is the portable symvUpper64: row by row, one fused dot
// product and axpy each.
func symvUpper64Go(n int, a []float64, lda int, x, y []float64) {
	symvUpperRows(n, 0, a, lda, x, y)
}

// symvUpperRows adds the contributions of rows from.. of the stored upper
// triangle to y (both halves of each row's symmetric pair).
func symvUpperRows(n, from int, a []float64, lda int, x, y []float64) {
	for i := from; i < n; i++ {
		row := a[i*lda+i : i*lda+n]
		xi := x[i]
		s := row[0] * xi
		if i+1 < n {
			s += dotAxpy64(xi, row[1:], x[i+1:n], y[i+1:n])
		}
		y[i] += s
	}
}

// dot64Go is the portable float64 dot product.
func dot64Go(x, y []float64) float64 { return dotGo(x, y) }

// axpy64Go is the portable axpy.
func axpy64Go(alpha float64, x, y []float64) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// dotAxpy64Go is the portable fused dot product and axpy.
func dotAxpy64Go(alpha float64, x, y, z []float64) float64 {
	y = y[:len(x)]
	z = z[:len(x)]
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		a, b := x[i], x[i+1]
		s0 += a * y[i]
		s1 += b * y[i+1]
		z[i] += alpha * a
		z[i+1] += alpha * b
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
		z[i] += alpha * x[i]
	}
	return s0 + s1
}

// vec64Impl is one implementation of the float64 vector kernels (tests run
// every implementation the CPU supports).
type vec64Impl struct {
	name    string
	dot     func(x, y []float64) float64
	axpy    func(alpha float64, x, y []float64)
	dotAxpy func(alpha float64, x, y, z []float64) float64
	symv    func(n int, a []float64, lda int, x, y []float64) // y cleared
}

var vec64Go = vec64Impl{"go", dot64Go, axpy64Go, dotAxpy64Go, symvUpper64Go}
