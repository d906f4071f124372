package serve

import (
	"fmt"
	"math"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// probeLengths returns the history lengths a probe scores: 1, 2 and
// fractions of the window up to the window itself, because a model can be
// finite for short histories and overflow for long ones (positions, more
// terms in attention sums).
func probeLengths(window int) []int {
	var out []int
	for _, l := range []int{1, 2, window / 4, window / 2, 3 * window / 4, window} {
		if l >= 1 && l <= window && (len(out) == 0 || l > out[len(out)-1]) {
			out = append(out, l)
		}
	}
	return out
}

// spread returns the j-th item of a deterministic walk over 1..n that
// visits many different ids (a large prime step).
func spread(j, salt, n int) int {
	return 1 + (j*7919+salt*104729)%n
}

// checkServable scores every item for probe histories of several lengths up
// to window (two per length, with different items) and returns an error
// wrapping ErrNotServable and backbone.ErrNonFinite when a score is NaN or
// infinite: a model whose weights load but overflow would otherwise answer
// requests with 500s.
func checkServable(rec *backbone.Recommender, window int) error {
	n := rec.NumItems()
	var hists [][]int
	for _, l := range probeLengths(window) {
		for salt := range 2 {
			h := make([]int, l)
			for j := range h {
				h[j] = spread(j, salt+l, n)
			}
			hists = append(hists, h)
		}
	}
	out := make([]float32, n+1)
	for _, h := range hists {
		if err := rec.ScoreAll([][]int{h}, out); err != nil {
			return fmt.Errorf("%w: probe history of length %d: %w", ErrNotServable, len(h), err)
		}
		for it := 1; it <= n; it++ {
			if v := float64(out[it]); math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: probe history of length %d (window %d): item %d scores %v: %w",
					ErrNotServable, len(h), window, it, out[it], backbone.ErrNonFinite)
			}
		}
	}
	return nil
}

// probeNew scores a candidate snapshot after n items were added from
// first: histories of several lengths up to window that hold the new items
// (last, where they weigh most, and among old ones), against candidates
// made of the new items and a spread of old ones. Every score must be
// finite.
func probeNew(rec *backbone.Recommender, window, first, n int) error {
	old := first - 1
	var hists, cands [][]int
	cand := make([]int, 0, min(n, 64)+64)
	for j := range min(n, 64) {
		cand = append(cand, first+j*n/min(n, 64))
	}
	cand = append(cand, first+n-1)
	for j := range min(old, 64) {
		cand = append(cand, spread(j, 3, old))
	}
	for _, l := range probeLengths(window) {
		for salt := range 2 {
			h := make([]int, l)
			for j := range h {
				if (j+salt)%2 == 0 || old == 0 {
					h[j] = first + (j*31+salt)%n
				} else {
					h[j] = spread(j, salt+l, old)
				}
			}
			h[l-1] = first + (l+salt)%n // the newest item is a new one
			hists = append(hists, h)
			cands = append(cands, cand)
		}
	}
	out := make([]float32, len(hists)*len(cand))
	if err := rec.ScoreCandidates(hists, cands, out); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	for i, v := range out {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			h := hists[i/len(cand)]
			return fmt.Errorf("probe history of length %d holding new items: item %d scores %v: %w",
				len(h), cand[i%len(cand)], v, backbone.ErrNonFinite)
		}
	}
	return nil
}

func rowNorm(r []float32) float64 {
	var s float64
	for _, v := range r {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// maxRowNorm returns the largest norm among rows lo..hi-1 of t.
func maxRowNorm(t *tensor.Tensor, lo, hi int) float64 {
	m := 0.0
	for i := lo; i < hi; i++ {
		m = max(m, rowNorm(t.Row(i)))
	}
	return m
}

// checkRows checks added rows before they reach the model: finite float32
// values and a norm within bound (0: not checked).
func checkRows(rows *tensor.Tensor, bound float64, space string) error {
	for i := range rows.Rows() {
		r := rows.Row(i)
		for j, v := range r {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("%w: row %d value %d is %v: %w", ErrRejected, i, j, v, backbone.ErrNonFinite)
			}
		}
		if bound > 0 {
			if nrm := rowNorm(r); nrm > bound {
				return fmt.Errorf("%w: row %d: %s norm %.4g above the bound %.4g derived from the trained items", ErrRejected, i, space, nrm, bound)
			}
		}
	}
	return nil
}
