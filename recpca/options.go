package recpca

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
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
	// for λ, about 1.5x faster than SolverRandomized32 (BenchmarkFitSynthetic50k;
	// the figures are in the repository's docs/recpca.md). With Tol
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
	// Seed selects the random start blocks of the randomized and Krylov
	// solvers (and the random vectors of the λmax(G) estimate): each fit
	// draws from its own generator made from Seed, so equal Options give
	// equal projections, and Options can be reused and shared between
	// concurrent fits. The zero value is a seed like any other (the one Fit
	// used before Seed existed). The exact solver draws nothing.
	Seed uint64
	// Rand, when set, is drawn from instead of Seed's generator.
	//
	// Deprecated: set Seed. A generator in Options makes two fits with the
	// same Options differ and is not safe to share between concurrent fits.
	Rand *rand.Rand
	// Logger receives warnings (non-positive kept eigenvalues, solver not
	// converged) and progress at debug level; nil discards them.
	Logger *slog.Logger
}

// check validates Dim and the penalty handles for n items of width D and
// reports whether a graph penalty is asked.
func (opt *Options) check(n, D int) (penalized bool, err error) {
	d := opt.Dim
	if d < 1 || d > D || d > n {
		return false, fmt.Errorf("recpca: fit: d = %d outside 1..min(D=%d, NumItems=%d): %w", d, D, n, ErrBadOptions)
	}
	if opt.Beta < 0 || opt.Beta >= 1 || opt.TargetVariance < 0 || opt.TargetVariance > 1 || opt.Lambda < 0 || math.IsNaN(opt.Lambda) {
		return false, fmt.Errorf("recpca: fit: invalid penalty handle (lambda %v, beta %v, target variance %v): %w", opt.Lambda, opt.Beta, opt.TargetVariance, ErrBadOptions)
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
		// Seed+1 so that the zero Seed is the generator of the fixed seed
		// (1, 2) that a nil Rand meant before Seed existed: default results
		// did not change.
		opt.Rand = rand.New(rand.NewPCG(opt.Seed+1, 2))
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
}
