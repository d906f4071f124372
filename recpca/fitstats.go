package recpca

import (
	"context"
	"fmt"
	"math"
)

// FitStats computes from the statistics in a the Projection that Fit
// computes from the item matrix and graph the statistics were taken from:
// PCA, whitened PCA or Rec-PCA, with Lambda, Beta or TargetVariance,
// NoCenter, Standardize and Whiten as in Fit. opt.NormalizeInput and
// opt.Laplacian must equal the accumulator's options (they act on rows as
// they are added).
//
// The D x D matrices are at hand, so the dense eigensolver always runs
// (Stats.Solver is SolverExact; opt.Solver is ignored) on M = C/trC −
// λ·G/trG formed in float64: O(D³) per eigen-solve, no O(n) work. On Beauty
// its subspace is within 1e-5 rad of Fit's (TestFitStatsBeauty).
//
// What needs single edges is not available: the ℓ1 penalty (opt.TV = TVL1)
// is an error, and of the reported graph total variations only GraphTV and
// PCAGraphTV with the combinatorial Laplacian are filled in (they equal
// tr(WᵀX̄ᵀLX̄W)); the others are 0.
//
// It returns an error for an accumulator without items, Dim outside
// 1..min(D, NumItems), invalid penalty handles, options that contradict the
// accumulator's, a penalty without edges (wrapping ErrEmptyGraph), zero
// variance, or an eigensolver failure.
func FitStats(a *Accumulator, opt Options) (*Projection, error) {
	return FitStatsContext(context.Background(), a, opt)
}

// FitStatsContext is FitStats with cancellation, checked between
// eigen-solves.
func FitStatsContext(ctx context.Context, a *Accumulator, opt Options) (*Projection, error) {
	if a == nil {
		return nil, fmt.Errorf("recpca: fit stats: nil accumulator: %w", ErrBadInput)
	}
	a.flush()
	n, D := int(a.items.s), a.dim
	if n < 1 {
		return nil, fmt.Errorf("recpca: fit stats: the accumulator holds no items: %w", ErrBadInput)
	}
	penalized, err := opt.check(n, D)
	if err != nil {
		return nil, err
	}
	if opt.NormalizeInput != a.normalize || opt.Laplacian != a.kind {
		return nil, fmt.Errorf("recpca: fit stats: options (normalize %v, %v) differ from the accumulator's (normalize %v, %v): %w",
			opt.NormalizeInput, opt.Laplacian, a.normalize, a.kind, ErrBadOptions)
	}
	if opt.TV == TVL1 {
		return nil, fmt.Errorf("recpca: fit stats: the ℓ1 graph penalty needs the single edges; use Fit: %w", ErrBadOptions)
	}
	if penalized && !a.hasGraph() {
		return nil, fmt.Errorf("recpca: fit stats: a graph penalty was asked: %w", ErrEmptyGraph)
	}
	opt.setDefaults()

	// C and G about the centring vector: the item mean, or 0 with NoCenter
	// (Standardize centres: its columns have mean 0).
	mu := a.items.ref
	ref := mu
	if opt.NoCenter && !opt.Standardize {
		ref = make([]float64, D)
	}
	if opt.NoCenter || opt.Standardize {
		mu = nil // no centring, or centred in the standardized space
	}
	c := a.items.at(ref)
	var g []float64
	if a.numEdges > 0 {
		g = a.edges.at(ref)
	}
	if a.halfEdges > 0 {
		gn := a.nbrs.at(ref)
		if g == nil {
			g = gn
		} else {
			for i, v := range gn {
				g[i] += v
			}
		}
	}
	var inv []float64
	if opt.Standardize {
		inv = make([]float64, D)
		for j := range D {
			if v := c[j*D+j]; v > 0 {
				inv[j] = 1 / math.Sqrt(v/float64(n))
			}
		}
		scaleSym(c, inv)
		if g != nil {
			scaleSym(g, inv)
		}
	}
	p := &problem{
		n: n, D: D, d: opt.Dim, kind: opt.Laplacian, opt: opt, solver: SolverExact,
		ctx: ctx, C: c, mean: mu,
	}
	p.trC = trace(c, D)
	if !(p.trC > 0) {
		return nil, fmt.Errorf("recpca: fit stats: the item rows have zero variance: %w", ErrBadInput)
	}
	if g != nil {
		p.trG = trace(g, D)
		if p.trG > 0 {
			p.G = g
		} else if penalized {
			return nil, fmt.Errorf("recpca: fit stats: tr(X̄ᵀLX̄) = %v: the graph sees no variation in the item rows: %w", p.trG, ErrBadInput)
		}
	}
	pr, err := p.run(nil, penalized)
	if err != nil {
		return nil, err
	}
	if opt.Standardize {
		pr.unstandardize(a.items.ref, inv, opt.NormalizeInput)
	}
	return pr, nil
}

// scaleSym replaces the D x D matrix a by diag(s)·a·diag(s).
func scaleSym(a, s []float64) {
	D := len(s)
	for i, si := range s {
		row := a[i*D : (i+1)*D]
		for j, sj := range s {
			row[j] *= si * sj
		}
	}
}

func trace(a []float64, D int) float64 {
	var t float64
	for i := range D {
		t += a[i*D+i]
	}
	return t
}

// unstandardize folds a column standardization x ↦ (x − mean)·diag(inv)
// into a projection fitted on standardized rows, so that it applies to the
// unstandardized ones: ((x − mean)∘inv − m)·W = (x − (mean + m∘sd))·(diag(inv)·W)
// with sd = 1/inv (0 where inv is 0: those columns are constant and W's row
// becomes 0).
func (p *Projection) unstandardize(mean, inv []float64, normalize bool) {
	D, d := p.W.Dims()
	m := make([]float64, D)
	for i := range D {
		m[i] = mean[i]
		if inv[i] > 0 {
			m[i] += p.Mean[i] / inv[i]
		}
		for j := range d {
			p.W.Set(i, j, p.W.At(i, j)*inv[i])
		}
	}
	p.Mean = m
	p.NormalizeInput = normalize
}
