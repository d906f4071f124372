package nn_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// Fit y = 3x - 2 with a one-unit linear layer and Adam, then save and reload
// the parameters.
func ExampleNewAdam() {
	rng := rand.New(rand.NewPCG(1, 1))
	w := autograd.NewParam(tensor.New(1, 1)) // [out, in]
	b := autograd.NewParam(tensor.New(1))
	nn.XavierUniform(rng, w.Data)
	params := []nn.Param{{Name: "lin.weight", Value: w}, {Name: "lin.bias", Value: b}}

	x := tensor.New(32, 1)
	y := tensor.New(32, 1)
	for i := range x.Data {
		x.Data[i] = float32(i)/16 - 1
		y.Data[i] = 3*x.Data[i] - 2
	}

	opt, err := nn.NewAdam(params, nn.AdamConfig{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		fmt.Println(err)
		return
	}
	tp := autograd.NewTape()
	for range 1000 {
		tp.Reset()
		opt.ZeroGrad()
		loss := tp.MSE(tp.Linear(tp.Const(x), w, b), tp.Const(y))
		if err := tp.Backward(loss); err != nil {
			fmt.Println(err)
			return
		}
		opt.Step()
	}
	fmt.Printf("w=%.2f b=%.2f\n", w.Data.Data[0], b.Data.Data[0])

	dir, _ := os.MkdirTemp("", "nn-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lin.safetensors")
	if err := nn.SaveCheckpoint(path, params, map[string]string{"steps": "1000"}); err != nil {
		fmt.Println(err)
		return
	}
	fresh := []nn.Param{
		{Name: "lin.weight", Value: autograd.NewParam(tensor.New(1, 1))},
		{Name: "lin.bias", Value: autograd.NewParam(tensor.New(1))},
	}
	res, err := nn.LoadCheckpointWith(path, fresh, nn.LoadOptions{})
	fmt.Println(err, res.Metadata["steps"], fresh[0].Value.Data.Data[0] == w.Data.Data[0])

	// A model with an extra parameter fails strict loading and says why.
	extra := append(fresh, nn.Param{Name: "head.weight", Value: autograd.NewParam(tensor.New(2, 1))})
	fmt.Println(nn.LoadCheckpoint(path, extra) != nil)
	// Output:
	// w=3.00 b=-2.00
	// <nil> 1000 true
	// true
}
