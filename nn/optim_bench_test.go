package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// mlp is a 2-layer perceptron of the package's Linear layers.
type mlp struct {
	fc1, fc2 *Linear
}

func newMLP(rng *rand.Rand, in, hidden, out int) *mlp {
	return &mlp{fc1: NewLinear(rng, in, hidden, true), fc2: NewLinear(rng, hidden, out, true)}
}

func (m *mlp) Params() []Param {
	return append(Prefix("fc1", m.fc1.Params()), Prefix("fc2", m.fc2.Params())...)
}

func (m *mlp) loss(tp *autograd.Tape, x *tensor.Tensor, y []int) *autograd.Value {
	h := tp.ReLU(m.fc1.Forward(tp, tp.Const(x)))
	return tp.CrossEntropy(m.fc2.Forward(tp, h), y, nil)
}

// BenchmarkMLPTrainStep measures one full training step of a 256-128-10 MLP
// on a batch of 64: tape forward, backward, gradient clipping, AdamW step,
// tape Reset. allocs/op is the steady-state allocation count per step.
func BenchmarkMLPTrainStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMLP(rng, 256, 128, 10)
	x := tensor.New(64, 256)
	Normal(rng, x, 1)
	y := make([]int, 64)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	params := m.Params()
	opt, err := NewAdamW(params, AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	if err != nil {
		b.Fatal(err)
	}
	tp := autograd.NewTape()
	step := func() {
		tp.Reset()
		opt.ZeroGrad()
		if err := tp.Backward(m.loss(tp, x, y)); err != nil {
			b.Fatal(err)
		}
		ClipGradNorm(params, 1)
		opt.Step()
	}
	step() // warm up: tape arena and optimizer state
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
}

// BenchmarkAdamStep isolates the optimizer update over the same MLP's
// 34,186 parameters.
func BenchmarkAdamStep(b *testing.B) {
	m := newMLP(rand.New(rand.NewPCG(1, 2)), 256, 128, 10)
	opt, err := NewAdam(m.Params(), DefaultAdam())
	if err != nil {
		b.Fatal(err)
	}
	opt.Step()
	b.ReportAllocs()
	for b.Loop() {
		opt.Step()
	}
}

// TestMLPTrainStepLearns checks the benchmarked loop actually trains: the
// loss on a fixed batch of random labels falls well below log(10) (the
// network can memorise 64 examples).
func TestMLPTrainStepLearns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := newMLP(rng, 256, 128, 10)
	x := tensor.New(64, 256)
	Normal(rng, x, 1)
	y := make([]int, 64)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	params := m.Params()
	opt, err := NewAdamW(params, AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	tp := autograd.NewTape()
	var first, last float32
	for i := range 100 {
		tp.Reset()
		opt.ZeroGrad()
		loss := m.loss(tp, x, y)
		if i == 0 {
			first = loss.Data.Data[0]
		}
		last = loss.Data.Data[0]
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		opt.Step()
	}
	if !(first > 1.5 && last < 0.1) {
		t.Fatalf("loss %v -> %v after 100 steps, want from > 1.5 to < 0.1", first, last)
	}
}
