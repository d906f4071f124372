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
	D, d := p.D, p.d
	b := krylovBlock(d, D)
	maxCols := min(D, krylovMaxBlocks*b)
	maxCols -= maxCols % b
	if maxCols < 2*b {
		maxCols = min(D, 2*b)
	}
	// Q and Y = M·Q, D x maxCols each (row-major, stride maxCols), filled
	// left to right.
	q := make([]float64, D*maxCols)
	y := make([]float64, D*maxCols)
	blk := make([]float64, D*b)
	if warm != nil && len(warm)%D == 0 && len(warm)/D >= b {
		kw := len(warm) / D
		for i := range D {
			copy(blk[i*b:(i+1)*b], warm[i*kw:i*kw+b])
		}
	} else {
		for i := range blk {
			blk[i] = p.opt.Rand.NormFloat64()
		}
	}
	orthonormalize(blk, D, b)
	u := make([]float64, p.n*b)
	// uq holds X̄Q (n x maxCols, float32) for the basis, so that the
	// projection X̄W of the result, which the reported statistics need,
	// is UQ·S instead of another pass over X̄ (not kept when the float64
	// polish computes its own).
	keepU := p.op != nil && p.opt.Tol >= tol32
	var uq, u32 []float32
	if keepU {
		uq = make([]float32, p.n*maxCols)
		u32 = make([]float32, p.n*maxCols)
	}
	var lu []float64
	if lambda != 0 {
		lu = make([]float64, p.n*b)
	}
	ay := make([]float64, D*b)
	setCols := func(dst []float64, c0 int, src []float64, w int) {
		for i := range D {
			copy(dst[i*maxCols+c0:i*maxCols+c0+w], src[i*w:(i+1)*w])
		}
	}
	// With Tol below the float32 floor the iteration goes on until the
	// residual stalls (the floor), so that the float64 polish starts from
	// the best block the float32 operator gives.
	tol := p.opt.Tol
	cols := 0
	sol := &solution{}
	prev := math.Inf(1)
	var theta, ritzQ, ritzY, lastS []float64
	for it := 1; ; it++ {
		if err := p.ctx.Err(); err != nil {
			return nil, err
		}
		p.mul(u, blk, b)
		if keepU {
			parallelRows(p.n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					row := uq[i*maxCols+cols : i*maxCols+cols+b]
					for j, v := range u[i*b : (i+1)*b] {
						row[j] = float32(v)
					}
				}
			})
		}
		p.applyRest(ay, u, b, lambda, lu)
		setCols(q, cols, blk, b)
		setCols(y, cols, ay, b)
		cols += b
		// Rayleigh–Ritz over the basis: H = QᵀY (symmetrized).
		m := cols
		h := make([]float64, m*m)
		gemm64(true, false, m, m, D, 1, q, maxCols, y, maxCols, 0, h, m)
		for i := range m {
			for j := i + 1; j < m; j++ {
				s := (h[i*m+j] + h[j*m+i]) / 2
				h[i*m+j], h[j*m+i] = s, s
			}
		}
		kk := min(b, m)
		vals, s, ok := topEig(h, m, kk)
		if !ok {
			return nil, fmt.Errorf("recpca: fit: Krylov Rayleigh–Ritz eigensolver failed at step %d", it)
		}
		theta, lastS = vals, s
		ritzQ = make([]float64, D*kk)
		ritzY = make([]float64, D*kk)
		gemm64(false, false, D, kk, m, 1, q, maxCols, s, kk, 0, ritzQ, kk)
		gemm64(false, false, D, kk, m, 1, y, maxCols, s, kk, 0, ritzY, kk)
		norm := math.Max(math.Abs(theta[0]), math.Abs(theta[kk-1]))
		worst := ritzResiduals(ritzY, ritzQ, D, kk, theta, d, norm, nil)
		sol.iters, sol.resid = it, worst
		p.opt.Logger.Debug("recpca: Krylov step", "step", it, "basis", m, "residual", worst, "tol", tol, "theta_1", theta[0], "theta_d", theta[d-1])
		stalled := worst < 1e-3 && worst > krylovStall*prev
		if worst <= tol || stalled || it >= p.opt.MaxIter {
			break
		}
		prev = worst
		if cols+b > maxCols {
			// Thick restart from the top-b Ritz pairs: Q ← QS, Y ← YS;
			// the next block is their residual block YS − QSΘ (the
			// directions the restarted basis misses; the newest image
			// would mostly repeat the discarded part of the basis).
			clear(q)
			clear(y)
			setCols(q, 0, ritzQ, kk)
			setCols(y, 0, ritzY, kk)
			if keepU {
				p.rotateU(uq, u32, maxCols, cols, lastS, kk)
			}
			cols = kk
			for i := range D {
				for j := range b {
					blk[i*b+j] = ritzY[i*kk+j] - theta[j]*ritzQ[i*kk+j]
				}
			}
		} else {
			// Next block: the newest image, orthogonalized against the
			// basis.
			copy(blk, ay)
		}
		coef := make([]float64, cols*b)
		// Block classical Gram–Schmidt against the basis, twice.
		againstBasis := func() {
			for range 2 {
				gemm64(true, false, cols, b, D, 1, q, maxCols, blk, b, 0, coef, b)
				gemm64(false, false, D, b, cols, -1, q, maxCols, coef, b, 1, blk, b)
			}
		}
		againstBasis()
		// Columns that vanished (an invariant subspace found) are
		// replaced by random ones before the QR.
		for j := range b {
			var s float64
			for i := range D {
				s += blk[i*b+j] * blk[i*b+j]
			}
			if s < 1e-20 {
				for i := range D {
					blk[i*b+j] = p.opt.Rand.NormFloat64()
				}
			}
		}
		orthonormalize(blk, D, b)
		againstBasis()
		orthonormalize(blk, D, b)
	}
	kk := len(theta)
	if sol.resid > tol {
		p.opt.Logger.Debug("recpca: Krylov solver stopped above the tolerance", "steps", sol.iters, "residual", sol.resid, "tol", tol)
	}
	if p.op != nil && p.opt.Tol < tol32 {
		return p.polish(sol, ritzQ, kk, lambda)
	}
	sol = p.ritzSolution(sol, ritzQ, theta, kk)
	if keepU {
		// Z = (X̄Q)·S[:, :d], with the sign flips of W.
		p.rotateU(uq, u32, maxCols, cols, lastS, kk)
		z := make([]float64, p.n*d)
		for i := range p.n {
			for j, v := range uq[i*maxCols : i*maxCols+d] {
				z[i*d+j] = float64(v)
			}
		}
		fixZSigns(z, p.n, d, ritzQ, kk, sol.w, D)
		sol.z = z
	}
	return sol, nil
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
