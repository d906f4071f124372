package autograd_test

import (
	"fmt"
	"math"

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

// softplus is a user-defined op y = log(1 + eˣ) with a hand-written
// backward dy/dx = σ(x). A pointer to a settings-free struct is enough; the
// tape keeps per-call state in the FuncContext.
type softplus struct{}

func (*softplus) Forward(c *autograd.FuncContext, in []*tensor.Tensor) (*tensor.Tensor, error) {
	y := c.Tensor(in[0].Shape...) // tape memory: no allocation once warmed up
	for i, v := range in[0].Data {
		y.Data[i] = float32(math.Log1p(math.Exp(float64(v))))
	}
	return y, nil
}

func (*softplus) Backward(c *autograd.FuncContext, dy *tensor.Tensor, din []*tensor.Tensor) error {
	if din[0] == nil { // the input needs no gradient
		return nil
	}
	for i, v := range c.Inputs()[0].Data {
		din[0].Data[i] += dy.Data[i] / float32(1+math.Exp(-float64(v)))
	}
	return nil
}

// A user-defined op (forward and backward written by hand) recorded on a
// tape among built-in ops, and checked against finite differences.
func ExampleTape_Apply() {
	w := autograd.NewParam(tensor.FromSlice([]float32{0.5, -1}, 2))
	f := func(t *autograd.Tape) *autograd.Value {
		y, err := t.Apply(&softplus{}, t.Scale(w, 2))
		if err != nil {
			panic(err)
		}
		return t.Sum(y)
	}
	tp := autograd.NewTape()
	loss := f(tp)
	if err := tp.Backward(loss); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.4f grad %.4f\n", loss.Data.Data[0], w.Grad.Data)
	fmt.Println("gradcheck:", autograd.GradCheck(f, []*autograd.Value{w}, autograd.GradCheckOptions{}))
	// Output:
	// loss 1.4402 grad [1.4621 0.2384]
	// gradcheck: <nil>
}
