package main

import (
	"context"
	"fmt"
	"math"

	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// TF-LLMER's init mode on a toy catalogue: four items whose "LLM" vectors
// have very different norms, a co-occurrence graph from two training
// sequences, Rec-PCA to 2 dimensions, and an ID table whose rows are kept
// at unit norm.
func Example_initMode() {
	x := &tensor.Tensor{Shape: []int{5, 3}, Data: []float32{
		0, 0, 0, // padding
		4, 0, 1,
		0, 0.5, 0.1,
		2, 2, 0,
		0, 0, 0.2,
	}}
	g, err := recpca.BuildGraph([][]int{{1, 2, 3}, {3, 4}}, 4, recpca.GraphOptions{})
	if err != nil {
		panic(err)
	}
	r, err := reduce(context.Background(), x, reduceConfig{Dim: 2, Graph: g, Lambda: 0.5, NormalizeInput: true})
	if err != nil {
		panic(err)
	}
	table, err := recPCAIDTable(r, true, 1, false)
	if err != nil {
		panic(err)
	}
	e := table.Materialize(&tensor.Tensor{})
	fmt.Println("table", e.Shape)
	for i := 1; i <= 4; i++ {
		fmt.Printf("item %d norm %.3f\n", i, math.Hypot(float64(e.Data[2*i]), float64(e.Data[2*i+1])))
	}
	// Output:
	// table [5 2]
	// item 1 norm 1.000
	// item 2 norm 1.000
	// item 3 norm 1.000
	// item 4 norm 1.000
}
