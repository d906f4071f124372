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
// its old contents (even NaN) are ignored.
//
// It dispatches to the fastest kernel available on this CPU (AVX2+FMA
// assembly on amd64, blocked pure Go elsewhere or with the purego build tag)
// and splits large products over GOMAXPROCS goroutines. Gemm is safe for
// concurrent use as long as the calls write distinct destinations.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	ws := getWorkspace()
	gemmDispatch(ws, runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	putWorkspace(ws)
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if m < 0 || n < 0 || k < 0 || lda < max(ac, 1) || ldb < max(bc, 1) || ldc < max(n, 1) {
		panic(fmt.Errorf("%w: Gemm m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", ErrShape, m, n, k, lda, ldb, ldc))
	}
	if (ar > 0 && ac > 0 && len(a) < (ar-1)*lda+ac) || (br > 0 && bc > 0 && len(b) < (br-1)*ldb+bc) || (m > 0 && n > 0 && len(c) < (m-1)*ldc+n) {
		panic(fmt.Errorf("%w: Gemm slices too short for m=%d n=%d k=%d", ErrShape, m, n, k))
	}
}

// parallelMinWork is the number of multiply-adds (m·n·k) from which a single
// product is split over goroutines; below it, spawning costs more than it
// saves (a 64x64x64 product is 2^18 and stays on the calling goroutine).
const parallelMinWork = 1 << 21

// gemmDispatch runs one product, splitting it over up to procs goroutines when
// it is large enough. ws serves the calling goroutine's share.
func gemmDispatch(ws *workspace, procs int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kern := pickKernel()
	work := m * n * k
	if procs < 2 || work < parallelMinWork {
		gemmSerial(ws, kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Split C into blocks of whole micro-tiles along its longer side; each
	// goroutine packs its own panels, so they share nothing but read-only A/B.
	parts := min(procs, work/(parallelMinWork/2))
	var wg sync.WaitGroup
	if m >= n {
		step := roundUp((m+parts-1)/parts, kern.mr)
		for i0 := step; i0 < m; i0 += step {
			rows := min(step, m-i0)
			ao := i0 * lda
			if transA {
				ao = i0
			}
			wg.Go(func() {
				w := getWorkspace()
				gemmSerial(w, kern, transA, transB, rows, n, k, alpha, a[ao:], lda, b, ldb, beta, c[i0*ldc:], ldc)
				putWorkspace(w)
			})
		}
		gemmSerial(ws, kern, transA, transB, min(step, m), n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	} else {
		step := roundUp((n+parts-1)/parts, kern.nr)
		for j0 := step; j0 < n; j0 += step {
			cols := min(step, n-j0)
			bo := j0
			if transB {
				bo = j0 * ldb
			}
			wg.Go(func() {
				w := getWorkspace()
				gemmSerial(w, kern, transA, transB, m, cols, k, alpha, a, lda, b[bo:], ldb, beta, c[j0:], ldc)
				putWorkspace(w)
			})
		}
		gemmSerial(ws, kern, transA, transB, m, min(step, n), k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	wg.Wait()
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// gemmNaive is the portable reference kernel, kept for tests.
func gemmNaive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(crow)
		} else if beta != 1 {
			for j := range crow {
				crow[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if av == 0 {
				continue
			}
			if transB {
				for j := 0; j < n; j++ {
					crow[j] += av * b[j*ldb+p]
				}
			} else {
				brow := b[p*ldb : p*ldb+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
		}
	}
}

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
			gemmDispatch(ws, procs, j.transA, j.transB, j.m, j.n, j.k, j.alpha, j.a[i*j.sa:(i+1)*j.sa], j.lda,
				j.b[bo:bo+j.sb], j.ldb, j.beta, j.c[i*j.sc:(i+1)*j.sc], j.n)
		}
		return
	}
	parts := min(procs, hi-lo, work/(parallelMinWork/2))
	jp := new(batchJob) // only the parallel path pays for a heap copy
	*jp = *j
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		plo, phi := lo+p*(hi-lo)/parts, lo+(p+1)*(hi-lo)/parts
		wg.Go(func() {
			w := getWorkspace()
			jp.run(w, plo, phi, 1, batch)
			putWorkspace(w)
		})
	}
	jp.run(ws, lo, lo+(hi-lo)/parts, 1, batch)
	wg.Wait()
}
