package tensor

import (
	"fmt"
	"runtime"
	"sync"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C on row-major float32 matrices,
// with the BLAS sgemm contract: op(A) is m x k, op(B) is k x n, C is m x n;
// lda, ldb and ldc are the row strides of A, B and C as stored (A is m x k
// when !transA and k x m when transA). When beta is 0, C is overwritten and
// its old contents (even NaN) are ignored. Operands that do not fit these
// shapes panic with an error wrapping ErrShape.
//
// It dispatches to the fastest kernel available on this CPU (AVX-512F or
// AVX2+FMA assembly on amd64, blocked pure Go elsewhere or with the purego
// build tag)
// and splits large products over GOMAXPROCS goroutines. Gemm is safe for
// concurrent use as long as the calls write distinct destinations.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm("Gemm", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Gemm64 is Gemm on float64 matrices (the BLAS dgemm contract): C =
// alpha·op(A)·op(B) + beta·C, row-major, with the same shapes, strides,
// beta = 0 semantics, ErrShape panics, parallel split and allocation-free
// steady state as Gemm.
//
// On amd64 it runs an AVX-512F 6x16 assembly micro-kernel when the CPU has
// AVX-512F, an AVX2+FMA 6x8 one when it has those (checked at run time with
// golang.org/x/sys/cpu), and a 4x4 pure-Go kernel otherwise or with the
// purego build tag. Every element is a float64 dot product, so the error is
// that of float64 arithmetic: at most about k·2⁻⁵³·Σ|op(A)_ip·op(B)_pj| per
// element (the summation order differs from a naive loop's).
func Gemm64(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm("Gemm64", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemm[T float](name string, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkGemm(name, transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	ws := getWorkspace()
	gemmDispatch(ws, runtime.GOMAXPROCS(0), pickKernel[T](), nil, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	putWorkspace(ws)
}

func checkGemm[T float](name string, transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Errorf("%w: %s m=%d n=%d k=%d", ErrShape, name, m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	checkMatrix(name, "A", ar, ac, len(a), lda)
	checkBC(name, transB, m, n, k, b, ldb, c, ldc)
}

// checkBC checks op(B) (k x n) and C (m x n) of a product.
func checkBC[T float](name string, transB bool, m, n, k int, b []T, ldb int, c []T, ldc int) {
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix(name, "B", br, bc, len(b), ldb)
	checkMatrix(name, "C", m, n, len(c), ldc)
}

// checkMatrix panics unless a rows x cols matrix with row stride ld fits in
// length values.
func checkMatrix(name, what string, rows, cols, length, ld int) {
	if ld < max(cols, 1) || (rows > 0 && cols > 0 && length < (rows-1)*ld+cols) {
		panic(fmt.Errorf("%w: %s: %s is %d x %d with row stride %d in %d values", ErrShape, name, what, rows, cols, ld, length))
	}
}

// pickKernel returns the fastest micro-kernel this CPU runs for T.
func pickKernel[T float]() *microKernel[T] {
	return kernelsFor[T]()[0]
}

// kernelsFor lists the micro-kernels this build and CPU can run for T,
// fastest first; the last is the portable Go one.
func kernelsFor[T float]() []*microKernel[T] {
	if ks, ok := any(kernels32).([]*microKernel[T]); ok {
		return ks
	}
	return any(kernels64).([]*microKernel[T])
}

// parallelMinWork is the number of multiply-adds (m·n·k) from which a single
// product is split over goroutines; below it, spawning costs more than it
// saves (a 64x64x64 product is 2^18 and stays on the calling goroutine).
const parallelMinWork = 1 << 21

// gemmDispatch runs one product with kern, splitting it over up to procs
// goroutines when it is large enough. ws serves the calling goroutine's share.
// pre, when not nil, is op(A) pre-packed for kern (see gemmSerial).
func gemmDispatch[T float](ws *workspace, procs int, kern *microKernel[T], pre *packedView[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	work := m * n * k
	if procs < 2 || work < parallelMinWork {
		gemmSerial(ws, kern, pre, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Split C into blocks of whole micro-tiles along its longer side; each
	// part packs its own panels, so parts share nothing but read-only A/B.
	parts := min(procs, work/(parallelMinWork/2))
	j := &bufs[T](ws).split
	*j = splitJob[T]{kern: kern, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, byRows: m >= n}
	if pre != nil {
		j.pre, j.hasPre = *pre, true
	}
	if j.byRows {
		j.step = roundUp((m+parts-1)/parts, kern.mr)
		parts = (m + j.step - 1) / j.step
	} else {
		j.step = roundUp((n+parts-1)/parts, kern.nr)
		parts = (n + j.step - 1) / j.step
	}
	runParts(j, parts, ws)
	*j = splitJob[T]{} // drop references to the caller's slices
}

// splitJob is one product split into blocks of step rows (byRows) or step
// columns of C; part p computes block p. It lives in the caller's workspace
// while the parts run.
type splitJob[T float] struct {
	kern           *microKernel[T]
	transA, transB bool
	m, n, k        int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
	step           int
	byRows         bool
	pre            packedView[T] // op(A) pre-packed, when hasPre
	hasPre         bool
}

func (j *splitJob[T]) part(ws *workspace, p int) {
	var pre *packedView[T]
	if j.hasPre {
		v := j.pre
		pre = &v
	}
	if j.byRows {
		i0 := p * j.step
		rows := min(j.step, j.m-i0)
		ao := i0 * j.lda
		if j.transA {
			ao = i0
		}
		if pre != nil {
			pre.i0 += i0
			ao = 0
		}
		gemmSerial(ws, j.kern, pre, j.transA, j.transB, rows, j.n, j.k, j.alpha, j.a[ao:], j.lda, j.b, j.ldb, j.beta, j.c[i0*j.ldc:], j.ldc)
		return
	}
	j0 := p * j.step
	cols := min(j.step, j.n-j0)
	bo := j0
	if j.transB {
		bo = j0 * j.ldb
	}
	gemmSerial(ws, j.kern, pre, j.transA, j.transB, j.m, cols, j.k, j.alpha, j.a, j.lda, j.b[bo:], j.ldb, j.beta, j.c[j0:], j.ldc)
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// MatMul computes dst = op(a)·op(b) for 2-D or batched operands. a is
// [..., m, k] (or [..., k, m] when transA); b is either 2-D (shared by every
// batch) or has the same leading dimensions as a. dst is [..., m, n]; an empty
// dst sizes itself. It returns dst.
//
// Batches of small products (attention scores [B·H, T, T], say) are spread
// over GOMAXPROCS goroutines when their total work is large enough.
func MatMul(dst, a, b *Tensor, transA, transB bool) *Tensor {
	return MatMulAdd(dst, a, b, transA, transB, 1, 0)
}

// MatMulAdd computes dst = alpha·op(a)·op(b) + beta·dst with the operand rules
// of MatMul. With beta = 1 it accumulates, as gradient code needs.
func MatMulAdd(dst, a, b *Tensor, transA, transB bool, alpha, beta float32) *Tensor {
	if a.Dims() < 2 || b.Dims() < 2 {
		panic(fmt.Errorf("%w: MatMul needs matrices, got %v and %v", ErrShape, a.Shape, b.Shape))
	}
	ar, ac := a.Shape[a.Dims()-2], a.Shape[a.Dims()-1]
	br, bc := b.Shape[b.Dims()-2], b.Shape[b.Dims()-1]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	lead := a.Shape[:a.Dims()-2]
	batch := numel(lead)
	bBatched := b.Dims() > 2
	if kb != k || (bBatched && !SameShape(lead, b.Shape[:b.Dims()-2])) {
		panic(fmt.Errorf("%w: MatMul %v x %v (transA=%v transB=%v)", ErrShape, a.Shape, b.Shape, transA, transB))
	}
	var shapeBuf [8]int
	outShape := append(append(shapeBuf[:0], lead...), m, n)
	dst.Ensure(outShape...)
	if m == 0 || n == 0 || batch == 0 {
		return dst
	}
	job := batchJob{
		transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a.Data, b: b.Data, c: dst.Data, sa: ar * ac, sb: br * bc, sc: m * n, bBatched: bBatched,
		lda: max(ac, 1), ldb: max(bc, 1),
	}
	procs := runtime.GOMAXPROCS(0)
	ws := getWorkspace()
	job.run(ws, 0, batch, procs, batch)
	putWorkspace(ws)
	return dst
}

// batchJob is one batched product; run computes batch entries [lo, hi).
type batchJob struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	sa, sb, sc     int
	lda, ldb       int
	bBatched       bool
}

// run computes entries [lo, hi) of the batch on up to procs goroutines. A
// batch of products each too small to split is shared out by whole entries.
func (j *batchJob) run(ws *workspace, lo, hi, procs, batch int) {
	per := j.m * j.n * j.k
	work := (hi - lo) * per
	if hi-lo < 2 || procs < 2 || work < parallelMinWork || per >= parallelMinWork {
		// Either too little work to share, or each product is big enough
		// to be split by gemmDispatch itself.
		for i := lo; i < hi; i++ {
			bo := 0
			if j.bBatched {
				bo = i * j.sb
			}
			gemmDispatch(ws, procs, pickKernel[float32](), nil, j.transA, j.transB, j.m, j.n, j.k, j.alpha, j.a[i*j.sa:(i+1)*j.sa], j.lda,
				j.b[bo:bo+j.sb], j.ldb, j.beta, j.c[i*j.sc:(i+1)*j.sc], j.n)
		}
		return
	}
	parts := min(procs, hi-lo, work/(parallelMinWork/2))
	jp := batchParts.Get().(*batchPartJob)
	jp.job, jp.lo, jp.hi, jp.parts, jp.batch = *j, lo, hi, parts, batch
	runParts(jp, parts, ws)
	*jp = batchPartJob{}
	batchParts.Put(jp)
}

// batchPartJob shares the entries [lo, hi) of a batched product out in parts
// of whole entries; each part runs serially (procs 1).
type batchPartJob struct {
	job                  batchJob
	lo, hi, parts, batch int
}

var batchParts = sync.Pool{New: func() any { return new(batchPartJob) }}

func (b *batchPartJob) part(ws *workspace, p int) {
	n := b.hi - b.lo
	b.job.run(ws, b.lo+p*n/b.parts, b.lo+(p+1)*n/b.parts, 1, b.batch)
}
