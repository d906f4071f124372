package recpca

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/tensor"
)

// Solver selects how the top-d eigenvectors of M are found.
type Solver int

const (
	// SolverAuto picks SolverExact when D ≤ 1024 or when the block d+p is at
	// least D/4, and SolverRandomized otherwise. It does not pick
	// SolverRandomized32 (see there). For large D and n (e.g. 50,000 x
	// 4,096) ask for SolverRandomized32 explicitly: SolverRandomized's
	// float64 products are about ten times slower.
	SolverAuto Solver = iota
	// SolverExact forms the D x D matrix M and keeps its top d eigenvectors.
	// C = X̄ᵀX̄ and G = X̄ᵀLX̄ are formed in float64 in one pass over the
	// rows of X̄ (upper triangles by float64 GEMMs over chunks of rows, the
	// rows of L·X̄ formed on the fly from the sparse graph), with trC =
	// tr(C) and trG = tr(G); M = C/trC − λ·G/trG is then O(D²) for every
	// λ (a TargetVariance bisection costs one eigen-solve per λ; it compares
	// tr(WᵀCW)/trC, the reported retained variance is ||X̄W||²/trC). The
	// eigenvectors come from a blocked Householder tridiagonal reduction, its
	// eigenvalues (dsterf), inverse iteration for the top d and a
	// Rayleigh–Ritz check against M (dsyev when the check fails); with a
	// fixed λ, PCA's eigen-solve and M's run side by side. Cost O(n·D² +
	// D³). On Beauty (12,101 x 512 -> 64) its subspace is within 4e-12 rad
	// of a float64 dsyev of an independently formed float64 M at λ = 0.9
	// (the edge of the useful band, where M nearly cancels) and its PCA
	// retained variance agrees to 1e-9; it is the test oracle.
	SolverExact
	// SolverRandomized runs shifted block subspace iteration with
	// Rayleigh–Ritz on the implicit operator v ↦ X̄ᵀ(X̄v)/trC −
	// λ·X̄ᵀ(L(X̄v))/trG, never forming a D x D matrix. Cost O(iters·n·D·(d+p)).
	// Every product is float64 (gonum): it reaches the Tol it is given
	// (largest principal angle to the exact subspace ~1e-8 and below) but
	// runs at float64 BLAS speed.
	SolverRandomized
	// SolverRandomized32 is SolverRandomized with the n x D x (d+p)
	// operator products X̄V and X̄ᵀU run as float32 GEMMs (tensor.Gemm,
	// summed in float64 over row chunks), while QR, Rayleigh–Ritz and every
	// k x k or D x k step stay float64. float32 products bound the Ritz
	// residual near 1e-5 of ||C||/trC + λ·||G||/trG (the operator's parts,
	// not ||M||), so the iteration stops at that floor or Tol, whichever is
	// larger; when Tol is below 1e-5, one float64 Rayleigh–Ritz step on the
	// final block (one float64 product X̄V plus n·k² work) fixes the kept
	// directions and eigenvalues. On Beauty (12,101 x 512 -> 64, λ = 0.3)
	// it converges in 4 iterations to within 8e-4 rad of SolverExact's
	// subspace (retained variance within 5e-7). Not reliable near the edge
	// of the useful λ band: at λ = 0.9 on Beauty it stops after 32
	// iterations at a subspace 0.26 rad away from the exact one (retained
	// variance 1.1e-3 too high), so it is opt-in; use SolverExact or
	// SolverRandomized where the subspace must match to 1e-4 rad or better.
	// The cause is the float32 floor, not the iteration: there the
	// operator's rounding (~1e-5 of ||C||/trC + λ·||G||/trG, about 2.7e-6)
	// is eight times the gap between M's d-th and (d+1)-th eigenvalues
	// (2.318e-5 vs 2.285e-5), and wider than the whole span from the k-th
	// eigenvalue (7.3e-6) to the d-th, so float32 products cannot tell the
	// wanted directions apart.
	SolverRandomized32
	// SolverKrylov32 runs block Krylov iteration with Rayleigh–Ritz over
	// the whole basis on the same float32 operator as SolverRandomized32
	// (n x D x b float32 GEMMs, every D x b and small step in float64),
	// with a block of b = d + max(8, d/8) columns, restarted thickly at 8
	// blocks; it never forms a D x D matrix and does not estimate λmax(G).
	// Each step is one product with M (two passes over X̄) and every step
	// refines all d directions, so it needs fewer passes than the
	// subspace iteration of SolverRandomized32 (see solveKrylov): on
	// 50,000 x 4,096 -> 64 at λ = 0.3 and Tol 1e-5, 7 steps for PCA and 4
	// for λ, 44.2 s against SolverRandomized32's 66.3 s in one benchmark run
	// (BenchmarkFitSynthetic50k, load 6-9). With Tol
	// below 1e-5 it iterates until the residual stops falling (the float32
	// floor) and finishes with a float64 Rayleigh–Ritz step on the Ritz
	// block: on Beauty (12,101 x 512 -> 64) within 2.1e-7 rad of
	// SolverExact at λ = 0.3 and 1.4e-6 rad at λ = 0.9, where
	// SolverRandomized32 fails (TestKrylov32Beauty); at Tol 1e-5, 5e-4 rad
	// (λ = 0) and 1.1e-3 rad (λ = 0.3). It is meant for large D and n: at
	// D = 512 its Rayleigh–Ritz eigen-solves over a basis of up to 8 blocks
	// cost more than SolverExact (BenchmarkFitBeautyKrylov32). Options.Oversample
	// does not apply.
	SolverKrylov32
)

// String names the solver.
func (s Solver) String() string {
	switch s {
	case SolverAuto:
		return "auto"
	case SolverExact:
		return "exact"
	case SolverRandomized:
		return "randomized"
	case SolverRandomized32:
		return "randomized32"
	case SolverKrylov32:
		return "krylov32"
	}
	return fmt.Sprintf("Solver(%d)", int(s))
}

// TVKind selects the graph total-variation penalty.
type TVKind int

const (
	// TVQuadratic is the Dirichlet energy tr(ZᵀLZ) (closed form; default).
	TVQuadratic TVKind = iota
	// TVL1 is ½ Σ A_ij ||z_i − z_j|| on plain differences (normalized by
	// TV₁(X̄), whatever Options.Laplacian), minimized by iteratively reweighted
	// least squares: each round refits the quadratic problem on the graph
	// with weights A_ij / max(||z_i − z_j||, ε).
	TVL1
)

// Options configures Fit. The zero value with Dim set is plain PCA (λ = 0)
// with centring, on the raw rows, with the exact or randomized solver chosen
// automatically.
//
// The strength of the graph penalty is given by exactly one handle, checked
// in this order: TargetVariance (when > 0), Beta (when > 0), Lambda. Lambda
// is the default handle because it is the objective's own parameter, costs a
// single eigen-solve and matches the λ sweep of the TF-LLMER reconstruction
// (TestBeautyLambdaSweep logs it); but the useful λ band is
// narrow and data-dependent (about 0.8–1.1 on Beauty), so TargetVariance is
// the recommended handle for new data: it bisects λ until the retained
// variance is the requested fraction of PCA's, which means the same thing on
// every dataset.
type Options struct {
	// Dim is d, the reduced dimension (1 ≤ d ≤ min(D, NumItems)).
	Dim int
	// Lambda is the scale-free graph penalty λ in
	// M = X̄ᵀX̄/tr(X̄ᵀX̄) − λ·X̄ᵀLX̄/tr(X̄ᵀLX̄). 0 is PCA.
	Lambda float64
	// Beta, in (0, 1), selects the convex mix M = (1−β)·C/trC − β·G/trG,
	// which has the eigenvectors of λ = β/(1−β).
	Beta float64
	// TargetVariance, in (0, 1], chooses λ by bisection so that the retained
	// variance is this fraction of PCA's retained variance (e.g. 0.9).
	TargetVariance float64
	// TargetTol is the tolerance on that fraction (default 1e-3).
	TargetTol float64
	// Laplacian selects L (default SymNormalized).
	Laplacian LaplacianKind
	// NormalizeInput L2-normalizes the item rows before centring.
	NormalizeInput bool
	// NoCenter skips centring (Mean is then zero).
	NoCenter bool
	// Standardize z-scores every column over the items (after
	// NormalizeInput; mean 0, population standard deviation 1, a constant
	// column becomes 0), as StandardizeColumns does, before the fit. The
	// scaling is folded into the returned Projection (Mean is the column
	// mean, W's rows are divided by the column deviations), so Transform
	// takes the unstandardized rows; W's columns are then not orthonormal.
	Standardize bool
	// Whiten scales each output coordinate to unit variance over the items.
	Whiten bool
	// TV selects the total-variation penalty (default TVQuadratic).
	TV TVKind
	// IRLSIters is the number of reweighting rounds for TVL1 (default 8).
	IRLSIters int
	// IRLSEps is ε in A_ij/max(||z_i − z_j||, ε); 0 means 1e-3 times the
	// mean edge length of the quadratic solution.
	IRLSEps float64
	// Solver selects the eigensolver (default SolverAuto).
	Solver Solver
	// Oversample is p, the extra block columns of the randomized solver
	// (default max(d/2, 16)).
	Oversample int
	// MaxIter bounds the randomized solver's iterations (default 300).
	MaxIter int
	// Tol is the randomized solver's stopping tolerance on the largest Ritz
	// residual ||Mv − θv|| relative to ||M|| (default 1e-7).
	Tol float64
	// Rand seeds the randomized solver's start block; nil means a fixed seed.
	Rand *rand.Rand
	// Logger receives warnings (non-positive kept eigenvalues, solver not
	// converged) and progress at debug level; nil discards them.
	Logger *slog.Logger
}

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
				return fmt.Errorf("recpca: fit: item matrix row %d column %d is %v", i+1, c, v)
			}
		}
	}
	return nil
}

// check validates Dim and the penalty handles for n items of width D and
// reports whether a graph penalty is asked.
func (opt *Options) check(n, D int) (penalized bool, err error) {
	d := opt.Dim
	if d < 1 || d > D || d > n {
		return false, fmt.Errorf("recpca: fit: d = %d outside 1..min(D=%d, NumItems=%d)", d, D, n)
	}
	if opt.Beta < 0 || opt.Beta >= 1 || opt.TargetVariance < 0 || opt.TargetVariance > 1 || opt.Lambda < 0 || math.IsNaN(opt.Lambda) {
		return false, fmt.Errorf("recpca: fit: invalid penalty handle (lambda %v, beta %v, target variance %v)", opt.Lambda, opt.Beta, opt.TargetVariance)
	}
	return opt.Lambda > 0 || opt.Beta > 0 || opt.TargetVariance > 0, nil
}

// setDefaults fills the zero-valued tuning fields.
func (opt *Options) setDefaults() {
	if opt.TargetTol <= 0 {
		opt.TargetTol = 1e-3
	}
	if opt.IRLSIters <= 0 {
		opt.IRLSIters = 8
	}
	if opt.Oversample <= 0 {
		opt.Oversample = max(opt.Dim/2, 16)
	}
	if opt.MaxIter <= 0 {
		opt.MaxIter = 300
	}
	if opt.Tol <= 0 {
		opt.Tol = 1e-7
	}
	if opt.Rand == nil {
		opt.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
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
		return nil, fmt.Errorf("recpca: fit: item matrix must be [NumItems+1, D] with NumItems ≥ 1, got shape %v", sh)
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
		return nil, fmt.Errorf("recpca: fit: graph has %d items, item matrix has %d", g.N-1, n)
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
		return nil, fmt.Errorf("recpca: fit: the item rows have zero variance")
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
	opt, n, D, d := p.opt, p.n, p.D, p.d
	st := Stats{Solver: p.solver}
	hasGraph := g != nil && g.NumEdges() > 0 || p.m == nil && p.G != nil

	lambda := opt.Lambda
	if opt.Beta > 0 {
		lambda = opt.Beta / (1 - opt.Beta)
	}
	// PCA reference (and the answer when there is no penalty): its solve,
	// projection and report.
	var pca *solution
	reference := func() error {
		var err error
		if pca, err = p.solve(0, nil); err != nil {
			return err
		}
		p.normC = pca.vals[0]
		st.PCARetainedVariance = p.retained(pca)
		if hasGraph {
			st.PCAGraphTV, st.PCAGraphTVL1 = p.graphTV(g, pca)
		}
		return nil
	}
	var res *solution
	// pcaDone, when not nil, is closed once the PCA fields of st are set
	// (they are taken beside the λ solution's).
	var pcaDone chan struct{}
	if p.solver == SolverExact && p.m != nil && hasGraph && penalized && opt.TargetVariance == 0 {
		// With a fixed λ the exact solver's two eigenproblems are
		// independent once C and G exist: PCA's eigen-solve (the
		// reference) runs beside M's, each on one core, then one product
		// X̄·[W_PCA | W_λ] gives both projections and the two reports are
		// taken side by side. The two sides share only read-only state.
		if err := p.setGraph(g); err != nil {
			return nil, err
		}
		var refErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			pca, refErr = p.solve(0, nil)
		}()
		var err error
		res, err = p.solve(lambda, nil)
		<-done
		if refErr != nil {
			return nil, refErr
		}
		if err != nil {
			return nil, err
		}
		p.normC = pca.vals[0]
		if opt.TV == TVQuadratic {
			p.projectPair(pca, res)
		}
		pcaDone = make(chan struct{})
		go func() {
			defer close(pcaDone)
			st.PCARetainedVariance = p.retained(pca)
			st.PCAGraphTV, st.PCAGraphTVL1 = p.graphTV(g, pca)
		}()
		st.TraceRatio = p.trG / p.trC
		st.Lambda = lambda
	} else {
		if err := reference(); err != nil {
			return nil, err
		}
		if hasGraph {
			if p.m != nil {
				p.pcaV = pca.v
				if err := p.setGraph(g); err != nil {
					return nil, err
				}
			}
			st.TraceRatio = p.trG / p.trC
		}
		res = pca
		if penalized {
			var err error
			if opt.TargetVariance > 0 {
				lambda, res, st.LambdaEvals, err = p.chooseLambda(opt.TargetVariance*st.PCARetainedVariance, pca)
				if err != nil {
					return nil, err
				}
			} else if res, err = p.solve(lambda, pca.v); err != nil {
				return nil, err
			}
			st.Lambda = lambda
		}
	}
	if penalized && opt.TV == TVL1 {
		var err error
		res, st.IRLSIters, err = p.irls(g, lambda, res)
		if err != nil {
			return nil, err
		}
	}

	st.RetainedVariance = p.retained(res)
	if hasGraph {
		st.GraphTV, st.GraphTVL1 = p.graphTV(g, res)
	}
	if pcaDone != nil {
		<-pcaDone
	}
	st.Iterations, st.Residual = res.iters, res.resid
	for _, v := range res.vals {
		if v <= 0 {
			st.NonPositive++
		}
	}
	if st.NonPositive > 0 {
		opt.Logger.Warn("recpca: kept eigenvalues of M are not positive; λ is past the useful band",
			"nonpositive", st.NonPositive, "d", d, "lambda", st.Lambda, "retained_variance", st.RetainedVariance)
	}

	w := mat.NewDense(D, d, res.w)
	if opt.Whiten {
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
	return &Projection{Mean: mean, W: w, Eigenvalues: res.vals, NormalizeInput: opt.NormalizeInput, Stats: st}, nil
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
		return fmt.Errorf("recpca: fit: tr(X̄ᵀLX̄) = %v: the graph sees no variation in the item rows", tr)
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
		return nil, fmt.Errorf("recpca: fit: dense eigensolver did not converge (D = %d, λ = %v)", D, lambda)
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

// chooseLambda bisects λ so that the retained variance is target (absolute
// fraction). It returns the λ, its solution and the number of solves.
func (p *problem) chooseLambda(target float64, pca *solution) (float64, *solution, int, error) {
	evals := 0
	rv := p.retained
	if p.C != nil && p.m != nil {
		// Bisection steps need the retained variance only to TargetTol:
		// tr(WᵀCW)/trC from the Gram matrix at hand (O(D²·d)) instead of
		// ||X̄W||² (O(n·D·d) per step); the reported value is ||X̄W||².
		rv = func(s *solution) float64 {
			var q float64
			for _, v := range quadDiag(p.C, s.w, p.D, p.d) {
				q += v
			}
			return q / p.trC
		}
	}
	if rv(pca) <= target {
		return 0, pca, 0, nil
	}
	lo, loSol := 0.0, pca
	hi := 1.0
	var hiSol *solution
	for {
		s, err := p.solve(hi, loSol.v)
		evals++
		if err != nil {
			return 0, nil, evals, err
		}
		if rv(s) <= target {
			hiSol = s
			break
		}
		lo, loSol = hi, s
		hi *= 2
		if hi > 1<<12 {
			return 0, nil, evals, fmt.Errorf("recpca: fit: no λ ≤ %v brings the retained variance down to %.4f", hi, target)
		}
	}
	tol := p.opt.TargetTol * target
	best, bestSol := hi, hiSol
	for range 60 {
		mid := (lo + hi) / 2
		s, err := p.solve(mid, loSol.v)
		evals++
		if err != nil {
			return 0, nil, evals, err
		}
		r := rv(s)
		best, bestSol = mid, s
		if math.Abs(r-target) <= tol || hi-lo <= 1e-9*hi {
			break
		}
		if r > target {
			lo, loSol = mid, s
		} else {
			hi = mid
		}
	}
	return best, bestSol, evals, nil
}

// irls runs the ℓ1 total-variation reweighting rounds from the quadratic
// solution sol at the given λ: each round replaces A_ij by A_ij/max(||z_i −
// z_j||, ε) (z from the previous round) and solves the quadratic problem
// again, so the rounds are majorize–minimize steps of one ℓ1 objective on
// plain differences z_i − z_j (whatever Options.Laplacian says).
func (p *problem) irls(g *Graph, lambda float64, sol *solution) (*solution, int, error) {
	eps := p.opt.IRLSEps
	rounds := 0
	// Majorize–minimize for J(W) = tr(WᵀCW)/trC − λ·TV₁(X̄W)/TV₁(X̄): at
	// the current Z, TV₁(Z') ≤ ½·tr(Z'ᵀ L_{A/d} Z') + const with d_ij =
	// ||z_i − z_j||, so each round solves the quadratic problem on the
	// reweighted combinatorial Laplacian with the fixed normalizer 2·TV₁(X̄).
	p.kind = Combinatorial
	p.trG = 2 * edgeL1(g, p.D, p.m.row)
	p.keepNorm = true
	if !(p.trG > 0) {
		return nil, 0, fmt.Errorf("recpca: fit: TV₁(X̄) = 0: the graph sees no variation in the item rows")
	}
	for range p.opt.IRLSIters {
		z := p.projected(sol)
		d := p.d
		dist := func(i, j int) float64 {
			var q float64
			zi, zj := z[(i-1)*d:i*d], z[(j-1)*d:j*d]
			for c := range zi {
				e := zi[c] - zj[c]
				q += e * e
			}
			return math.Sqrt(q)
		}
		if eps <= 0 {
			var s, w float64
			for i := 1; i < g.N; i++ {
				for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
					if j := int(g.Col[t]); j > i {
						s += g.Val[t] * dist(i, j)
						w += g.Val[t]
					}
				}
			}
			eps = 1e-3 * s / w
			if !(eps > 0) {
				eps = normEps
			}
		}
		rg := g.Reweighted(func(i, j int, a float64) float64 { return a / math.Max(dist(i, j), eps) })
		if err := p.setGraph(rg); err != nil {
			return nil, rounds, err
		}
		next, err := p.solve(lambda, sol.v)
		if err != nil {
			return nil, rounds, err
		}
		sol = next
		rounds++
	}
	return sol, rounds, nil
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
