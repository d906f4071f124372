package data_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/tensor"
)

// ExampleNPYStream sums the rows of a .npy array two rows at a time; with
// OpenNPYStream the same loop runs over a file larger than memory.
func ExampleNPYStream() {
	var file bytes.Buffer
	m := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 2)
	if err := data.EncodeNPY(&file, m); err != nil {
		fmt.Println(err)
		return
	}
	s, err := data.NewNPYStream(&file, "m.npy")
	if err != nil {
		fmt.Println(err)
		return
	}
	sums := make([]float32, s.Cols())
	chunk := make([]float32, 2*s.Cols())
	for {
		n, err := s.Next(chunk)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("read rows", s.Row()-n, "to", s.Row()-1)
		for i := 0; i < n*s.Cols(); i++ {
			sums[i%s.Cols()] += chunk[i]
		}
	}
	fmt.Println("column sums", sums)
	// Output:
	// read rows 0 to 1
	// read rows 2 to 3
	// read rows 4 to 4
	// column sums [25 30]
}
