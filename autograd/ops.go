package autograd

import (
	"fmt"

	"github.com/llmrec/llmrec/tensor"
)

// The built-in ops live one family per file, each op's forward method beside
// its backward function and its opDef: matmul.go (MatMul, Linear),
// elementwise.go (Add, Sub, Mul and the scalar ops), reduce.go (sums and
// means), shape.go (Reshape, Permute, Concat, Slice, Gather), softmax.go,
// layernorm.go, activation.go (ReLU ... Dropout), recommend.go
// (L2NormalizeRows, RowDot, PairwiseSqDist), loss.go (BCE, cross-entropy,
// MSE) and function.go (user-defined Functions). Backward kernels that
// package tensor has (softmax, log-softmax, GELU, layer norm, linear) are
// used from there, not rewritten here.

const maxDims = 8

func shapePanic(format string, args ...any) {
	panic(fmt.Errorf("%w: "+format, append([]any{tensor.ErrShape}, args...)...))
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
