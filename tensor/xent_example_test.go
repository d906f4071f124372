package tensor_test

import (
	"fmt"

	"github.com/llmrec/llmrec/tensor"
)

// The output layer of a classifier over four classes trained with the mean
// cross-entropy of two rows: the loss, the gradient of the rows (set) and
// of the class vectors (added). (The figures agree with a float64
// evaluation of the same formulas written out by hand.)
func ExampleLinearCrossEntropy() {
	h := []float32{ // two rows, width 2
		1, 0,
		0, 2,
	}
	w := []float32{ // four classes
		1, 0,
		0, 1,
		-1, 0,
		0, -1,
	}
	targets := []int{0, 3}
	dh, dw := make([]float32, len(h)), make([]float32, len(w))
	var x tensor.LinearCrossEntropy
	sum := x.LossGrad(h, 2, 2, w, 4, targets, 0.5, 64, dh, dw)
	fmt.Printf("mean loss %.4f\n", sum/2)
	fmt.Printf("dh %.4f\n", dh)
	fmt.Printf("dw %.4f\n", dw)
	// Output:
	// mean loss 2.4402
	// dh [-0.2689 0.0000 0.0000 0.8808]
	// dw [-0.2328 0.1050 0.0983 0.7758 0.0362 0.1050 0.0983 -0.9858]
}
