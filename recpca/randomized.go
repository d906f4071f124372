package recpca

import (
	"fmt"
	"math"
	"slices"
)

func (p *problem) solveRandomized(lambda float64, warm []float64) (*solution, error) {
	D, d := p.D, p.d
	k := min(d+p.opt.Oversample, D)
	v := make([]float64, D*k)
	if warm != nil && len(warm) == D*k {
		copy(v, warm)
	} else {
		for i := range v {
			v[i] = p.opt.Rand.NormFloat64()
		}
	}
	orthonormalize(v, D, k)
	// lo is a lower bound of the spectrum of M: C/trC is PSD and
	// λ·G/trG ≤ λ·λmax(G)/trG (power-iteration estimate, with a margin).
	lo := 0.0
	if lambda > 0 {
		lo = -1.2 * lambda * p.gammaG
	}
	y := make([]float64, D*k)
	u := make([]float64, p.n*k)
	var lu []float64
	if lambda != 0 {
		lu = make([]float64, p.n*k)
	}
	h := make([]float64, k*k)
	vr := make([]float64, D*k)
	yr := make([]float64, D*k)
	vs := make([]float64, D*k)
	ys := make([]float64, D*k)
	res := make([]float64, d)
	dcoef := make([]float64, k*k)
	sol := &solution{}
	var theta []float64
	tol := p.opt.Tol
	// ampMax caps the filter's amplification of the top unlocked direction
	// over the lowest wanted one: 1e8 keeps 8 of float64's 16 digits; the
	// float32 operator has 7 digits, so it keeps the filter much milder.
	ampMax := 1e8
	if p.op != nil {
		tol = max(tol, tol32)
		ampMax = 1e3
	}
	tol0 := tol
	for it := 1; ; it++ {
		if err := p.ctx.Err(); err != nil {
			return nil, err
		}
		p.apply(y, v, k, lambda, u, lu)
		gemm64(true, false, k, k, D, 1, v, k, y, k, 0, h, k)
		for i := range k {
			for j := i + 1; j < k; j++ {
				s := (h[i*k+j] + h[j*k+i]) / 2
				h[i*k+j], h[j*k+i] = s, s
			}
		}
		var ok bool
		theta, ok = symEig(h, k)
		if !ok {
			return nil, fmt.Errorf("recpca: fit: Rayleigh–Ritz eigensolver failed at iteration %d", it)
		}
		// Reorder to descending.
		slices.Reverse(theta)
		for i := range k {
			slices.Reverse(h[i*k : (i+1)*k])
		}
		gemm64(false, false, D, k, k, 1, v, k, h, k, 0, vr, k)
		gemm64(false, false, D, k, k, 1, y, k, h, k, 0, yr, k)
		norm := math.Max(math.Abs(theta[0]), math.Abs(theta[k-1]))
		worst := ritzResiduals(yr, vr, D, k, theta, d, norm, res)
		sol.iters, sol.resid = it, worst
		if p.op != nil && lambda != 0 && p.normC > 0 {
			// The float32 products err by ~tol32 of the operator's parts,
			// ||C||/trC + λ·||G||/trG, not of ||M||: where λ nearly cancels
			// them (Beauty at λ = 0.9: ||M|| is 1/75 of ||C||/trC) that
			// floor is far above tol32·||M|| and an iteration aiming below it
			// never stops (previously: MaxIter, 172 s). Stop at the floor;
			// the float64 polish below then refines the block.
			tol = max(tol0, tol32*(p.normC+lambda*p.gammaG)/math.Max(norm, 1e-300))
		}
		p.opt.Logger.Debug("recpca: subspace iteration", "iteration", it, "residual", worst, "tol", tol, "theta_1", theta[0], "theta_d", theta[d-1], "theta_k", theta[k-1])
		if worst <= tol || it >= p.opt.MaxIter {
			break
		}
		// Soft locking: leading Ritz pairs that already meet the tolerance
		// are kept as they are; only the rest of the block is filtered.
		j0 := 0
		for j0 < d && res[j0] <= tol {
			j0++
		}
		kk := k - j0
		fv, fy := vs[:D*kk], ys[:D*kk]
		for i := range D {
			copy(fv[i*kk:(i+1)*kk], vr[i*k+j0:(i+1)*k])
			copy(fy[i*kk:(i+1)*kk], yr[i*k+j0:(i+1)*k])
		}
		// Chebyshev filter of degree m damping [lo, θ_k] (the unwanted part
		// of the spectrum) and amplifying the top; the degree keeps the
		// amplification of the largest unlocked θ under 1e8 so the lower
		// wanted directions keep enough digits.
		cut, top := theta[k-1], theta[j0]
		out := fv
		if cut <= lo || top <= cut {
			for i := range fv {
				fv[i] = fy[i] - lo*fv[i]
			}
		} else {
			e, c := (cut-lo)/2, (cut+lo)/2
			x1 := (top - c) / e
			m := 1
			if x1 > 1 {
				m = int(math.Acosh(ampMax) / math.Acosh(x1))
			}
			m = max(1, min(m, 16))
			y0, y1, y2 := fv, y[:D*kk], fy
			for i := range y1 {
				y1[i] = (fy[i] - c*fv[i]) / e
			}
			for range m - 1 {
				p.apply(y2, y1, kk, lambda, u[:p.n*kk], lu[:len(lu)*kk/k])
				// Deflation: the operator's rounding puts components along
				// the locked Ritz vectors into every product, and the
				// filter amplifies them by T_m at θ_locked ≫ θ_j0 (1e40 at
				// degree 16), so that after the QR against the locked
				// columns only rounding noise is left (the cause of
				// SolverRandomized32 diverging once vectors lock). Project
				// them out after every product.
				deflate(y2, kk, vr, k, j0, D, dcoef)
				for i := range y2 {
					y2[i] = 2*(y2[i]-c*y1[i])/e - y0[i]
				}
				y0, y1, y2 = y1, y2, y0
			}
			out = y1
		}
		for i := range D {
			copy(v[i*k:i*k+j0], vr[i*k:i*k+j0])
			copy(v[i*k+j0:(i+1)*k], out[i*kk:(i+1)*kk])
		}
		orthonormalize(v, D, k)
	}
	if sol.resid > tol {
		p.opt.Logger.Warn("recpca: randomized solver stopped before the tolerance", "iterations", sol.iters, "residual", sol.resid, "tol", tol)
	}
	if p.op != nil && p.opt.Tol < tol32 {
		return p.polish(sol, vr, k, lambda)
	}
	p.opt.Logger.Debug("recpca: randomized solve", "lambda", lambda, "iterations", sol.iters, "residual", sol.resid)
	return p.ritzSolution(sol, vr, theta, k), nil
}

// ritzSolution completes sol from the D x k Ritz block v (columns in
// descending order of theta): the warm block, the top d values and W, the
// block's first d columns with fixed signs.
func (p *problem) ritzSolution(sol *solution, v, theta []float64, k int) *solution {
	D, d := p.D, p.d
	sol.v = v
	sol.vals = slices.Clone(theta[:d])
	sol.w = make([]float64, D*d)
	for i := range D {
		copy(sol.w[i*d:(i+1)*d], v[i*k:i*k+d])
	}
	fixSigns(sol.w, D, d)
	return sol
}

// deflate removes from the D x kk block x (row-major, stride kk) its
// components along the first j0 columns of the D x k block vl (orthonormal,
// stride k): x ← x − V·(Vᵀx). coef is scratch of at least j0·kk.
func deflate(x []float64, kk int, vl []float64, k, j0, D int, coef []float64) {
	if j0 == 0 {
		return
	}
	gemm64(true, false, j0, kk, D, 1, vl, k, x, kk, 0, coef, kk)
	gemm64(false, false, D, kk, j0, -1, vl, k, coef, kk, 1, x, kk)
}

// tol32 is the relative Ritz residual that float32 operator products reach
// reliably; SolverRandomized32 iterates to max(Tol, tol32).
const tol32 = 1e-5

// polish is one float64 Rayleigh–Ritz step on the D x k orthonormal block v
// (SolverRandomized32's final block): U = X̄V in float64, H = UᵀU/trC −
// λ·UᵀLU/trG, and the top-d eigenpairs of H give W = V·Q and X̄W = U·Q.
func (p *problem) polish(sol *solution, v []float64, k int, lambda float64) (*solution, error) {
	n, D, d := p.n, p.D, p.d
	orthonormalize(v, D, k)
	u := make([]float64, n*k)
	p.m.mul(u, v, k)
	h := make([]float64, k*k)
	gemm64(true, false, k, k, n, 1/p.trC, u, k, u, k, 0, h, k)
	if lambda != 0 {
		lu := make([]float64, n*k)
		p.g.mulLap(p.kind, lu, u, k, 1)
		gemm64(true, false, k, k, n, -lambda/p.trG, u, k, lu, k, 1, h, k)
	}
	for i := range k {
		for j := i + 1; j < k; j++ {
			s := (h[i*k+j] + h[j*k+i]) / 2
			h[i*k+j], h[j*k+i] = s, s
		}
	}
	theta, ok := symEig(h, k)
	if !ok {
		return nil, fmt.Errorf("recpca: fit: final Rayleigh–Ritz eigensolver failed (k = %d)", k)
	}
	slices.Reverse(theta)
	for i := range k {
		slices.Reverse(h[i*k : (i+1)*k])
	}
	vr := make([]float64, D*k)
	gemm64(false, false, D, k, k, 1, v, k, h, k, 0, vr, k)
	q := make([]float64, k*d)
	for i := range k {
		copy(q[i*d:(i+1)*d], h[i*k:i*k+d])
	}
	w := make([]float64, D*d)
	for i := range D {
		copy(w[i*d:(i+1)*d], vr[i*k:i*k+d])
	}
	z := make([]float64, n*d)
	gemm64(false, false, n, d, k, 1, u, k, q, d, 0, z, d)
	fixSignsWith(w, D, d, z, n)
	return &solution{w: w, v: vr, vals: slices.Clone(theta[:d]), z: z, iters: sol.iters, resid: sol.resid}, nil
}

// ritzResiduals returns the largest relative residual ||y_j − θ_j·v_j|| / norm
// over the first d Ritz pairs, where column j of the D x stride row-major
// matrices yr (the operator applied to the Ritz vectors) and vr (the Ritz
// vectors) holds pair j. When res is not nil, res[j] receives pair j's
// residual.
func ritzResiduals(yr, vr []float64, D, stride int, theta []float64, d int, norm float64, res []float64) float64 {
	var worst float64
	for j := range d {
		var r float64
		for i := range D {
			e := yr[i*stride+j] - theta[j]*vr[i*stride+j]
			r += e * e
		}
		rj := math.Sqrt(r) / math.Max(norm, 1e-300)
		if res != nil {
			res[j] = rj
		}
		worst = math.Max(worst, rj)
	}
	return worst
}
