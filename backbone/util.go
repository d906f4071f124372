package backbone

import (
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

func param(shape ...int) *autograd.Value { return autograd.NewParam(tensor.New(shape...)) }
