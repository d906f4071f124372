package tensor

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vecLengths covers the empty and scalar cases, every tail length of the
// 4- and 16-element steps, and lengths past several steps.
var vecLengths = []int{1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 19, 31, 32, 33, 63, 64, 65, 100, 515}

func randVec64(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// checkVec64 runs impl on random vectors of every length in vecLengths,
// starting at offsets 0..3 of their backing arrays (unaligned loads), and
// compares with plain loops written here: the dot products to
// 2·n·eps·Σ|x_i·y_i| (both sums round at most n times), the axpy entries to
// 2 ulps of |y_i| + |alpha·x_i|. Elements outside the slices must stay put.
func checkVec64(impl vec64Impl, r *rand.Rand) error {
	const eps = 0x1p-53
	for _, n := range vecLengths {
		for off := range 4 {
			xs, ys, zs := randVec64(r, n+off+1), randVec64(r, n+off+1), randVec64(r, n+off+1)
			x, y, z := xs[off:off+n], ys[off:off+n], zs[off:off+n]
			alpha := r.NormFloat64()
			var want, bound float64
			for i := range n {
				want += x[i] * y[i]
				bound += math.Abs(x[i] * y[i])
			}
			bound *= 2 * float64(n) * eps
			if got := impl.dot(x, y); !(math.Abs(got-want) <= bound) {
				return fmt.Errorf("%s dot n=%d off=%d: %v, want %v ± %.3g", impl.name, n, off, got, want, bound)
			}
			wantZ := make([]float64, n)
			for i := range n {
				wantZ[i] = z[i] + alpha*x[i]
			}
			z0 := append([]float64(nil), zs...)
			got := impl.dotAxpy(alpha, x, y, z)
			if !(math.Abs(got-want) <= bound) {
				return fmt.Errorf("%s dotAxpy n=%d off=%d: %v, want %v ± %.3g", impl.name, n, off, got, want, bound)
			}
			if err := compareAxpy(impl.name+" dotAxpy", zs, z0, wantZ, x, alpha, off); err != nil {
				return err
			}
			y0 := append([]float64(nil), ys...)
			for i := range n {
				wantZ[i] = y[i] + alpha*x[i]
			}
			impl.axpy(alpha, x, y)
			if err := compareAxpy(impl.name+" axpy", ys, y0, wantZ, x, alpha, off); err != nil {
				return err
			}
		}
	}
	return nil
}

// compareAxpy checks got (the whole backing array) against want on
// [off, off+len(want)) and against the untouched old values elsewhere.
func compareAxpy(name string, got, old, want, x []float64, alpha float64, off int) error {
	const eps = 0x1p-53
	for i := range got {
		j := i - off
		if j < 0 || j >= len(want) {
			if got[i] != old[i] {
				return fmt.Errorf("%s n=%d off=%d: element %d outside the slice changed", name, len(want), off, i)
			}
			continue
		}
		tol := 4 * eps * (math.Abs(old[i]) + math.Abs(alpha*x[j]))
		if !(math.Abs(got[i]-want[j]) <= tol) {
			return fmt.Errorf("%s n=%d off=%d: [%d] = %v, want %v", name, len(want), off, j, got[i], want[j])
		}
	}
	return nil
}

// Every implementation this CPU runs (assembly and portable Go) matches the
// loops written in the test.
func TestVec64Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 1))
	impls := vec64Impls()
	t.Logf("implementations: %d", len(impls))
	for _, impl := range impls {
		assert.NoError(t, checkVec64(impl, r), impl.name)
	}
}

// The checker catches wrong kernels: one that drops the last element of
// the dot product, one that subtracts in axpy's tail, one that forgets z
// past the 16-element steps.
func TestVec64CheckerCatchesPlantedBugs(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 2))
	good := vec64Go
	planted := []vec64Impl{
		{"dot-drops-last", func(x, y []float64) float64 { return dot64Go(x[:len(x)-1], y) }, good.axpy, good.dotAxpy, good.symv},
		{"axpy-tail-sign", good.dot, func(alpha float64, x, y []float64) {
			for i := range x {
				if i >= len(x)/4*4 {
					y[i] -= alpha * x[i]
				} else {
					y[i] += alpha * x[i]
				}
			}
		}, good.dotAxpy, good.symv},
		{"dotaxpy-forgets-tail", good.dot, good.axpy, func(alpha float64, x, y, z []float64) float64 {
			k := len(x) / 16 * 16
			axpy64Go(alpha, x[:k], z)
			return dot64Go(x, y)
		}, good.symv},
	}
	for _, impl := range planted {
		assert.Error(t, checkVec64(impl, r), impl.name)
	}
}

// checkSymv compares symv (y = A·x from the upper triangle, y cleared
// first) with a product by the full symmetric matrix written here, with NaN
// in the strict lower triangle (never to be read) and a row stride wider
// than n, for sizes covering the 4-row blocks and their column tails.
func checkSymv(name string, symv func(n int, a []float64, lda int, x, y []float64), r *rand.Rand) error {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 17, 30, 64, 130} {
		lda := n + 3
		full := make([]float64, n*n)
		for i := range n {
			for j := i; j < n; j++ {
				v := r.NormFloat64()
				full[i*n+j], full[j*n+i] = v, v
			}
		}
		a := make([]float64, (n-1)*lda+n)
		for i := range n {
			for j := range n {
				if j < i {
					a[i*lda+j] = math.NaN()
				} else {
					a[i*lda+j] = full[i*n+j]
				}
			}
		}
		x := randVec64(r, n)
		y := make([]float64, n)
		symv(n, a, lda, x, y)
		for i := range n {
			var want, bound float64
			for j := range n {
				want += full[i*n+j] * x[j]
				bound += math.Abs(full[i*n+j] * x[j])
			}
			if !(math.Abs(y[i]-want) <= 2*float64(n)*0x1p-53*bound) {
				return fmt.Errorf("%s n=%d: y[%d] = %v, want %v", name, n, i, y[i], want)
			}
		}
	}
	return nil
}

// SymvUpper64 and every symmetric product this CPU runs match the full
// product; a planted one that forgets the mirrored (lower) half fails.
func TestSymvUpper64(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 3))
	for _, impl := range vec64Impls() {
		assert.NoError(t, checkSymv(impl.name, impl.symv, r))
	}
	assert.NoError(t, checkSymv("SymvUpper64", func(n int, a []float64, lda int, x, y []float64) {
		SymvUpper64(n, a, lda, x, y)
	}, r))
	upperOnly := func(n int, a []float64, lda int, x, y []float64) {
		for i := range n {
			y[i] = Dot64(a[i*lda+i:i*lda+n], x[i:n])
		}
	}
	assert.Error(t, checkSymv("planted", upperOnly, r))
	SymvUpper64(0, nil, 1, nil, nil)
}

// The exported kernels check lengths and handle empty slices.
func TestVec64Shapes(t *testing.T) {
	assert.Equal(t, 0.0, Dot64(nil, nil))
	Axpy64(2, nil, nil)
	assert.Equal(t, 0.0, DotAxpy64(2, nil, nil, nil))
	x, y := []float64{1, 2, 3}, []float64{4, 5, 6, 7}
	assert.Equal(t, 32.0, Dot64(x, y))
	Axpy64(2, x, y)
	assert.Equal(t, []float64{6, 9, 12, 7}, y)
	z := []float64{1, 1, 1}
	assert.Equal(t, 6.0+18+36, DotAxpy64(-1, x, y, z))
	assert.Equal(t, []float64{0, -1, -2}, z)
	for name, f := range map[string]func(){
		"dot":      func() { Dot64(y, x) },
		"axpy":     func() { Axpy64(1, y, x) },
		"dotaxpy":  func() { DotAxpy64(1, x, y, z[:2]) },
		"symv-lda": func() { SymvUpper64(3, make([]float64, 9), 2, x, z) },
		"symv-a":   func() { SymvUpper64(3, make([]float64, 8), 3, x, z) },
		"symv-y":   func() { SymvUpper64(3, make([]float64, 9), 3, x, z[:2]) },
	} {
		func() {
			defer func() {
				e, ok := recover().(error)
				require.True(t, ok, name)
				assert.True(t, errors.Is(e, ErrShape), name)
			}()
			f()
			t.Errorf("%s: no panic", name)
		}()
	}
}

// The fused symmetric product: assembly (where it runs) against the
// portable loop, n = 512.
func BenchmarkSymvUpper64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const n = 512
	a, x, y := randVec64(r, n*n), randVec64(r, n), make([]float64, n)
	for b.Loop() {
		SymvUpper64(n, a, n, x, y)
	}
}
