// Package stats summarizes the examples' per-seed results: mean, sample
// standard deviation, and the "mean ± std" cell their tables print.
//
// It is internal to the examples (not part of llmrec's API) and keeps no
// state.
package stats

import (
	"fmt"
	"math"
)

// Mean is the arithmetic mean of v, NaN when v is empty.
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Std is the sample standard deviation of v (divisor len(v)-1): 0 for one
// value, NaN when v is empty.
func Std(v []float64) float64 {
	switch len(v) {
	case 0:
		return math.NaN()
	case 1:
		return 0
	}
	m, s := Mean(v), 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)-1))
}

// PM formats v as "mean ± std" with prec decimals for both, e.g.
// "0.0207 ± 0.0006" for prec 4.
func PM(v []float64, prec int) string {
	return fmt.Sprintf("%.*f ± %.*f", prec, Mean(v), prec, Std(v))
}
