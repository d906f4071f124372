package recpca

import (
	"fmt"
	"math"
)

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
			return 0, nil, evals, fmt.Errorf("recpca: fit: no λ ≤ %v brings the retained variance down to %.4f: %w", hi, target, ErrNotConverged)
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
