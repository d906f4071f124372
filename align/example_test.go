package align_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// sample draws n points of N(shift·1, I_d).
func sample(r *rand.Rand, n, d int, shift float32) *tensor.Tensor {
	x := tensor.New(n, d)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64()) + shift
	}
	return x
}

// MK-MMD is near zero for two samples of one distribution and grows when one
// sample is shifted.
func ExampleMKMMD() {
	r := rand.New(rand.NewPCG(1, 1))
	x := sample(r, 200, 8, 0)
	same := sample(r, 200, 8, 0)
	shifted := sample(r, 200, 8, 1)

	t := autograd.NewInferenceTape()
	var mmd align.MKMMD // 5 Gaussian kernels, unbiased estimator
	a := mmd.Loss(t, t.Const(x), t.Const(same)).Data.Data[0]
	b := mmd.Loss(t, t.Const(x), t.Const(shifted)).Data.Data[0]
	fmt.Printf("same distribution below 0.02: %v\n", a < 0.02 && a > -0.02)
	fmt.Printf("shifted by 1 above 0.5: %v\n", b > 0.5)
	// Output:
	// same distribution below 0.02: true
	// shifted by 1 above 0.5: true
}

// Training with an alignment loss: the gradient moves x toward y.
func ExampleLoss() {
	r := rand.New(rand.NewPCG(2, 2))
	x := autograd.NewParam(sample(r, 64, 4, 2))
	y := sample(r, 64, 4, 0)
	var loss align.Loss = align.MKMMD{}

	t := autograd.NewTape()
	before := loss.Loss(t, x, t.Const(y))
	fmt.Printf("before: %.1f\n", before.Data.Data[0])
	for range 100 {
		t.Reset()
		x.ZeroGrad()
		l := loss.Loss(t, x, t.Const(y))
		if err := t.Backward(l); err != nil {
			panic(err)
		}
		tensor.Axpy(-20, x.Grad.Data, x.Data.Data) // plain gradient descent
	}
	t.Reset()
	after := loss.Loss(t, x, t.Const(y))
	fmt.Printf("after below 0.1: %v\n", after.Data.Data[0] < 0.1)
	// Output:
	// before: 2.9
	// after below 0.1: true
}

// InfoNCE is log N when every similarity is equal.
func ExampleInfoNCE() {
	x, y := tensor.New(4, 3), tensor.New(4, 3)
	t := autograd.NewInferenceTape()
	l := align.InfoNCE{Temperature: 0.07}.Loss(t, t.Const(x), t.Const(y))
	fmt.Printf("%.4f\n", l.Data.Data[0]) // log 4
	// Output: 1.3863
}
