package qscan_test

import (
	"fmt"

	"github.com/llmrec/llmrec/tensor/qscan"
)

// The exact top-3 of five 2-wide rows for the query (1, 1), row 0 excluded.
func Example() {
	rows := []float32{
		3, 3, // row 0: 6
		1, 0, // row 1: 1
		2, 2, // row 2: 4
		-1, 5, // row 3: 4
		0, 0, // row 4: 0
	}
	tab, err := qscan.New(rows, 2)
	if err != nil {
		panic(err)
	}
	top, err := tab.TopK(nil, []float32{1, 1}, 3, []int{0})
	if err != nil {
		panic(err)
	}
	for _, r := range top {
		fmt.Println(r.ID, r.Score)
	}
	// Output:
	// 2 4
	// 3 4
	// 1 1
}
