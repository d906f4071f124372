package index

import (
	"math/rand/v2"

	"github.com/llmrec/llmrec/tensor/qscan"
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
		assign, err := assignRows(sample, d, cent, cfg.Workers)
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

// assignChunk is the number of rows assignRows hands to one TopKBatch
// (their augmented copies are assignChunk·(d+1) floats).
const assignChunk = 1 << 14

// assignRows returns the index of the centroid nearest to every row
// (ties: the lower index), on up to workers goroutines.
func assignRows(rows []float32, d int, cent []float32, workers int) ([]int32, error) {
	tab, err := qscan.New(augment(cent, d), d+1)
	if err != nil {
		return nil, err
	}
	n := len(rows) / d
	out := make([]int32, n)
	buf := make([]float32, 0, assignChunk*(d+1))
	for lo := 0; lo < n; lo += assignChunk {
		hi := min(lo+assignChunk, n)
		buf = buf[:0]
		for i := lo; i < hi; i++ {
			buf = append(append(buf, rows[i*d:(i+1)*d]...), 1)
		}
		res, err := tab.TopKBatch(buf, 1, nil, workers)
		if err != nil {
			return nil, err
		}
		for i, r := range res {
			out[lo+i] = int32(r[0].ID)
		}
	}
	return out, nil
}
