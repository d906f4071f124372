package recpca

import (
	"fmt"
	"math"
	"slices"
)

// solveRandomized finds the top-d eigenvectors of M by shifted block
// subspace iteration with Rayleigh–Ritz (SolverRandomized and
// SolverRandomized32): every iteration applies M to the D x k block (k = d
// + Oversample), takes the Ritz pairs of the block, keeps the leading pairs
// that meet the tolerance (soft locking) and runs a Chebyshev filter on the
// rest. With the float32 operator it stops at that operator's floor and,
// when Tol is below it, polishes the final block in float64.
func (p *problem) solveRandomized(lambda float64, warm []float64) (*solution, error) {
	si := p.newSubspace(lambda, warm)
	d := p.d
	sol := &solution{}
	var theta []float64
	tol := p.opt.Tol
	if p.op != nil {
		tol = max(tol, tol32)
	}
	tol0 := tol
	for it := 1; ; it++ {
		if err := p.ctx.Err(); err != nil {
			return nil, err
		}
		var worst, norm float64
		var err error
		if theta, worst, norm, err = si.rayleighRitz(it); err != nil {
			return nil, err
		}
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
		p.opt.Logger.Debug("recpca: subspace iteration", "iteration", it, "residual", worst, "tol", tol, "theta_1", theta[0], "theta_d", theta[d-1], "theta_k", theta[si.k-1])
		if worst <= tol || it >= p.opt.MaxIter {
			break
		}
		si.filter(theta, tol)
	}
	if sol.resid > tol {
		p.opt.Logger.Warn("recpca: randomized solver stopped before the tolerance", "iterations", sol.iters, "residual", sol.resid, "tol", tol)
	}
	if p.op != nil && p.opt.Tol < tol32 {
		return p.polish(sol, si.vr, si.k, lambda)
	}
	p.opt.Logger.Debug("recpca: randomized solve", "lambda", lambda, "iterations", sol.iters, "residual", sol.resid)
	return p.ritzSolution(sol, si.vr, theta, si.k), nil
}

// subspace is solveRandomized's state between iterations: the D x k block
// and the scratch of its products and Ritz steps.
type subspace struct {
	p      *problem
	lambda float64
	k      int
	// v is the orthonormal block (D x k, row-major); y = M·v.
	v, y []float64
	// u and lu are the n x k scratch of a product (X̄v and L·X̄v).
	u, lu []float64
	// h is the k x k projected matrix, then its eigenvectors; vr and yr
	// are the Ritz vectors and their images (D x k), res the residuals of
	// the top d.
	h, vr, yr, res []float64
	// vs, ys and dcoef are the filter's scratch.
	vs, ys, dcoef []float64
	// lo is a lower bound of the spectrum of M: C/trC is PSD and
	// λ·G/trG ≤ λ·λmax(G)/trG (power-iteration estimate, with a margin).
	lo float64
	// ampMax caps the filter's amplification of the top unlocked direction
	// over the lowest wanted one: 1e8 keeps 8 of float64's 16 digits; the
	// float32 operator has 7 digits, so it keeps the filter much milder.
	ampMax float64
}

// newSubspace allocates the iteration's state and sets its start block:
// warm when it has the block's shape, else random, orthonormalized.
func (p *problem) newSubspace(lambda float64, warm []float64) *subspace {
	D, d := p.D, p.d
	k := min(d+p.opt.Oversample, D)
	si := &subspace{p: p, lambda: lambda, k: k, v: make([]float64, D*k), ampMax: 1e8}
	if warm != nil && len(warm) == D*k {
		copy(si.v, warm)
	} else {
		for i := range si.v {
			si.v[i] = p.opt.Rand.NormFloat64()
		}
	}
	orthonormalize(si.v, D, k)
	if lambda > 0 {
		si.lo = -1.2 * lambda * p.gammaG
	}
	si.y = make([]float64, D*k)
	si.u = make([]float64, p.n*k)
	if lambda != 0 {
		si.lu = make([]float64, p.n*k)
	}
	si.h = make([]float64, k*k)
	si.vr, si.yr = make([]float64, D*k), make([]float64, D*k)
	si.vs, si.ys = make([]float64, D*k), make([]float64, D*k)
	si.res = make([]float64, d)
	si.dcoef = make([]float64, k*k)
	if p.op != nil {
		si.ampMax = 1e3
	}
	return si
}

// rayleighRitz applies M to the block and returns the Ritz values
// (descending), the largest relative residual of the top d and the norm it
// is relative to; the Ritz vectors and images are left in vr and yr, the
// residuals in res. it is the iteration (for the error message).
func (si *subspace) rayleighRitz(it int) (theta []float64, worst, norm float64, err error) {
	p, D, k := si.p, si.p.D, si.k
	h := si.h
	p.apply(si.y, si.v, k, si.lambda, si.u, si.lu)
	gemm64(true, false, k, k, D, 1, si.v, k, si.y, k, 0, h, k)
	symmetrize(h, k)
	theta, ok := symEig(h, k)
	if !ok {
		return nil, 0, 0, fmt.Errorf("recpca: fit: Rayleigh–Ritz eigensolver failed at iteration %d: %w", it, ErrNotConverged)
	}
	// Reorder to descending.
	slices.Reverse(theta)
	for i := range k {
		slices.Reverse(h[i*k : (i+1)*k])
	}
	gemm64(false, false, D, k, k, 1, si.v, k, h, k, 0, si.vr, k)
	gemm64(false, false, D, k, k, 1, si.y, k, h, k, 0, si.yr, k)
	norm = math.Max(math.Abs(theta[0]), math.Abs(theta[k-1]))
	worst = ritzResiduals(si.yr, si.vr, D, k, theta, p.d, norm, si.res)
	return theta, worst, norm, nil
}

// filter forms the next block from the Ritz pairs: leading pairs that
// already meet tol are kept as they are (soft locking); the rest of the
// block goes through the Chebyshev filter and the whole is orthonormalized.
func (si *subspace) filter(theta []float64, tol float64) {
	D, k := si.p.D, si.k
	j0 := 0
	for j0 < si.p.d && si.res[j0] <= tol {
		j0++
	}
	kk := k - j0
	fv, fy := si.vs[:D*kk], si.ys[:D*kk]
	for i := range D {
		copy(fv[i*kk:(i+1)*kk], si.vr[i*k+j0:(i+1)*k])
		copy(fy[i*kk:(i+1)*kk], si.yr[i*k+j0:(i+1)*k])
	}
	out := si.chebyshev(fv, fy, theta[k-1], theta[j0], j0)
	for i := range D {
		copy(si.v[i*k:i*k+j0], si.vr[i*k:i*k+j0])
		copy(si.v[i*k+j0:(i+1)*k], out[i*kk:(i+1)*kk])
	}
	orthonormalize(si.v, D, k)
}

// chebyshev filters the D x kk unlocked block fv (with images fy = M·fv)
// by a Chebyshev polynomial of degree m damping [lo, cut] (the unwanted
// part of the spectrum) and amplifying the top; the degree keeps the
// amplification of top (the largest unlocked θ) under ampMax so the lower
// wanted directions keep enough digits. It returns the filtered block (fv
// or a scratch slice); j0 locked Ritz vectors are deflated after every
// product.
func (si *subspace) chebyshev(fv, fy []float64, cut, top float64, j0 int) []float64 {
	p, D, k, lo := si.p, si.p.D, si.k, si.lo
	kk := len(fv) / D
	if cut <= lo || top <= cut {
		for i := range fv {
			fv[i] = fy[i] - lo*fv[i]
		}
		return fv
	}
	e, c := (cut-lo)/2, (cut+lo)/2
	x1 := (top - c) / e
	m := 1
	if x1 > 1 {
		m = int(math.Acosh(si.ampMax) / math.Acosh(x1))
	}
	m = max(1, min(m, 16))
	y0, y1, y2 := fv, si.y[:D*kk], fy
	for i := range y1 {
		y1[i] = (fy[i] - c*fv[i]) / e
	}
	for range m - 1 {
		p.apply(y2, y1, kk, si.lambda, si.u[:p.n*kk], si.lu[:len(si.lu)*kk/k])
		// Deflation: the operator's rounding puts components along
		// the locked Ritz vectors into every product, and the
		// filter amplifies them by T_m at θ_locked ≫ θ_j0 (1e40 at
		// degree 16), so that after the QR against the locked
		// columns only rounding noise is left (the cause of
		// SolverRandomized32 diverging once vectors lock). Project
		// them out after every product.
		deflate(y2, kk, si.vr, k, j0, D, si.dcoef)
		for i := range y2 {
			y2[i] = 2*(y2[i]-c*y1[i])/e - y0[i]
		}
		y0, y1, y2 = y1, y2, y0
	}
	return y1
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
	symmetrize(h, k)
	theta, ok := symEig(h, k)
	if !ok {
		return nil, fmt.Errorf("recpca: fit: final Rayleigh–Ritz eigensolver failed (k = %d): %w", k, ErrNotConverged)
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
