package tensor_test

import (
	"fmt"
	"math"

	"github.com/llmrec/llmrec/tensor"
)

// A numerically stable log-sum-exp and softmax of one row of logits: shift by
// the maximum, exponentiate and sum in one pass, then normalise.
func ExampleExpSum() {
	logits := []float32{2, 1, 0.5, -1}
	mx := tensor.MaxOf(logits)
	p := make([]float32, len(logits))
	s := tensor.ExpSum(p, logits, mx)
	fmt.Printf("logsumexp %.4f\n", float64(mx)+math.Log(s))
	for i := range p {
		p[i] /= float32(s)
	}
	fmt.Printf("softmax %.4f\n", p)
	// Output:
	// logsumexp 2.4952
	// softmax [0.6095 0.2242 0.1360 0.0303]
}
