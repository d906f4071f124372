package tensor_test

import (
	"fmt"

	"github.com/llmrec/llmrec/tensor"
)

func ExampleMatMul() {
	// A batch of two 2x3 matrices times one shared 3x2 matrix.
	a := tensor.FromSlice([]float32{
		1, 2, 3,
		4, 5, 6,

		1, 0, 0,
		0, 1, 0,
	}, 2, 2, 3)
	b := tensor.FromSlice([]float32{
		1, 0,
		0, 1,
		1, 1,
	}, 3, 2)
	c := tensor.MatMul(&tensor.Tensor{}, a, b, false, false)
	fmt.Println(c.Shape)
	fmt.Println(c.Data)

	// Scores against a table of item embeddings: a·bᵀ without materializing
	// the transpose.
	users := tensor.FromSlice([]float32{1, 1, 0}, 1, 3)
	items := tensor.FromSlice([]float32{1, 0, 0, 0, 2, 0, 0, 0, 3}, 3, 3)
	fmt.Println(tensor.MatMul(&tensor.Tensor{}, users, items, false, true).Data)
	// Output:
	// [2 2 2]
	// [4 5 10 11 1 0 0 1]
	// [1 2 0]
}

func ExampleGemm() {
	// C = 2·A·B + 1·C with A 2x2, B 2x2, row-major.
	a := []float32{1, 2, 3, 4}
	b := []float32{5, 6, 7, 8}
	c := []float32{1, 1, 1, 1}
	tensor.Gemm(false, false, 2, 2, 2, 2, a, 2, b, 2, 1, c, 2)
	fmt.Println(c)
	// Output: [39 45 87 101]
}

func ExampleGemm64() {
	// The Gram matrix XᵀX of a 3x2 data matrix X (row-major), without
	// materializing Xᵀ: transA reads X as stored.
	x := []float64{
		1, 2,
		3, 4,
		5, 6,
	}
	gram := make([]float64, 2*2)
	tensor.Gemm64(true, false, 2, 2, 3, 1, x, 2, x, 2, 0, gram, 2)
	fmt.Println(gram)
	// Output: [35 44 44 56]
}

func ExampleGemmPackedA() {
	// Pack a 3x2 matrix A once, then multiply it by several right-hand
	// sides without repacking it.
	a := []float32{
		1, 2,
		3, 4,
		5, 6,
	}
	pa := tensor.PackA(nil, false, 3, 2, a, 2)
	c := make([]float32, 3)
	for _, v := range [][]float32{{1, 0}, {0, 1}, {1, -1}} {
		tensor.GemmPackedA(pa, false, 1, 1, v, 1, 0, c, 1) // C = A·v
		fmt.Println(c)
	}
	// Output:
	// [1 3 5]
	// [2 4 6]
	// [-1 -1 -1]
}

func ExampleGemmUpper64() {
	// The Gram matrix XᵀX of a 3 x 2 matrix X, summed over two row blocks:
	// only the upper triangle is formed (the lower one is left as it was).
	x := []float64{
		1, 2,
		3, 4,
		5, 6,
	}
	gram := make([]float64, 4)
	tensor.GemmUpper64(true, false, 2, 2, 1, x[:4], 2, x[:4], 2, 0, gram, 2) // rows 0-1
	tensor.GemmUpper64(true, false, 2, 1, 1, x[4:], 2, x[4:], 2, 1, gram, 2) // row 2, added
	fmt.Println(gram)
	// Output: [35 44 0 56]
}
