package nn_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// A Linear layer applied on a tape, then one gradient step's worth of
// gradients from Backward.
func ExampleLinear() {
	l := &nn.Linear{
		Weight: autograd.NewParam(tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)), // [out, in]
		Bias:   autograd.NewParam(tensor.FromSlice([]float32{0, 1}, 2)),
	}
	tp := autograd.NewTape()
	y := l.Forward(tp, tp.Const(tensor.FromSlice([]float32{1, 1}, 1, 2)))
	fmt.Println("y:", y.Data.Data)
	if err := tp.Backward(tp.Sum(y)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("dW:", l.Weight.Grad.Data, "db:", l.Bias.Grad.Data)
	// Output:
	// y: [3 8]
	// dW: [1 1 1 1] db: [1 1]
}

// A SASRec-style block over a left-padded batch: causal attention with the
// padded keys masked, padded rows zeroed.
func ExampleTransformerBlock() {
	rng := rand.New(rand.NewPCG(42, 0))
	blk, err := nn.NewTransformerBlock(rng, nn.BlockConfig{D: 8, Heads: 2, Dropout: 0.5, Style: nn.StyleTF})
	if err != nil {
		fmt.Println(err)
		return
	}
	x := tensor.New(2, 3, 8) // [B, T, d] embeddings
	x.Fill(0.1)
	pad := []bool{true, false, false, false, false, false} // sequence 0 starts with padding
	tp := autograd.NewInferenceTape()
	y := blk.Forward(tp, tp.Const(x), nn.AttnMask{Causal: true, KeyPad: pad}, false, nil)
	padded := true
	for _, v := range y.Data.Data[:8] {
		padded = padded && v == 0
	}
	fmt.Println(y.Data.Shape, "padded row zero:", padded, len(blk.Params()), "params")
	// Output:
	// [2 3 8] padded row zero: true 14 params
}

// An activation outside the tape: Apply and its gradient Backprop, parsed
// from its saved name.
func ExampleActivation_Apply() {
	x := tensor.FromSlice([]float32{-1, 2}, 1, 2)
	for _, name := range []string{"relu", "none"} {
		act, err := nn.ParseActivation(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		y := act.Apply(&tensor.Tensor{}, x)
		dx := act.Backprop(&tensor.Tensor{}, tensor.FromSlice([]float32{1, 1}, 1, 2), x)
		fmt.Println(act, y.Data, dx.Data)
	}
	// Output:
	// relu [0 2] [0 1]
	// none [-1 2] [1 1]
}
