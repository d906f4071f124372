package recpca

import (
	"fmt"
	"math"

	"github.com/llmrec/llmrec/tensor"
)

// krylovBlock returns the block width b of SolverKrylov32 for d kept
// directions: d + max(8, d/8), at most D.
func krylovBlock(d, D int) int { return min(d+max(8, d/8), D) }

// krylovMaxBlocks bounds the basis of SolverKrylov32 at this many blocks
// (and at D columns) before a thick restart.
const krylovMaxBlocks = 8

// krylovStall is the residual reduction per step below which the float32
// operator is taken to have reached its rounding floor.
const krylovStall = 0.7

// solveKrylov finds the top-d eigenvectors of M by block Krylov iteration
// with Rayleigh–Ritz over the whole basis (SolverKrylov32). From an
// orthonormal D x b block Q₀ (the warm block when given, else random), every
// step applies M once to the newest block (two passes over X̄ as float32
// GEMMs, plus the sparse Laplacian) and orthonormalizes the image against
// the basis (block classical Gram–Schmidt, twice, in float64) to form the
// next block; with the images AQ kept, H = QᵀAQ and the Ritz pairs of the
// whole basis cost no further pass, so every pass over X̄ improves all d
// directions at once (a subspace iteration keeps only the last block).
// When the basis reaches krylovMaxBlocks blocks (or D columns) it restarts
// from its top-b Ritz vectors and their images (thick restart, no extra
// pass). It stops when the largest relative Ritz residual of the top d is
// at most Tol, or when a step reduces it by less than krylovStall after it
// is below 1e-3 (the float32 floor: unlike SolverRandomized32 it does not
// estimate λmax(G) to locate that floor, which saves ten passes over X̄).
// When Tol < tol32 a float64 Rayleigh–Ritz step on the final Ritz block
// follows (polish).
func (p *problem) solveKrylov(lambda float64, warm []float64) (*solution, error) {
	kb := p.newKrylovBasis(lambda, warm)
	d := p.d
	// With Tol below the float32 floor the iteration goes on until the
	// residual stalls (the floor), so that the float64 polish starts from
	// the best block the float32 operator gives.
	tol := p.opt.Tol
	sol := &solution{}
	prev := math.Inf(1)
	var rr krylovRitz
	for it := 1; ; it++ {
		if err := p.ctx.Err(); err != nil {
			return nil, err
		}
		kb.extend(lambda)
		var err error
		if rr, err = kb.rayleighRitz(it); err != nil {
			return nil, err
		}
		sol.iters, sol.resid = it, rr.resid
		p.opt.Logger.Debug("recpca: Krylov step", "step", it, "basis", kb.cols, "residual", rr.resid, "tol", tol, "theta_1", rr.theta[0], "theta_d", rr.theta[d-1])
		stalled := rr.resid < 1e-3 && rr.resid > krylovStall*prev
		if rr.resid <= tol || stalled || it >= p.opt.MaxIter {
			break
		}
		prev = rr.resid
		if kb.cols+kb.b > kb.maxCols {
			kb.restart(&rr)
		} else {
			// Next block: the newest image, orthogonalized against the
			// basis.
			copy(kb.blk, kb.ay)
		}
		kb.orthogonalizeNext()
	}
	if sol.resid > tol {
		p.opt.Logger.Debug("recpca: Krylov solver stopped above the tolerance", "steps", sol.iters, "residual", sol.resid, "tol", tol)
	}
	if p.op != nil && p.opt.Tol < tol32 {
		return p.polish(sol, rr.q, rr.k, lambda)
	}
	sol = p.ritzSolution(sol, rr.q, rr.theta, rr.k)
	if kb.keepU {
		sol.z = kb.projection(&rr, sol.w)
	}
	return sol, nil
}

// krylovBasis is SolverKrylov32's state between steps: the orthonormal
// basis Q, its images Y = M·Q, the next block and the scratch of one
// product with M.
type krylovBasis struct {
	p *problem
	// b is the block width; the basis holds cols of at most maxCols
	// columns.
	b, maxCols, cols int
	// q and y are Q and Y = M·Q, D x maxCols each (row-major, stride
	// maxCols), filled left to right; blk is the next block (D x b) and ay
	// its image.
	q, y, blk, ay []float64
	// u and lu are the n x b scratch of a product (X̄·blk and L·X̄·blk).
	u, lu []float64
	// keepU: uq holds X̄Q (n x maxCols, float32) for the basis, so that the
	// projection X̄W of the result, which the reported statistics need,
	// is UQ·S instead of another pass over X̄ (not kept when the float64
	// polish computes its own); u32 is its scratch.
	keepU   bool
	uq, u32 []float32
}

// krylovRitz holds the Ritz pairs of one step: the top k values theta, the
// basis coordinates s (cols x k), the Ritz vectors q = Q·s and their images
// y = Y·s (D x k), and the largest relative residual of the top d.
type krylovRitz struct {
	theta, s, q, y []float64
	k              int
	resid          float64
}

// newKrylovBasis allocates the basis for the current problem and sets its
// first block: the warm block's first b columns when given, else random,
// orthonormalized.
func (p *problem) newKrylovBasis(lambda float64, warm []float64) *krylovBasis {
	D := p.D
	b := krylovBlock(p.d, D)
	maxCols := min(D, krylovMaxBlocks*b)
	maxCols -= maxCols % b
	if maxCols < 2*b {
		maxCols = min(D, 2*b)
	}
	kb := &krylovBasis{p: p, b: b, maxCols: maxCols,
		q: make([]float64, D*maxCols), y: make([]float64, D*maxCols), blk: make([]float64, D*b)}
	if warm != nil && len(warm)%D == 0 && len(warm)/D >= b {
		kw := len(warm) / D
		for i := range D {
			copy(kb.blk[i*b:(i+1)*b], warm[i*kw:i*kw+b])
		}
	} else {
		for i := range kb.blk {
			kb.blk[i] = p.opt.Rand.NormFloat64()
		}
	}
	orthonormalize(kb.blk, D, b)
	kb.u = make([]float64, p.n*b)
	kb.keepU = p.op != nil && p.opt.Tol >= tol32
	if kb.keepU {
		kb.uq = make([]float32, p.n*maxCols)
		kb.u32 = make([]float32, p.n*maxCols)
	}
	if lambda != 0 {
		kb.lu = make([]float64, p.n*b)
	}
	kb.ay = make([]float64, D*b)
	return kb
}

// setCols copies the D x w block src into columns c0..c0+w of dst (stride
// maxCols).
func (kb *krylovBasis) setCols(dst []float64, c0 int, src []float64, w int) {
	for i := range kb.p.D {
		copy(dst[i*kb.maxCols+c0:i*kb.maxCols+c0+w], src[i*w:(i+1)*w])
	}
}

// extend applies M to the next block (one product: two passes over X̄ and
// the Laplacian) and appends the block and its image to the basis.
func (kb *krylovBasis) extend(lambda float64) {
	p, b := kb.p, kb.b
	p.mul(kb.u, kb.blk, b)
	if kb.keepU {
		parallelRows(p.n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := kb.uq[i*kb.maxCols+kb.cols : i*kb.maxCols+kb.cols+b]
				for j, v := range kb.u[i*b : (i+1)*b] {
					row[j] = float32(v)
				}
			}
		})
	}
	p.applyRest(kb.ay, kb.u, b, lambda, kb.lu)
	kb.setCols(kb.q, kb.cols, kb.blk, b)
	kb.setCols(kb.y, kb.cols, kb.ay, b)
	kb.cols += b
}

// rayleighRitz solves the projected problem H = QᵀY (symmetrized) over the
// whole basis and returns its top min(b, cols) Ritz pairs with their
// residuals; it is step it (for the error message).
func (kb *krylovBasis) rayleighRitz(it int) (krylovRitz, error) {
	p, D, m := kb.p, kb.p.D, kb.cols
	h := make([]float64, m*m)
	gemm64(true, false, m, m, D, 1, kb.q, kb.maxCols, kb.y, kb.maxCols, 0, h, m)
	symmetrize(h, m)
	kk := min(kb.b, m)
	vals, s, ok := topEig(h, m, kk)
	if !ok {
		return krylovRitz{}, fmt.Errorf("recpca: fit: Krylov Rayleigh–Ritz eigensolver failed at step %d: %w", it, ErrNotConverged)
	}
	rr := krylovRitz{theta: vals, s: s, k: kk, q: make([]float64, D*kk), y: make([]float64, D*kk)}
	gemm64(false, false, D, kk, m, 1, kb.q, kb.maxCols, s, kk, 0, rr.q, kk)
	gemm64(false, false, D, kk, m, 1, kb.y, kb.maxCols, s, kk, 0, rr.y, kk)
	norm := math.Max(math.Abs(vals[0]), math.Abs(vals[kk-1]))
	rr.resid = ritzResiduals(rr.y, rr.q, D, kk, vals, p.d, norm, nil)
	return rr, nil
}

// restart shrinks the full basis to the top-b Ritz pairs of rr (thick
// restart: Q ← QS, Y ← YS, no extra pass) and sets the next block to their
// residual block YS − QSΘ (the directions the restarted basis misses; the
// newest image would mostly repeat the discarded part of the basis).
func (kb *krylovBasis) restart(rr *krylovRitz) {
	kk, b := rr.k, kb.b
	clear(kb.q)
	clear(kb.y)
	kb.setCols(kb.q, 0, rr.q, kk)
	kb.setCols(kb.y, 0, rr.y, kk)
	if kb.keepU {
		kb.p.rotateU(kb.uq, kb.u32, kb.maxCols, kb.cols, rr.s, kk)
	}
	kb.cols = kk
	for i := range kb.p.D {
		for j := range b {
			kb.blk[i*b+j] = rr.y[i*kk+j] - rr.theta[j]*rr.q[i*kk+j]
		}
	}
}

// orthogonalizeNext makes the next block orthonormal and orthogonal to the
// basis: block classical Gram–Schmidt against the basis, twice, around a
// QR, with columns that vanished (an invariant subspace found) replaced by
// random ones before the QR.
func (kb *krylovBasis) orthogonalizeNext() {
	p, D, b := kb.p, kb.p.D, kb.b
	coef := make([]float64, kb.cols*b)
	againstBasis := func() {
		for range 2 {
			gemm64(true, false, kb.cols, b, D, 1, kb.q, kb.maxCols, kb.blk, b, 0, coef, b)
			gemm64(false, false, D, b, kb.cols, -1, kb.q, kb.maxCols, coef, b, 1, kb.blk, b)
		}
	}
	againstBasis()
	for j := range b {
		var s float64
		for i := range D {
			s += kb.blk[i*b+j] * kb.blk[i*b+j]
		}
		if s < 1e-20 {
			for i := range D {
				kb.blk[i*b+j] = p.opt.Rand.NormFloat64()
			}
		}
	}
	orthonormalize(kb.blk, D, b)
	againstBasis()
	orthonormalize(kb.blk, D, b)
}

// projection returns Z = X̄W (n x d) from the kept X̄Q: (X̄Q)·S[:, :d], with
// the sign flips that ritzSolution gave W.
func (kb *krylovBasis) projection(rr *krylovRitz, w []float64) []float64 {
	p, d := kb.p, kb.p.d
	p.rotateU(kb.uq, kb.u32, kb.maxCols, kb.cols, rr.s, rr.k)
	z := make([]float64, p.n*d)
	for i := range p.n {
		for j, v := range kb.uq[i*kb.maxCols : i*kb.maxCols+d] {
			z[i*d+j] = float64(v)
		}
	}
	fixZSigns(z, p.n, d, rr.q, rr.k, w, p.D)
	return z
}

// rotateU replaces the first kk columns of the n x stride float32 matrix uq
// by uq[:, :m]·S (S is m x kk float64), with tmp as scratch: X̄Q ← X̄QS.
func (p *problem) rotateU(uq, tmp []float32, stride, m int, s []float64, kk int) {
	s32 := make([]float32, m*kk)
	for i, v := range s[:m*kk] {
		s32[i] = float32(v)
	}
	tensor.Gemm(false, false, p.n, kk, m, 1, uq, stride, s32, kk, 0, tmp, stride)
	for i := range p.n {
		copy(uq[i*stride:i*stride+kk], tmp[i*stride:i*stride+kk])
	}
}

// fixZSigns flips the columns of z (n x d) whose W column (D x d, signs
// fixed) is the negative of the Ritz vector it came from (column of rq,
// D x kk).
func fixZSigns(z []float64, n, d int, rq []float64, kk int, w []float64, D int) {
	for j := range d {
		var s float64
		for i := range D {
			s += w[i*d+j] * rq[i*kk+j]
		}
		if s < 0 {
			for i := range n {
				z[i*d+j] = -z[i*d+j]
			}
		}
	}
}
