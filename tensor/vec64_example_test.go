package tensor_test

import (
	"fmt"

	"github.com/llmrec/llmrec/tensor"
)

// A symmetric 3 x 3 matrix stored by its upper triangle only (the strict
// lower part is never read), times a vector; then a Rayleigh quotient
// xᵀAx / xᵀx from Dot64.
func ExampleSymvUpper64() {
	a := []float64{
		2, -1, 0,
		0, 2, -1, // a[1][0] is not read
		0, 0, 2, // nor a[2][0], a[2][1]
	}
	x := []float64{1, 2, 3}
	y := make([]float64, 3)
	tensor.SymvUpper64(3, a, 3, x, y)
	fmt.Println(y)
	fmt.Printf("%.4f\n", tensor.Dot64(x, y)/tensor.Dot64(x, x))
	// Output:
	// [0 0 4]
	// 0.8571
}

// DotAxpy64 reads x once for a dot product with y and an update of z.
func ExampleDotAxpy64() {
	x := []float64{1, 2, 3}
	y := []float64{4, 5, 6}
	z := []float64{1, 1, 1}
	d := tensor.DotAxpy64(0.5, x, y, z)
	tensor.Axpy64(-1, x, y)
	fmt.Println(d, z, y)
	// Output:
	// 32 [1.5 2 2.5] [3 3 3]
}
