package recpca

import (
	"context"
	"fmt"
	"math"
)

// problem holds one fit's state.
type problem struct {
	m       *design
	n, D, d int
	kind    LaplacianKind
	opt     Options
	solver  Solver
	ctx     context.Context
	paths   fitPaths

	trC  float64
	C    []float64 // X̄ᵀX̄, exact solver only
	mean []float64 // the centring vector when there is no design (FitStats)
	op   *op32     // float32 operator (SolverRandomized32 only)

	g   *Graph
	trG float64
	G   []float64 // X̄ᵀLX̄, exact solver (when a penalty needs it)
	// gramGraph is the graph G was formed for (exact solver).
	gramGraph *Graph
	gammaG    float64   // estimate of λmax(G)/trG (randomized solver)
	pcaV      []float64 // PCA's Ritz block (randomized solver), to start the λmax(G) estimate
	normC     float64   // λmax(C)/trC, from the PCA solve
	// keepNorm freezes trG (the penalty's normalizer) while IRLS reweights
	// the graph, so that the rounds minimize one fixed ℓ1 objective.
	keepNorm bool
}

type solution struct {
	w     []float64 // D x d orthonormal columns
	v     []float64 // D x k block (randomized warm start), nil for exact
	vals  []float64 // d eigenvalues of M, descending
	z     []float64 // X̄W (n x d) once known (projected), or nil
	iters int
	resid float64
}

// setGraph installs the penalty graph: trG, and G or a norm estimate.
func (p *problem) setGraph(g *Graph) error {
	p.g = g
	var tr float64
	switch {
	case p.solver == SolverExact && (p.G != nil || p.keepNorm):
		// G for this graph (formed with C by fit, or here for a
		// reweighted IRLS graph), and trG = tr(G).
		if g != p.gramGraph {
			_, p.G = p.grams(g, false)
			p.gramGraph = g
		}
		tr = trace(p.G, p.D)
	default:
		tr = p.m.laplacianTrace(g, p.kind)
	}
	if !(tr > 0) {
		return fmt.Errorf("recpca: fit: tr(X̄ᵀLX̄) = %v: the graph sees no variation in the item rows: %w", tr, ErrBadInput)
	}
	if !p.keepNorm {
		p.trG = tr
	}
	if p.solver == SolverExact {
		return nil
	}
	if p.solver == SolverKrylov32 {
		return nil // no shift or float32 floor estimate needed
	}
	// Block power iteration for λmax(G): the shift that keeps M + σI
	// positive. The Ritz estimate is used with a 1.2 margin. Each step is
	// two passes over X̄ whose cost hardly depends on the block width (at
	// 50,000 x 4,096 the passes, not the flops, are the cost), so the block
	// is 8 wide and starts from PCA's top 4 Ritz vectors (G's top directions
	// are mostly high-variance ones) plus 4 random ones, and runs 5 steps
	// (it was 4 random vectors and 10 steps: twice the passes).
	const bk, half = 8, 4
	steps := 10
	v := make([]float64, p.D*bk)
	for i := range v {
		v[i] = p.opt.Rand.NormFloat64()
	}
	if kw := len(p.pcaV) / p.D; kw >= half {
		for i := range p.D {
			copy(v[i*bk:i*bk+half], p.pcaV[i*kw:i*kw+half])
		}
		steps = 5
	}
	u := make([]float64, p.n*bk)
	lu := make([]float64, p.n*bk)
	y := make([]float64, p.D*bk)
	h := make([]float64, bk*bk)
	var est float64
	for range steps {
		orthonormalize(v, p.D, bk)
		p.mul(u, v, bk)
		p.g.mulLap(p.kind, lu, u, bk, 1)
		p.mulT(y, lu, bk)
		gemm64(true, false, bk, bk, p.D, 1, v, bk, y, bk, 0, h, bk)
		mirrorUpper(h, bk)
		if vals, ok := symEigValues(h, bk); ok {
			est = vals[bk-1]
		}
		v, y = y, v
	}
	p.gammaG = est / p.trG
	return nil
}

// project returns Z = X̄W (n x d).
func (p *problem) project(w []float64) []float64 {
	z := make([]float64, p.n*p.d)
	p.m.mul(z, w, p.d)
	return z
}

// projectPair sets a.z = X̄·W_a and b.z = X̄·W_b by one product X̄·[W_a |
// W_b] (one pass over X̄ for both).
func (p *problem) projectPair(a, b *solution) {
	D, d := p.D, p.d
	w := make([]float64, D*2*d)
	for i := range D {
		copy(w[i*2*d:], a.w[i*d:(i+1)*d])
		copy(w[i*2*d+d:], b.w[i*d:(i+1)*d])
	}
	a.z, b.z = make([]float64, p.n*d), make([]float64, p.n*d)
	p.m.mulEach(w, 2*d, func(lo, hi int, z []float64) {
		for i := lo; i < hi; i++ {
			r := z[(i-lo)*2*d:]
			copy(a.z[i*d:(i+1)*d], r[:d])
			copy(b.z[i*d:(i+1)*d], r[d:2*d])
		}
	})
}

// projected returns X̄W for a solution, computed once and kept in s.z (the
// float64 polish computes it on the way).
//
// With the float32 operator (SolverRandomized32 without the float64 polish)
// the product is a float32 GEMM too: Z only feeds the reported statistics
// (retained variance, graph TV), which it gives to ~1e-7 relative, and a
// float64 product would cost more than an iteration of the solver at large D.
// The exact solver keeps the float64 product: float32 GEMMs, even with both
// operands split into a float32 head and tail, leave ~1.5e-9 of float32
// accumulation error on Beauty's retained variance (5e-9 on small inputs),
// above the 1e-9 its tests hold it to.
func (p *problem) projected(s *solution) []float64 {
	if s.z != nil {
		return s.z
	}
	if p.op != nil {
		s.z = make([]float64, p.n*p.d)
		p.op.mul(s.z, s.w, p.d)
	} else {
		s.z = p.project(s.w)
	}
	return s.z
}

// mul and mulT are the operator's n x D x k products: float32 GEMMs for
// SolverRandomized32, float64 otherwise.
func (p *problem) mul(u, v []float64, k int) {
	if p.op != nil {
		p.op.mul(u, v, k)
		return
	}
	p.m.mul(u, v, k)
}

func (p *problem) mulT(y, u []float64, k int) {
	if p.op != nil {
		p.op.mulT(y, u, k)
		return
	}
	p.m.mulT(y, u, k)
}

func (p *problem) solve(lambda float64, warm []float64) (*solution, error) {
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	switch p.solver {
	case SolverExact:
		return p.solveExact(lambda)
	case SolverKrylov32:
		return p.solveKrylov(lambda, warm)
	}
	return p.solveRandomized(lambda, warm)
}

func (p *problem) solveExact(lambda float64) (*solution, error) {
	D, d := p.D, p.d
	a := p.matM(lambda)
	top := topEig
	if p.paths.fullEig {
		top = topEigFull
	}
	vals, w, ok := top(a, D, d)
	if !ok {
		return nil, fmt.Errorf("recpca: fit: dense eigensolver (D = %d, λ = %v): %w", D, lambda, ErrNotConverged)
	}
	sol := &solution{w: w, vals: vals}
	fixSigns(sol.w, D, d)
	return sol, nil
}

// matM returns M = C/trC − λ·G/trG (D x D, full) from the Gram matrices.
func (p *problem) matM(lambda float64) []float64 {
	a := make([]float64, p.D*p.D)
	s := lambda / p.trG
	for i, c := range p.C {
		a[i] = c / p.trC
		if lambda != 0 {
			a[i] -= s * p.G[i]
		}
	}
	return a
}

// apply computes Y = M·V for the D x k block v.
func (p *problem) apply(y, v []float64, k int, lambda float64, u, lu []float64) {
	p.mul(u, v, k)
	p.applyRest(y, u, k, lambda, lu)
}

// applyRest completes apply from u = X̄V (overwritten): Y = X̄ᵀ(U/trC −
// λ·LU/trG).
func (p *problem) applyRest(y, u []float64, k int, lambda float64, lu []float64) {
	if lambda != 0 {
		p.g.mulLap(p.kind, lu, u, k, 1)
		a, b := 1/p.trC, lambda/p.trG
		for i := range u {
			u[i] = a*u[i] - b*lu[i]
		}
	} else {
		for i := range u {
			u[i] /= p.trC
		}
	}
	p.mulT(y, u, k)
}

// fixSigns makes the largest-magnitude entry of each column positive, so that
// results are deterministic up to the solver.
func fixSigns(w []float64, rows, cols int) { fixSignsWith(w, rows, cols, nil, 0) }

// fixSignsWith is fixSigns on w, flipping the same columns of z (zRows x
// cols; nil for none), the projection X̄W.
func fixSignsWith(w []float64, rows, cols int, z []float64, zRows int) {
	for j := range cols {
		var best float64
		for i := range rows {
			if v := w[i*cols+j]; math.Abs(v) > math.Abs(best) {
				best = v
			}
		}
		if best < 0 {
			for i := range rows {
				w[i*cols+j] = -w[i*cols+j]
			}
			for i := range zRows {
				z[i*cols+j] = -z[i*cols+j]
			}
		}
	}
}

func sumSq(a []float64) float64 {
	var s float64
	for _, v := range a {
		s += v * v
	}
	return s
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// tvRows returns TV₂ and TV₁ of the rows of z (node i is row i−off).
func tvRows(g *Graph, z []float64, cols, off int) (tv2, tv1 float64) {
	for i := off; i < g.N; i++ {
		zi := z[(i-off)*cols : (i-off+1)*cols]
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			j := int(g.Col[t])
			if j <= i {
				continue
			}
			zj := z[(j-off)*cols : (j-off+1)*cols]
			q := sqDist(zi, zj)
			tv2 += g.Val[t] * q
			tv1 += g.Val[t] * math.Sqrt(q)
		}
	}
	return tv2, tv1
}

// sqDist returns ||x − y||² (len(y) >= len(x)) with four partial sums: one
// running sum made tvRows latency-bound.
func sqDist(x, y []float64) float64 {
	y = y[:len(x)]
	var q0, q1, q2, q3 float64
	c := 0
	for ; c+4 <= len(x); c += 4 {
		e0, e1, e2, e3 := x[c]-y[c], x[c+1]-y[c+1], x[c+2]-y[c+2], x[c+3]-y[c+3]
		q0 += e0 * e0
		q1 += e1 * e1
		q2 += e2 * e2
		q3 += e3 * e3
	}
	for ; c < len(x); c++ {
		e := x[c] - y[c]
		q0 += e * e
	}
	return (q0 + q1) + (q2 + q3)
}
