package main

import (
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/tensor/qscan"
)

// draw returns count new items from a generative model of the trained
// item vectors real (N rows of d): a trained row e_j chosen uniformly plus
// isotropic Gaussian noise whose expected norm is noise times e_j's
// distance to its nearest trained neighbour. The catalog keeps the trained
// geometry (clusters, norms, directions the encoder points users to) at
// the scale where neighbouring items are told apart.
func draw(rng *rand.Rand, real []float32, d, count int, noise float64, workers int) []float32 {
	nn := nnDistances(real, d, workers)
	n := len(real) / d
	out := make([]float32, count*d)
	sd := noise / math.Sqrt(float64(d))
	for i := range count {
		j := rng.IntN(n)
		s := sd * nn[j]
		e := real[j*d : (j+1)*d]
		for k := range d {
			out[i*d+k] = e[k] + float32(s*rng.NormFloat64())
		}
	}
	return out
}

// nnDistances returns every row's Euclidean distance to its nearest other
// row: the exact top-1 of ⟨[e_i, 1], [e_j, −‖e_j‖²/2]⟩ with e_i itself
// excluded, on qscan's batch scan.
func nnDistances(rows []float32, d, workers int) []float64 {
	n := len(rows) / d
	aug := make([]float32, 0, n*(d+1))
	qs := make([]float32, 0, n*(d+1))
	for i := range n {
		e := rows[i*d : (i+1)*d]
		var s float64
		for _, v := range e {
			s += float64(v) * float64(v)
		}
		aug = append(append(aug, e...), float32(-s/2))
		qs = append(append(qs, e...), 1)
	}
	tab, err := qscan.New(aug, d+1)
	if err != nil {
		panic(err) // the trained rows are finite
	}
	ex := make([][]int, n)
	for i := range ex {
		ex[i] = []int{i}
	}
	res, err := tab.TopKBatch(qs, 1, ex, workers)
	if err != nil {
		panic(err)
	}
	out := make([]float64, n)
	for i, r := range res {
		if len(r) == 0 {
			continue
		}
		j := r[0].ID
		var s float64
		for k := range d {
			v := float64(rows[i*d+k]) - float64(rows[j*d+k])
			s += v * v
		}
		out[i] = math.Sqrt(s)
	}
	return out
}
