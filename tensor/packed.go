package tensor

import (
	"fmt"
	"runtime"
)

// PackedA is the left operand op(A) of a float32 product, copied once into
// the layout Gemm's micro-kernel reads, for code that multiplies the same
// large matrix by many right-hand sides (the operator products of an
// iterative eigensolver, say): GemmPackedA then skips the repacking of A
// that Gemm does on every call, which dominates when op(A) is large and
// op(B) is thin.
//
// The copy has the size of op(A) (rounded up to whole micro-tile rows). A
// PackedA is read-only once packed: any number of goroutines may multiply
// with it at once. The zero value is empty; PackA fills it.
type PackedA struct {
	v    packedView[float32]
	kern *microKernel[float32]
	m, k int // of the view
}

// packedView addresses op(A) packed as slivers of mr rows over all of k:
// sliver s holds, for each p in [0, K), the mr values op(A)[s·mr+r, p]
// contiguously (rows past m are zero). A view starts at row i0 (a multiple
// of mr) and column k0.
type packedView[T float] struct {
	data   []T
	mr, ld int // ld = mr·K, the stride between slivers
	i0, k0 int
}

// sliver returns the kc values of the sliver holding view row i (a multiple
// of mr) from view column p on.
func (v *packedView[T]) sliver(i, p, kc int) []T {
	o := (v.i0+i)/v.mr*v.ld + (v.k0+p)*v.mr
	return v.data[o : o+kc*v.mr]
}

// PackA packs op(A), which is m x k (a is m x k with row stride lda, or
// k x m when transA), into dst's storage (reused when large enough; dst may
// be nil) for the fastest kernel on this CPU, and returns dst. Operands that
// do not fit these shapes panic with an error wrapping ErrShape. Packing is
// split over GOMAXPROCS goroutines.
func PackA(dst *PackedA, transA bool, m, k int, a []float32, lda int) *PackedA {
	if m < 0 || k < 0 {
		panic(fmt.Errorf("%w: PackA m=%d k=%d", ErrShape, m, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	checkMatrix("PackA", "A", ar, ac, len(a), lda)
	if dst == nil {
		dst = new(PackedA)
	}
	kern := pickKernel[float32]()
	mr := kern.mr
	slivers := (m + mr - 1) / mr
	dst.v = packedView[float32]{data: grow(dst.v.data, slivers*mr*k), mr: mr, ld: mr * k}
	dst.kern, dst.m, dst.k = kern, m, k
	if m == 0 || k == 0 {
		return dst
	}
	j := packJob{transA: transA, m: m, k: k, mr: mr, a: a, lda: lda, dst: dst.v.data}
	parts := min(runtime.GOMAXPROCS(0), slivers, max(1, m*k/(parallelMinWork/16)))
	j.per = (slivers + parts - 1) / parts
	ws := getWorkspace()
	runParts(&j, (slivers+j.per-1)/j.per, ws)
	putWorkspace(ws)
	return dst
}

// packJob packs slivers [p·per, (p+1)·per) of op(A) in part p.
type packJob struct {
	transA        bool
	m, k, mr, lda int
	per           int
	a, dst        []float32
}

func (j *packJob) part(_ *workspace, p int) {
	for s := p * j.per; s < min((p+1)*j.per, (j.m+j.mr-1)/j.mr); s++ {
		i := s * j.mr
		packA(j.dst[s*j.mr*j.k:(s+1)*j.mr*j.k], j.transA, j.a, j.lda, i, 0, min(j.mr, j.m-i), j.k, j.mr)
	}
}

// Rows returns m, the number of rows of op(A) (of the view).
func (p *PackedA) Rows() int { return p.m }

// Cols returns k, the number of columns of op(A) (of the view).
func (p *PackedA) Cols() int { return p.k }

// ColRange returns a view of columns [lo, hi) of op(A), sharing p's
// storage: the product over a range of k, as when a long sum is split into
// chunks that are accumulated in higher precision. Out-of-range bounds panic
// with an error wrapping ErrShape.
func (p *PackedA) ColRange(lo, hi int) PackedA {
	if lo < 0 || hi < lo || hi > p.k {
		panic(fmt.Errorf("%w: PackedA.ColRange(%d, %d) of %d columns", ErrShape, lo, hi, p.k))
	}
	v := *p
	v.v.k0 += lo
	v.k = hi - lo
	return v
}

// GemmPackedA computes C = alpha·op(A)·op(B) + beta·C like Gemm, with op(A)
// (m x k) taken from pa: op(B) is k x n (b is k x n with row stride ldb, or
// n x k when transB) and C is m x n with row stride ldc. It runs the kernel
// pa was packed for, splits large products over GOMAXPROCS goroutines and
// allocates nothing in steady state. Its results equal Gemm's on the same
// operands bit for bit.
func GemmPackedA(pa *PackedA, transB bool, n int, alpha float32, b []float32, ldb int, beta float32, c []float32, ldc int) {
	m, k := pa.m, pa.k
	if n < 0 {
		panic(fmt.Errorf("%w: GemmPackedA n=%d", ErrShape, n))
	}
	checkBC("GemmPackedA", transB, m, n, k, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	ws := getWorkspace()
	v := pa.v
	gemmDispatch(ws, runtime.GOMAXPROCS(0), pa.kern, &v, false, transB, m, n, k, alpha, nil, max(k, 1), b, ldb, beta, c, ldc)
	putWorkspace(ws)
}
