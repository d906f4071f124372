package autograd_test

import (
	"fmt"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// Gradients of a small loss, then a finite-difference check of the same
// function.
func Example() {
	w := autograd.NewParam(tensor.FromSlice([]float32{0.5, -1, 2}, 1, 3)) // [out=1, in=3]
	x := tensor.FromSlice([]float32{1, 2, 3}, 1, 3)
	loss := func(t *autograd.Tape) *autograd.Value {
		y := t.Linear(t.Const(x), w, nil) // 0.5 − 2 + 6 = 4.5
		return t.Mean(t.Square(y))        // 20.25
	}
	tp := autograd.NewTape()
	l := loss(tp)
	if err := tp.Backward(l); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loss:", l.Data.Data[0])
	fmt.Println("dL/dw:", w.Grad.Data) // 2·4.5·x
	fmt.Println("gradcheck:", autograd.GradCheck(loss, []*autograd.Value{w}, autograd.GradCheckOptions{}))

	// evaluation: a NoGrad tape records nothing
	inf := autograd.NewInferenceTape()
	fmt.Println("eval:", loss(inf).Data.Data[0], "recorded ops:", inf.Len())
	// Output:
	// loss: 20.25
	// dL/dw: [9 18 27]
	// gradcheck: <nil>
	// eval: 20.25 recorded ops: 0
}
