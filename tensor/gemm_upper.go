package tensor

import (
	"fmt"
	"math"
	"runtime"
)

// GemmUpper64 computes the upper triangle of C = alpha·op(A)·op(B) + beta·C
// for a square n x n C, on row-major float64 matrices: op(A) is n x k (a is
// n x k with row stride lda, or k x n when transA), op(B) is k x n (b is
// k x n with row stride ldb, or n x k when transB). Every element C[i,j]
// with j >= i gets Gemm64's value (up to rounding: the same kernels, but
// tiles on the diagonal are summed through a scratch tile); elements below
// the diagonal are neither read nor written. When beta is 0 the upper
// triangle is overwritten and its old contents (even NaN) are ignored.
// Operands that do not fit these shapes panic with an error wrapping
// ErrShape.
//
// It is the product for Gram matrices and other symmetric results built
// from row blocks, XᵀX or Xᵀ·(L·X) summed chunk by chunk: about half the
// work of Gemm64, and unlike a loop of Gemm64 calls over row panels of the
// triangle it packs each operand once per cache block and reuses the packs
// for every tile above the diagonal. Large products are split over
// GOMAXPROCS goroutines into row bands of equal work; the result does not
// depend on the split (bit for bit). Steady-state calls allocate nothing.
func GemmUpper64(transA, transB bool, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemmUpper("GemmUpper64", transA, transB, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemmUpper[T float](name string, transA, transB bool, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if n < 0 {
		panic(fmt.Errorf("%w: %s n=%d", ErrShape, name, n))
	}
	checkGemm(name, transA, transB, n, n, k, a, lda, b, ldb, c, ldc)
	if n == 0 {
		return
	}
	ws := getWorkspace()
	gemmUpperDispatch(ws, runtime.GOMAXPROCS(0), pickKernel[T](), transA, transB, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	putWorkspace(ws)
}

// gemmUpperDispatch runs one upper-triangle product with kern, split into
// row bands of about equal work over up to procs goroutines when it is large
// enough. Band boundaries are multiples of kern.mr, so every tile is the
// same in any split.
func gemmUpperDispatch[T float](ws *workspace, procs int, kern *microKernel[T], transA, transB bool, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	work := n * (n + 1) / 2 * max(k, 1)
	parts := 1
	if procs >= 2 && work >= parallelMinWork {
		parts = min(procs, maxUpperParts, work/(parallelMinWork/2), (n+kern.mr-1)/kern.mr)
	}
	j := &bufs[T](ws).upper
	*j = upperJob[T]{kern: kern, transA: transA, transB: transB, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	// Row r's share of the triangle is n − r elements: band p ends where
	// the rows above it hold (p+1)/parts of the n(n+1)/2 elements.
	j.bounds[0] = 0
	for p := 1; p < parts; p++ {
		f := float64(p) / float64(parts)
		nf := float64(n)
		r := nf + 0.5 - math.Sqrt((nf+0.5)*(nf+0.5)-f*nf*(nf+1))
		j.bounds[p] = min(n, roundUp(int(r), kern.mr))
	}
	j.bounds[parts] = n
	runParts(j, parts, ws)
	*j = upperJob[T]{} // drop references to the caller's slices
}

// maxUpperParts bounds the bands of one upper-triangle product.
const maxUpperParts = 64

// upperJob is one upper-triangle product split into row bands
// [bounds[p], bounds[p+1]); it lives in the caller's workspace while the
// parts run.
type upperJob[T float] struct {
	kern           *microKernel[T]
	transA, transB bool
	n, k           int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
	bounds         [maxUpperParts + 1]int
}

func (j *upperJob[T]) part(ws *workspace, p int) {
	r0, r1 := j.bounds[p], j.bounds[p+1]
	if r0 < r1 {
		gemmUpperRows(ws, j.kern, j.transA, j.transB, j.n, j.k, j.alpha, j.a, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc, r0, r1)
	}
}

// gemmUpperRows computes rows [r0, r1) of the upper triangle on the calling
// goroutine (r0 a multiple of kern.mr). Columns are tiled on the grid of
// kern.nr from column 0 and rows on the grid of kern.mr, whatever r0 is:
// a tile wholly below the diagonal is skipped, one wholly above it (and
// inside C) is computed in place, and one the diagonal crosses (or that
// overhangs C's edge) is computed into scratch and only its upper part
// merged.
func gemmUpperRows[T float](ws *workspace, kern *microKernel[T], transA, transB bool, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, r0, r1 int) {
	if k == 0 || alpha == 0 {
		for i := r0; i < r1; i++ {
			scaleC(1, n-i, beta, c[i*ldc+i:], ldc)
		}
		return
	}
	mr, nr := kern.mr, kern.nr
	KC, MC, NC := kern.kc, kern.mc, kern.nc
	j0 := r0 / nr * nr // first column tile that reaches the band
	kcMax := min(k, KC)
	ncMax := min(roundUp(n-j0, nr), NC)
	mcMax := min(roundUp(r1-r0, mr), MC)
	w := bufs[T](ws)
	w.b = grow(w.b, kcMax*ncMax)
	w.a = grow(w.a, kcMax*mcMax)
	w.tile = grow(w.tile, mr*nr)
	for jc := j0; jc < n; jc += NC {
		nc := min(NC, n-jc)
		if jc+nc <= r0 {
			continue
		}
		for pc := 0; pc < k; pc += KC {
			kc := min(KC, k-pc)
			packB(w.b, transB, b, ldb, pc, jc, kc, nc, kern)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			for ic := r0; ic < r1 && ic < jc+nc; ic += MC {
				mc := min(MC, r1-ic)
				packA(w.a, transA, a, lda, ic, pc, mc, kc, mr)
				// The first column sliver of this block that reaches row ic.
				jr0 := max(0, (ic-jc)/nr*nr)
				for jr := jr0; jr < nc; jr += nr {
					nw := min(nr, nc-jr)
					kn := kern.forCols(nw)
					bp := w.b[jr*kc : jr*kc+kn.nr*kc]
					col := jc + jr
					for ir := 0; ir < mc; ir += mr {
						row := ic + ir
						if row > col+nw-1 {
							break // this tile and the ones below it are under the diagonal
						}
						mh := min(mr, mc-ir)
						ap := w.a[ir*kc : (ir+mr)*kc]
						co := row*ldc + col
						if mh == mr && nw == kn.nr && col >= row+mr-1 {
							kn.fn(kc, ap, bp, c[co:], ldc, alpha, bet)
							continue
						}
						kn.fn(kc, ap, bp, w.tile, kn.nr, alpha, 0)
						for i := 0; i < mh; i++ {
							// Row row+i keeps columns >= row+i only.
							s := max(0, row+i-col)
							if s >= nw {
								break
							}
							mergeTile(c[co+i*ldc+s:co+i*ldc+nw], w.tile[i*kn.nr+s:i*kn.nr+nw], bet)
						}
					}
				}
			}
		}
	}
}
