package moe_test

import (
	"fmt"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/tensor"
)

// PAD's gate at initialization: a popular item (bin 1) leans on the ID
// expert, a cold one (bin 10) on the text expert.
func ExampleFreqGate() {
	// bins per item id: 0 is padding, item 1 is popular, item 2 is cold.
	bins := []int{0, 1, 10}
	gate, err := moe.NewFreqGate(bins, moe.PADInit(10, moe.PADGamma2))
	if err != nil {
		panic(err)
	}
	t := autograd.NewInferenceTape()
	w := gate.Weights(t, []int{1, 2})
	fmt.Printf("popular: ID %.3f aligned %.3f text %.3f\n", w.Data.Row(0)[0], w.Data.Row(0)[1], w.Data.Row(0)[2])
	fmt.Printf("cold:    ID %.3f aligned %.3f text %.3f\n", w.Data.Row(1)[0], w.Data.Row(1)[1], w.Data.Row(1)[2])
	// Output:
	// popular: ID 0.568 aligned 0.013 text 0.419
	// cold:    ID 0.404 aligned 0.005 text 0.591
}

// Mixing three experts' scores for two candidate items.
func ExampleMix() {
	t := autograd.NewInferenceTape()
	w := t.Const(tensor.FromSlice([]float32{
		0.5, 0, 0.5, // item 0: half ID, half text
		0, 1, 0, // item 1: aligned only
	}, 2, 3))
	sID := t.Const(tensor.FromSlice([]float32{2, 2}, 2))
	sAligned := t.Const(tensor.FromSlice([]float32{9, -1}, 2))
	sText := t.Const(tensor.FromSlice([]float32{4, 4}, 2))
	fmt.Println(moe.Mix(t, w, sID, sAligned, sText).Data.Data)
	// Output: [3 -1]
}
