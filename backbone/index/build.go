package index

import (
	"math/rand/v2"

	"github.com/llmrec/llmrec/tensor"
)

// kmeans returns nl centroids (nl·d) of rows by Lloyd's iterations on a
// random sample, assigning with the exact nearest centroid (qscan over the
// augmented centroids). An empty cluster restarts at a random sample row.
func kmeans(rng *rand.Rand, rows []float32, d, nl int, cfg Config) ([]float32, error) {
	n := len(rows) / d
	cent := make([]float32, nl*d)
	if n == 0 {
		return cent, nil
	}
	ns := cfg.Sample
	if ns == 0 {
		ns = 64 * nl
	}
	ns = max(nl, min(ns, n))
	perm := rng.Perm(n)[:ns]
	sample := make([]float32, ns*d)
	for i, p := range perm {
		copy(sample[i*d:], rows[p*d:(p+1)*d])
	}
	copy(cent, sample[:nl*d]) // a random sample: the first nl rows
	iters := cfg.Iters
	if iters == 0 {
		iters = 8
	}
	sums := make([]float64, nl*d)
	counts := make([]int, nl)
	for range iters {
		assign, err := assignRows(sample, d, cent)
		if err != nil {
			return nil, err
		}
		clear(sums)
		clear(counts)
		for i, a := range assign {
			counts[a]++
			s := sums[int(a)*d : (int(a)+1)*d]
			for k, v := range sample[i*d : (i+1)*d] {
				s[k] += float64(v)
			}
		}
		for j := range nl {
			c := cent[j*d : (j+1)*d]
			if counts[j] == 0 {
				r := rng.IntN(ns)
				copy(c, sample[r*d:(r+1)*d])
				continue
			}
			for k := range c {
				c[k] = float32(sums[j*d+k] / float64(counts[j]))
			}
		}
	}
	return cent, nil
}

// assignChunk is the number of rows assignRows scores at once (their
// scores against every centroid are assignChunk·L floats).
const assignChunk = 1 << 12

// assignRows returns the index of the centroid nearest to every row, the
// largest ⟨x, c⟩ − ‖c‖²/2, computed with one float32 GEMM per chunk of
// rows (tensor.Gemm, parallel inside). An approximate assignment would do
// (only which list an item lands in depends on it), so the float32 GEMM,
// the fastest way to score every pair, is used rather than qscan's exact
// scan, whose bound is loose here: the −‖c‖²/2 column sets the rows'
// quantization scale.
func assignRows(rows []float32, d int, cent []float32) ([]int32, error) {
	n, nl := len(rows)/d, len(cent)/d
	half := make([]float32, nl)
	for j := range nl {
		var s float64
		for _, v := range cent[j*d : (j+1)*d] {
			s += float64(v) * float64(v)
		}
		half[j] = float32(s / 2)
	}
	out := make([]int32, n)
	scores := make([]float32, min(n, assignChunk)*nl)
	for lo := 0; lo < n; lo += assignChunk {
		m := min(assignChunk, n-lo)
		tensor.Gemm(false, true, m, nl, d, 1, rows[lo*d:], d, cent, d, 0, scores, nl)
		for i := range m {
			s := scores[i*nl : (i+1)*nl]
			best, bv := 0, s[0]-half[0]
			for j := 1; j < nl; j++ {
				if v := s[j] - half[j]; v > bv {
					best, bv = j, v
				}
			}
			out[lo+i] = int32(best)
		}
	}
	return out, nil
}
