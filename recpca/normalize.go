package recpca

import (
	"fmt"
	"math"
	"slices"

	"github.com/llmrec/llmrec/tensor"
)

// NormalizeRows writes into dst the rows of the item matrix x scaled to unit
// L2 norm: dst_i = x_i / max(||x_i||, eps). Rows whose norm is below eps are
// divided by eps instead (so an all-zero row, such as the padding row 0,
// stays zero). x must be 2-D; dst is sized like x when empty (destination
// style) and may be x itself. Norms are accumulated in float64. It panics
// with tensor.ErrShape when dst and x do not match, and returns dst.
func NormalizeRows(dst, x *tensor.Tensor, eps float32) *tensor.Tensor {
	if x.Dims() != 2 {
		panic(fmt.Errorf("%w: recpca.NormalizeRows: x must be 2-D, got %v", tensor.ErrShape, x.Shape))
	}
	if dst == nil {
		dst = &tensor.Tensor{}
	}
	dst.Ensure(x.Shape...)
	rows := x.Rows()
	for i := 0; i < rows; i++ {
		src := x.Row(i)
		out := dst.Row(i)
		n := math.Sqrt(sumSq32(src))
		s := 1 / math.Max(n, float64(eps))
		if n == 0 {
			s = 0
		}
		for j, v := range src {
			out[j] = float32(float64(v) * s)
		}
	}
	return dst
}

func sumSq32(v []float32) float64 {
	// Four partial sums: one running sum is bound by the add latency.
	var s0, s1, s2, s3 float64
	k := 0
	for ; k+4 <= len(v); k += 4 {
		a, b, c, d := float64(v[k]), float64(v[k+1]), float64(v[k+2]), float64(v[k+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; k < len(v); k++ {
		s0 += float64(v[k]) * float64(v[k])
	}
	return (s0 + s1) + (s2 + s3)
}

// NormStats summarises the L2 norms of the item rows of a matrix (row 0, the
// padding row, excluded). Zero rows are excluded from every statistic and
// counted in ZeroRows. It is a plain value, safe for concurrent reads.
type NormStats struct {
	// Rows is the number of item rows examined (NumItems).
	Rows int
	// ZeroRows is the number of item rows whose norm is exactly zero.
	ZeroRows int
	// Min, Max and Mean are over the non-zero norms.
	Min, Max, Mean float64
	// Ratio is Max/Min: the norm disparity.
	Ratio float64
	// CV is the coefficient of variation, std/mean (population std).
	CV float64
	// P1, P5, P50, P95, P99 are percentiles (linear interpolation between
	// order statistics).
	P1, P5, P50, P95, P99 float64
}

// ComputeNormStats returns the norm statistics of rows 1..Rows()-1 of the
// 2-D item matrix x. It returns an error when x is not 2-D, holds NaN or Inf,
// or has no non-zero item row.
func ComputeNormStats(x *tensor.Tensor) (NormStats, error) {
	if x.Dims() != 2 {
		return NormStats{}, fmt.Errorf("recpca: norm stats: item matrix must be 2-D, got shape %v: %w", x.Shape, ErrBadInput)
	}
	st := NormStats{Rows: max(x.Rows()-1, 0)}
	norms := make([]float64, 0, st.Rows)
	for i := 1; i < x.Rows(); i++ {
		r := x.Row(i)
		s := sumSq32(r)
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return NormStats{}, fmt.Errorf("recpca: norm stats: row %d has a NaN or Inf entry: %w (%w)", i, ErrBadInput, ErrNonFinite)
		}
		if s == 0 {
			st.ZeroRows++
			continue
		}
		norms = append(norms, math.Sqrt(s))
	}
	if len(norms) == 0 {
		return st, fmt.Errorf("recpca: norm stats: no non-zero item row among %d: %w", st.Rows, ErrBadInput)
	}
	slices.Sort(norms)
	var sum float64
	for _, v := range norms {
		sum += v
	}
	st.Mean = sum / float64(len(norms))
	var ss float64
	for _, v := range norms {
		ss += (v - st.Mean) * (v - st.Mean)
	}
	st.CV = math.Sqrt(ss/float64(len(norms))) / st.Mean
	st.Min, st.Max = norms[0], norms[len(norms)-1]
	st.Ratio = st.Max / st.Min
	st.P1 = percentile(norms, 0.01)
	st.P5 = percentile(norms, 0.05)
	st.P50 = percentile(norms, 0.50)
	st.P95 = percentile(norms, 0.95)
	st.P99 = percentile(norms, 0.99)
	return st, nil
}

// percentile of sorted values at q in [0,1], linear interpolation between
// order statistics at position q·(n−1).
func percentile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	f := pos - float64(lo)
	return sorted[lo]*(1-f) + sorted[hi]*f
}

// StandardizeColumns writes into dst the item matrix x with every column
// z-scored over the item rows 1.. (mean 0, population standard deviation 1;
// a constant column becomes 0); row 0, the padding row, is written as zeros.
// Sentence encoders such as USE return unit-norm rows whose entries are
// about 1/√D, so a freshly initialized projection (PAD's f_t) of them starts
// near zero and learns slowly; standardizing gives it inputs of order 1, as
// large LLM embeddings (LLM2Vec) have. dst is sized like x when empty and
// may be x itself. Statistics are accumulated in float64. It panics with
// tensor.ErrShape when x is not 2-D or dst does not match, and returns dst.
func StandardizeColumns(dst, x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() != 2 {
		panic(fmt.Errorf("%w: recpca.StandardizeColumns: x must be 2-D, got %v", tensor.ErrShape, x.Shape))
	}
	if dst == nil {
		dst = &tensor.Tensor{}
	}
	dst.Ensure(x.Shape...)
	standardizeInto(dst, x, false)
	return dst
}

// standardized returns the item matrix x (rows L2-normalized first when
// normalize is set) with its columns z-scored as StandardizeColumns does,
// and the column means and inverse deviations (0 for a constant column) that
// did it.
func standardized(x *tensor.Tensor, normalize bool) (xs *tensor.Tensor, mean, inv []float64) {
	xs = tensor.New(x.Shape...)
	mean, inv = standardizeInto(xs, x, normalize)
	return xs, mean, inv
}

// standardizeInto writes the z-scored x into dst (same shape; may be x) and
// returns the column means and inverse population deviations, all in
// float64, over the rows 1.. (each scaled to unit norm first when normalize
// is set; a zero row stays zero). Row 0 is written as zeros.
func standardizeInto(dst, x *tensor.Tensor, normalize bool) (mean, inv []float64) {
	n, d := x.Shape[0]-1, x.Shape[1]
	mean, inv = make([]float64, d), make([]float64, d)
	scale := make([]float64, max(n, 0))
	for i := 1; i <= n; i++ {
		scale[i-1] = 1
		if normalize {
			scale[i-1] = 0
			if nr := math.Sqrt(sumSq32(x.Row(i))); nr > 0 {
				scale[i-1] = 1 / math.Max(nr, normEps)
			}
		}
		for j, v := range x.Row(i) {
			mean[j] += float64(v) * scale[i-1]
		}
	}
	for j := range mean {
		mean[j] /= float64(max(n, 1))
	}
	for i := 1; i <= n; i++ {
		for j, v := range x.Row(i) {
			dv := float64(v)*scale[i-1] - mean[j]
			inv[j] += dv * dv
		}
	}
	for j, ss := range inv {
		if ss > 0 {
			inv[j] = 1 / math.Sqrt(ss/float64(n))
		}
	}
	if x.Shape[0] > 0 {
		clear(dst.Row(0))
	}
	for i := 1; i <= n; i++ {
		src, out := x.Row(i), dst.Row(i)
		for j, v := range src {
			out[j] = float32((float64(v)*scale[i-1] - mean[j]) * inv[j])
		}
	}
	return mean, inv
}
