package recpca

import (
	"fmt"
	"math"
)

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
		return nil, 0, fmt.Errorf("recpca: fit: TV₁(X̄) = 0: the graph sees no variation in the item rows: %w", ErrBadInput)
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
