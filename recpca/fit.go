package recpca

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/tensor"
)

// Stats reports what a fit achieved. Retained variance is ||X̄W||²_F /
// ||X̄||²_F for the orthonormal W (before whitening); graph TVs are measured
// on Z = X̄W with the raw co-occurrence weights A (not the Laplacian), so the
// numbers compare across Laplacian kinds. PCA* fields are the same
// quantities for plain PCA with the same d (zero when no graph was given).
type Stats struct {
	// Lambda is the λ actually used (after Beta or TargetVariance).
	Lambda float64
	// RetainedVariance and PCARetainedVariance are fractions of the total.
	RetainedVariance, PCARetainedVariance float64
	// NonPositive counts kept eigenvalues of M that are ≤ 0.
	NonPositive int
	// GraphTV is TV₂(Z) = ½ Σ A_ij ||z_i − z_j||²; GraphTVL1 is ½ Σ A_ij
	// ||z_i − z_j||.
	GraphTV, GraphTVL1 float64
	// PCAGraphTV and PCAGraphTVL1 are the same for the PCA projection.
	PCAGraphTV, PCAGraphTVL1 float64
	// TraceRatio is tr(X̄ᵀLX̄)/tr(X̄ᵀX̄) (0 without a graph).
	TraceRatio float64
	// Solver is the solver that ran.
	Solver Solver
	// Iterations is the randomized solver's last iteration count (0 for the
	// exact solver); Residual its final relative residual.
	Iterations int
	Residual   float64
	// LambdaEvals counts eigen-solves spent choosing λ (TargetVariance).
	LambdaEvals int
	// IRLSIters counts ℓ1 reweighting rounds performed.
	IRLSIters int
}

// Projection is a fitted (Rec-)PCA map x ↦ (x·s − Mean)·W, where s is the
// optional row normalization. It is immutable after Fit and safe for
// concurrent use.
type Projection struct {
	// Mean is the centring vector (length D; zeros with NoCenter).
	Mean []float64
	// W is the D x d projection (orthonormal columns unless whitened).
	W *mat.Dense
	// Eigenvalues are the d kept eigenvalues of M, descending.
	Eigenvalues []float64
	// NormalizeInput records whether rows are L2-normalized before centring.
	NormalizeInput bool
	// Stats describes the fit.
	Stats Stats
}

const normEps = 1e-12

// Fit computes PCA, whitened PCA or Rec-PCA of the item matrix x ([NumItems+1,
// D], row 0 padding, excluded) regularized by the co-occurrence graph g (over
// the same NumItems; may be nil when no penalty is asked). It returns an error
// for NaN/Inf entries, d outside 1..min(D, NumItems), a missing or empty graph
// when a penalty is asked, mismatched item counts, zero variance, or a
// randomized solve that did not converge.
func Fit(x *tensor.Tensor, g *Graph, opt Options) (*Projection, error) {
	return FitContext(context.Background(), x, g, opt)
}

// FitContext is Fit with cancellation, checked between solver iterations.
func FitContext(ctx context.Context, x *tensor.Tensor, g *Graph, opt Options) (*Projection, error) {
	return fit(ctx, x, g, opt, fitPaths{})
}

// checkFinite returns an error naming the first NaN or Inf entry of the n x
// D rows (items 1..n), scanning row ranges in parallel: a float32 squared
// cannot overflow float64, so a row is finite exactly when its sum of
// squares is, and only a non-finite row is searched entry by entry.
func checkFinite(x []float32, n, D int) error {
	bad := make([]int, runtime.GOMAXPROCS(0))
	for p := range bad {
		bad[p] = -1
	}
	parallelRowsIdx(n, func(p, lo, hi int) {
		for i := lo; i < hi; i++ {
			if sq := sumSq32(x[i*D : (i+1)*D]); math.IsNaN(sq) || math.IsInf(sq, 0) {
				bad[p] = i
				return
			}
		}
	})
	for _, i := range bad {
		if i < 0 {
			continue
		}
		for c, v := range x[i*D : (i+1)*D] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("recpca: fit: item matrix row %d column %d is %v: %w (%w)", i+1, c, v, ErrBadInput, ErrNonFinite)
			}
		}
	}
	return nil
}

// fitPaths selects the exact solver's previous code paths, kept so that the
// benchmarks can time them beside the current ones: fullEig decomposes M
// fully with dsyev.
type fitPaths struct {
	fullEig bool
}

func fit(ctx context.Context, x *tensor.Tensor, g *Graph, opt Options, paths fitPaths) (*Projection, error) {
	if x == nil || x.Dims() != 2 || x.Rows() < 2 {
		var sh []int
		if x != nil {
			sh = x.Shape
		}
		return nil, fmt.Errorf("recpca: fit: item matrix must be [NumItems+1, D] with NumItems ≥ 1, got shape %v: %w", sh, ErrBadInput)
	}
	n, D, d := x.Rows()-1, x.Cols(), opt.Dim
	if err := checkFinite(x.Data[D:], n, D); err != nil {
		return nil, err
	}
	penalized, err := opt.check(n, D)
	if err != nil {
		return nil, err
	}
	if g != nil && g.N != n+1 {
		return nil, fmt.Errorf("recpca: fit: graph has %d items, item matrix has %d: %w", g.N-1, n, ErrBadInput)
	}
	if penalized && (g == nil || g.NumEdges() == 0) {
		return nil, fmt.Errorf("recpca: fit: a graph penalty was asked: %w", ErrEmptyGraph)
	}
	if opt.Standardize {
		xs, mean, inv := standardized(x, opt.NormalizeInput)
		o := opt
		o.Standardize, o.NormalizeInput = false, false
		pr, err := fit(ctx, xs, g, o, paths)
		if err != nil {
			return nil, err
		}
		pr.unstandardize(mean, inv, opt.NormalizeInput)
		return pr, nil
	}
	opt.setDefaults()
	solver := opt.Solver
	if solver == SolverAuto {
		solver = SolverRandomized
		if D <= 1024 || 4*min(d+opt.Oversample, D) >= D {
			solver = SolverExact
		}
	}

	p := &problem{
		m: newDesign(x.Data, n, D, opt.NormalizeInput, normEps, !opt.NoCenter, solver != SolverExact),
		n: n, D: D, d: d, kind: opt.Laplacian, opt: opt, solver: solver,
		ctx: ctx, paths: paths,
	}
	if solver == SolverExact {
		// One pass for C and, when a penalty will need it, G.
		var gg *Graph
		if penalized {
			gg = g
		}
		p.C, p.G = p.grams(gg, true)
		p.gramGraph = gg
		p.trC = trace(p.C, D)
	} else {
		p.trC = p.m.traceC()
	}
	if !(p.trC > 0) {
		return nil, fmt.Errorf("recpca: fit: the item rows have zero variance: %w", ErrBadInput)
	}
	if solver == SolverRandomized32 || solver == SolverKrylov32 {
		p.op = newOp32(p.m)
	}
	return p.run(g, penalized)
}

// run solves the problem set up by fit or fitStats: PCA first (the reference,
// and the answer without a penalty), then the penalty handle, then the
// report and the Projection. Without a design matrix (p.m == nil, FitStats)
// the projected quantities come from the quadratic forms of C and G.
func (p *problem) run(g *Graph, penalized bool) (*Projection, error) {
	opt := p.opt
	st := Stats{Solver: p.solver}
	hasGraph := g != nil && g.NumEdges() > 0 || p.m == nil && p.G != nil

	lambda := opt.Lambda
	if opt.Beta > 0 {
		lambda = opt.Beta / (1 - opt.Beta)
	}
	var res *solution
	// pcaDone, when not nil, is closed once the PCA fields of st are set
	// (they are taken beside the λ solution's).
	var pcaDone chan struct{}
	var err error
	if p.solver == SolverExact && p.m != nil && hasGraph && penalized && opt.TargetVariance == 0 {
		res, pcaDone, err = p.solvePair(g, lambda, &st)
	} else {
		lambda, res, err = p.solveInTurn(g, hasGraph, penalized, lambda, &st)
	}
	if err != nil {
		return nil, err
	}
	if penalized && opt.TV == TVL1 {
		res, st.IRLSIters, err = p.irls(g, lambda, res)
		if err != nil {
			return nil, err
		}
	}
	p.report(&st, g, hasGraph, res)
	if pcaDone != nil {
		<-pcaDone
	}
	return p.projection(res, st), nil
}

// solvePair is run's path for the exact solver with a fixed λ and a design
// matrix: the two eigenproblems are independent once C and G exist, so PCA's
// eigen-solve (the reference) runs beside M's, each on one core, then one
// product X̄·[W_PCA | W_λ] gives both projections and the two reports are
// taken side by side. The two sides share only read-only state. It returns
// M's solution and a channel closed once st's PCA fields are set.
func (p *problem) solvePair(g *Graph, lambda float64, st *Stats) (*solution, chan struct{}, error) {
	if err := p.setGraph(g); err != nil {
		return nil, nil, err
	}
	var pca *solution
	var refErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		pca, refErr = p.solve(0, nil)
	}()
	res, err := p.solve(lambda, nil)
	<-done
	if refErr != nil {
		return nil, nil, refErr
	}
	if err != nil {
		return nil, nil, err
	}
	p.normC = pca.vals[0]
	if p.opt.TV == TVQuadratic {
		p.projectPair(pca, res)
	}
	pcaDone := make(chan struct{})
	go func() {
		defer close(pcaDone)
		st.PCARetainedVariance = p.retained(pca)
		st.PCAGraphTV, st.PCAGraphTVL1 = p.graphTV(g, pca)
	}()
	st.TraceRatio = p.trG / p.trC
	st.Lambda = lambda
	return res, pcaDone, nil
}

// solveInTurn is run's general path: the PCA reference (solve, projection
// and report), then, with a penalty, M's solve warm-started from PCA's block
// at λ or at the λ that TargetVariance chooses. It returns that λ and the
// solution (PCA's without a penalty).
func (p *problem) solveInTurn(g *Graph, hasGraph, penalized bool, lambda float64, st *Stats) (float64, *solution, error) {
	pca, err := p.solve(0, nil)
	if err != nil {
		return 0, nil, err
	}
	p.normC = pca.vals[0]
	st.PCARetainedVariance = p.retained(pca)
	if hasGraph {
		st.PCAGraphTV, st.PCAGraphTVL1 = p.graphTV(g, pca)
		if p.m != nil {
			p.pcaV = pca.v
			if err := p.setGraph(g); err != nil {
				return 0, nil, err
			}
		}
		st.TraceRatio = p.trG / p.trC
	}
	if !penalized {
		return lambda, pca, nil
	}
	res := pca
	if p.opt.TargetVariance > 0 {
		lambda, res, st.LambdaEvals, err = p.chooseLambda(p.opt.TargetVariance*st.PCARetainedVariance, pca)
	} else {
		res, err = p.solve(lambda, pca.v)
	}
	if err != nil {
		return 0, nil, err
	}
	st.Lambda = lambda
	return lambda, res, nil
}

// report fills st's fields of the solution res (retained variance, graph
// TVs, solver figures, non-positive eigenvalues, with a warning when there
// are some).
func (p *problem) report(st *Stats, g *Graph, hasGraph bool, res *solution) {
	st.RetainedVariance = p.retained(res)
	if hasGraph {
		st.GraphTV, st.GraphTVL1 = p.graphTV(g, res)
	}
	st.Iterations, st.Residual = res.iters, res.resid
	for _, v := range res.vals {
		if v <= 0 {
			st.NonPositive++
		}
	}
	if st.NonPositive > 0 {
		p.opt.Logger.Warn("recpca: kept eigenvalues of M are not positive; λ is past the useful band",
			"nonpositive", st.NonPositive, "d", p.d, "lambda", st.Lambda, "retained_variance", st.RetainedVariance)
	}
}

// projection builds the Projection of res: W (whitened when asked: each
// column scaled to unit variance over the items) and the centring vector.
func (p *problem) projection(res *solution, st Stats) *Projection {
	n, D, d := p.n, p.D, p.d
	w := mat.NewDense(D, d, res.w)
	if p.opt.Whiten {
		colSq := p.columnSq(res)
		for j := range d {
			s := 1 / math.Sqrt(math.Max(colSq[j]/float64(n), normEps))
			for i := range D {
				w.Set(i, j, w.At(i, j)*s)
			}
		}
	}
	var mean []float64
	if p.m != nil {
		mean = p.m.mean
	} else {
		mean = p.mean
	}
	if mean == nil {
		mean = make([]float64, D)
	}
	return &Projection{Mean: mean, W: w, Eigenvalues: res.vals, NormalizeInput: p.opt.NormalizeInput, Stats: st}
}

// retained returns the retained variance ||X̄W||²_F/trC of a solution.
func (p *problem) retained(s *solution) float64 {
	var q float64
	for _, v := range p.columnSq(s) {
		q += v
	}
	return q / p.trC
}

// columnSq returns the squared norms of the columns of Z = X̄W: from Z
// itself, or as the diagonal of WᵀCW without a design matrix.
func (p *problem) columnSq(s *solution) []float64 {
	d := p.d
	out := make([]float64, d)
	if p.m == nil {
		return quadDiag(p.C, s.w, p.D, d)
	}
	z := p.projected(s)
	for i := range p.n {
		for j, v := range z[i*d : (i+1)*d] {
			out[j] += v * v
		}
	}
	return out
}

// graphTV returns TV₂ and TV₁ of Z = X̄W on the raw weights. Without a
// design matrix only TV₂ with the combinatorial Laplacian is known
// (tr(WᵀGW)); the others are reported as 0.
func (p *problem) graphTV(g *Graph, s *solution) (tv2, tv1 float64) {
	if p.m != nil {
		return tvRows(g, p.projected(s), p.d, 1)
	}
	if p.kind != Combinatorial {
		return 0, 0
	}
	for _, v := range quadDiag(p.G, s.w, p.D, p.d) {
		tv2 += v
	}
	return tv2, 0
}

// quadDiag returns the diagonal of WᵀAW for the symmetric D x D matrix a and
// the D x d matrix w.
func quadDiag(a, w []float64, D, d int) []float64 {
	aw := make([]float64, D*d)
	gemm64(false, false, D, d, D, 1, a, D, w, d, 0, aw, d)
	out := make([]float64, d)
	for i := range D {
		for j := range d {
			out[j] += w[i*d+j] * aw[i*d+j]
		}
	}
	return out
}

// Transform writes into dst ([Rows, d], sized when empty) the reduced item
// matrix of x ([Rows, D]): row 0 stays zero (padding), and every other row is
// (x_i·s_i − Mean)·W, L2-normalized when normalize is set. It panics with
// tensor.ErrShape when x has the wrong width or dst the wrong shape, and
// returns dst.
func (p *Projection) Transform(dst, x *tensor.Tensor, normalize bool) *tensor.Tensor {
	D, d := p.W.Dims()
	if x.Dims() != 2 || x.Cols() != D {
		panic(fmt.Errorf("%w: recpca.Transform: x %v, want [rows, %d]", tensor.ErrShape, x.Shape, D))
	}
	if dst == nil {
		dst = &tensor.Tensor{}
	}
	rows := x.Rows()
	dst.Ensure(rows, d)
	clear(dst.Row(0))
	if rows < 2 {
		return dst
	}
	n := rows - 1
	m := newDesign(x.Data, n, D, p.NormalizeInput, normEps, false, false)
	m.mean = p.Mean
	z := make([]float64, n*d)
	m.mul(z, p.W.RawMatrix().Data, d)
	for i := range n {
		zi := z[i*d : (i+1)*d]
		s := 1.0
		if normalize {
			var q float64
			for _, v := range zi {
				q += v * v
			}
			s = 0
			if q > 0 {
				s = 1 / math.Max(math.Sqrt(q), normEps)
			}
		}
		out := dst.Row(i + 1)
		for j, v := range zi {
			out[j] = float32(v * s)
		}
	}
	return dst
}
