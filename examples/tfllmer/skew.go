package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// skewStream is the PCG stream of the -norm-skew draws, so that they do not
// depend on (or disturb) any other random draw of the program.
const skewStream = 0x736b6577 // "skew"

// normSkew is the synthetic norm-disparity stress of -norm-skew: it
// multiplies item row i (1..rows-1; row 0 is padding and is left alone) of
// x in place by exp(σ·z_i), where z_1, z_2, ... are successive
// rand.NormFloat64 draws of PCG(seed, skewStream), and returns the factors
// (entry 0 is 1). Directions are unchanged, so anything that L2-normalizes
// the rows first (TF-LLMER's Rec-PCA input) undoes it exactly, up to float
// rounding. σ = 0.5 gives a p99/p1 norm ratio of about exp(4.65·σ) ≈ 10,
// σ = 1 about 100, on rows of equal norm. It returns an error for a
// negative, NaN or infinite σ or a matrix that is not 2-D.
func normSkew(x *tensor.Tensor, sigma float64, seed uint64) ([]float64, error) {
	if !(sigma >= 0) || math.IsInf(sigma, 0) {
		return nil, fmt.Errorf("-norm-skew %v: want a finite σ >= 0", sigma)
	}
	if x.Dims() != 2 {
		return nil, fmt.Errorf("norm skew: item matrix must be 2-D, got shape %v", x.Shape)
	}
	rows, w := x.Shape[0], x.Shape[1]
	f := make([]float64, rows)
	f[0] = 1
	rng := rand.New(rand.NewPCG(seed, skewStream))
	for i := 1; i < rows; i++ {
		f[i] = math.Exp(sigma * rng.NormFloat64())
		row := x.Data[i*w : (i+1)*w]
		for j := range row {
			row[j] = float32(float64(row[j]) * f[i])
		}
	}
	return f, nil
}

// inputStats are the statistics of the (possibly skewed) input embeddings
// that the log prints and the JSON settings record.
type inputStats struct {
	MaxMin  float64 `json:"max_min"`   // largest / smallest non-zero row norm
	P99P1   float64 `json:"p99_p1"`    // 99th / 1st percentile of the row norms
	CV      float64 `json:"cv"`        // std / mean of the row norms
	Min     float64 `json:"min"`       // smallest non-zero row norm
	Max     float64 `json:"max"`       // largest row norm
	MeanCos float64 `json:"mean_cos"`  // mean cosine over all pairs of distinct non-zero item rows
	Zero    int     `json:"zero_rows"` // item rows of norm 0 (left out of everything above)
}

// computeInputStats returns the norm statistics of item rows 1.. of x and
// their mean pairwise cosine, exactly: with u_i the unit rows, the sum over
// ordered pairs i ≠ j of u_i·u_j is ‖Σ u_i‖² − n.
func computeInputStats(x *tensor.Tensor) (inputStats, error) {
	st, err := recpca.ComputeNormStats(x)
	if err != nil {
		return inputStats{}, err
	}
	out := inputStats{MaxMin: st.Ratio, P99P1: st.P99 / st.P1, CV: st.CV, Min: st.Min, Max: st.Max, Zero: st.ZeroRows}
	w := x.Shape[1]
	sum := make([]float64, w)
	n := 0
	for i := 1; i < x.Shape[0]; i++ {
		row := x.Data[i*w : (i+1)*w]
		s := 0.0
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		s = 1 / math.Sqrt(s)
		for j, v := range row {
			sum[j] += float64(v) * s
		}
		n++
	}
	if n > 1 {
		ss := 0.0
		for _, v := range sum {
			ss += v * v
		}
		out.MeanCos = (ss - float64(n)) / (float64(n) * float64(n-1))
	}
	return out, nil
}
