package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ceReference is the full cross-entropy written the straightforward way, in
// float64: every logit, a log-softmax per predicted row, and the gradient
// (softmax − onehot)/R pushed through the product by hand. It returns the
// loss and the gradients (dh T x d, dw n x d). bug != 0 plants a mistake in
// the backward pass: 1 drops the one-hot term, 2 forgets the inverse
// temperature in dw, 3 divides by the number of tokens instead of rows.
func ceReference(h []float32, d int, target []int, w []float32, n int, inv float64, bug int) (float64, []float64, []float64) {
	T := len(target)
	dh, dw := make([]float64, T*d), make([]float64, n*d)
	R := 0
	for _, tg := range target {
		if tg != 0 {
			R++
		}
	}
	norm := float64(R)
	if bug == 3 {
		norm = float64(T)
	}
	var loss float64
	for t, tg := range target {
		if tg == 0 {
			continue
		}
		z := make([]float64, n)
		mx := math.Inf(-1)
		for i := range n {
			for j := range d {
				z[i] += float64(h[t*d+j]) * float64(w[i*d+j])
			}
			z[i] *= inv
			mx = math.Max(mx, z[i])
		}
		var s float64
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		loss += mx + math.Log(s) - z[tg-1]
		for i := range n {
			g := math.Exp(z[i]-mx) / s
			if i == tg-1 && bug != 1 {
				g--
			}
			g /= norm
			for j := range d {
				dh[t*d+j] += inv * g * float64(w[i*d+j])
				if bug == 2 {
					dw[i*d+j] += g * float64(h[t*d+j])
				} else {
					dw[i*d+j] += inv * g * float64(h[t*d+j])
				}
			}
		}
	}
	return loss / float64(R), dh, dw
}

// normals returns n normal draws times sd.
func normals(rng *rand.Rand, n int, sd float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * sd)
	}
	return x
}

// maxRelDiff returns max_i |got_i − base_i − want_i| / max_i |want_i|: the
// difference between what was added to base and want, relative to want's
// largest entry.
func maxRelDiff(got, base []float32, want []float64) float64 {
	var diff, scale float64
	for i, w := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(base[i])-w))
		scale = math.Max(scale, math.Abs(w))
	}
	return diff / scale
}

// TestCrossEntropyFusedMatchesReference runs the fused kernel on a small
// random problem with padding tokens, a catalog whose width is not a multiple
// of the vector width, and chunk sizes that do and do not divide the number
// of predicted rows, on gradient buffers that already hold values (it must
// add), and compares loss and gradients with ceReference to 1e-5. Each
// planted mistake in the reference's backward must break the agreement.
func TestCrossEntropyFusedMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const T, d, n = 17, 6, 37
	h, w := normals(rng, T*d, 1), normals(rng, n*d, 1.5)
	target := make([]int, T)
	for i := range target {
		if i%4 != 1 { // every fourth token is padding
			target[i] = 1 + rng.IntN(n)
		}
	}
	target[0] = n // the last item is a target too
	R := 0
	for _, tg := range target {
		if tg != 0 {
			R++
		}
	}
	require.Equal(t, 13, R)
	dh0, dw0 := normals(rng, T*d, 1), normals(rng, n*d, 1)
	const inv = 1 / 0.7
	wantL, wantDh, wantDw := ceReference(h, d, target, w, n, inv, 0)
	var c ceWork
	for _, chunk := range []int{1, 3, 4, 13, 100} { // 3 and 4 leave a short last chunk
		for rep := range 2 { // the second run reuses the grown buffers
			dh, dw := append([]float32(nil), dh0...), append([]float32(nil), dw0...)
			l := c.crossEntropy(h, d, target, w, n, inv, chunk, dh, dw)
			assert.InDelta(t, wantL, l, 1e-5*wantL, "chunk %d rep %d: loss", chunk, rep)
			assert.Less(t, maxRelDiff(dh, dh0, wantDh), 1e-5, "chunk %d: dh", chunk)
			assert.Less(t, maxRelDiff(dw, dw0, wantDw), 1e-5, "chunk %d: dw", chunk)
			for i := range T {
				if target[i] == 0 {
					assert.Equal(t, dh0[i*d:(i+1)*d], dh[i*d:(i+1)*d], "padding token %d got a gradient", i)
				}
			}
		}
	}
	// the comparison catches a wrong backward
	dh, dw := append([]float32(nil), dh0...), append([]float32(nil), dw0...)
	c.crossEntropy(h, d, target, w, n, inv, 3, dh, dw)
	for bug := 1; bug <= 3; bug++ {
		_, bDh, bDw := ceReference(h, d, target, w, n, inv, bug)
		worst := math.Max(maxRelDiff(dh, dh0, bDh), maxRelDiff(dw, dw0, bDw))
		assert.Greater(t, worst, 1e-2, "planted bug %d went unnoticed", bug)
	}
	// no predicted row: zero loss, nothing added
	dh, dw = append([]float32(nil), dh0...), append([]float32(nil), dw0...)
	assert.Equal(t, 0.0, c.crossEntropy(h, d, make([]int, T), w, n, inv, 3, dh, dw))
	assert.Equal(t, dh0, dh)
	assert.Equal(t, dw0, dw)
}

// TestCrossEntropyFusedAllocs checks that the fused loss allocates nothing
// once its buffers have grown.
func TestCrossEntropyFusedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const T, d, n = 40, 16, 300
	h, w := make([]float32, T*d), make([]float32, n*d)
	for i := range h {
		h[i] = float32(i%7) * 0.1
	}
	target := make([]int, T)
	for i := range target {
		target[i] = i % n
	}
	dh, dw := make([]float32, T*d), make([]float32, n*d)
	var c ceWork
	allocs := testing.AllocsPerRun(20, func() { c.crossEntropy(h, d, target, w, n, 1, 16, dh, dw) })
	assert.Equal(t, 0.0, allocs)
}

// BenchmarkCrossEntropyFused times the fused loss alone at Beauty's shape
// (730 predicted rows of a 128-user batch, 12,101 items, width 64) for a
// few chunk sizes.
func BenchmarkCrossEntropyFused(b *testing.B) {
	const T, d, n = 730, 64, 12101
	rng := rand.New(rand.NewPCG(1, 1))
	h, w := normals(rng, T*d, 1), normals(rng, n*d, 0.1)
	target := make([]int, T)
	for i := range target {
		target[i] = 1 + rng.IntN(n)
	}
	dh, dw := make([]float32, T*d), make([]float32, n*d)
	for _, chunk := range []int{32, 64, 128, 256, 730} {
		b.Run(fmt.Sprint(chunk), func(b *testing.B) {
			var c ceWork
			cpu0, k := cpuTime(), 0
			for b.Loop() {
				c.crossEntropy(h, d, target, w, n, 1, chunk, dh, dw)
				k++
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(k), "cpu-s/op")
		})
	}
}

// TestCrossEntropyFusedNonFinite checks that a NaN hidden state or logits
// that overflow float32 give a NaN or infinite loss (which LossGrad
// reports) instead of a finite number or a panic.
func TestCrossEntropyFusedNonFinite(t *testing.T) {
	const T, d, n = 3, 4, 10
	rng := rand.New(rand.NewPCG(2, 3))
	h, w := normals(rng, T*d, 1), normals(rng, n*d, 1)
	target := []int{1, 5, 10}
	var c ceWork
	h[5] = float32(math.NaN())
	l := c.crossEntropy(h, d, target, w, n, 1, 2, make([]float32, T*d), make([]float32, n*d))
	assert.True(t, math.IsNaN(l), "NaN input: loss %v", l)
	for j := range d { // row 1 and item 1: a logit of 4·3e38 = +Inf
		h[d+j], w[j] = 3e38, 1
	}
	l = c.crossEntropy(h, d, target, w, n, 1, 2, make([]float32, T*d), make([]float32, n*d))
	assert.True(t, math.IsNaN(l) || math.IsInf(l, 0), "overflowing logits: loss %v", l)
}
