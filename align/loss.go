package align

import (
	"fmt"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// Loss is an alignment loss between two batches of vectors: x [N, d] (for
// example projected text embeddings) and y [M, d] (for example ID
// embeddings). It returns a scalar Value recorded on t, so that
// t.Backward(loss) sends gradients to whatever x and y depend on.
//
// Implementations panic with an error wrapping tensor.ErrShape when the
// batches do not fit the estimator (different widths, too few rows, N ≠ M
// where equal sizes are required): that is a programming error, not a data
// error.
type Loss interface {
	Loss(t *autograd.Tape, x, y *autograd.Value) *autograd.Value
}

// checkPair panics unless x and y are 2-D with the same number of columns
// and at least minRows rows each (and the same number of rows when equal is
// set).
func checkPair(name string, x, y *autograd.Value, minRows int, equal bool) (n, m int) {
	X, Y := x.Data, y.Data
	if X.Dims() != 2 || Y.Dims() != 2 || X.Shape[1] != Y.Shape[1] {
		panic(fmt.Errorf("%w: align.%s: x %v and y %v must be [N,d] and [M,d]", tensor.ErrShape, name, X.Shape, Y.Shape))
	}
	n, m = X.Shape[0], Y.Shape[0]
	if n < minRows || m < minRows {
		panic(fmt.Errorf("%w: align.%s: needs at least %d rows per batch, got %d and %d", tensor.ErrShape, name, minRows, n, m))
	}
	if equal && n != m {
		panic(fmt.Errorf("%w: align.%s: needs batches of equal size, got %d and %d", tensor.ErrShape, name, n, m))
	}
	return n, m
}
