package backbone

import (
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// resize is tensor.Resize: t becomes rows x cols, contents unspecified.
func resize(t *tensor.Tensor, rows, cols int) *tensor.Tensor { return tensor.Resize(t, rows, cols) }

// zeros is resize followed by clearing.
func zeros(t *tensor.Tensor, rows, cols int) *tensor.Tensor {
	resize(t, rows, cols)
	clear(t.Data)
	return t
}

func growF(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n, n+n/4)
	}
	return b[:n]
}

func growI(b []int, n int) []int {
	if cap(b) < n {
		return make([]int, n, n+n/4)
	}
	return b[:n]
}

// dropoutMask fills m with 0 (probability p) or 1/(1-p). Each decision
// uses the fewest random bits that represent p exactly (1 bit for p = 0.5,
// 2 for 0.25 or 0.75, ... up to 16; other values of p are rounded to a
// multiple of 2^-16), so one 64-bit draw serves up to 64 elements.
func dropoutMask(m []float32, p float64, rng *rand.Rand) {
	if p <= 0 {
		for i := range m {
			m[i] = 1
		}
		return
	}
	keep := float32(1 / (1 - p))
	bits := uint(16)
	for b := uint(1); b < 16; b++ {
		if x := p * float64(uint64(1)<<b); x == math.Trunc(x) {
			bits = b
			break
		}
	}
	thr := uint64(math.Round(p * float64(uint64(1)<<bits)))
	mask := uint64(1)<<bits - 1
	per := int(64 / bits)
	i := 0
	for ; i+per <= len(m); i += per {
		r := rng.Uint64()
		mm := m[i : i+per]
		for j := range mm {
			// branch-free: (r&mask - thr) wraps around exactly when r&mask < thr
			mm[j] = float32(1-((r&mask-thr)>>63)) * keep
			r >>= bits
		}
	}
	if i < len(m) {
		r := rng.Uint64()
		for ; i < len(m); i++ {
			if r&mask < thr {
				m[i] = 0
			} else {
				m[i] = keep
			}
			r >>= bits
		}
	}
}

func param(shape ...int) *autograd.Value { return autograd.NewParam(tensor.New(shape...)) }
