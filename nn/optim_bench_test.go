package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// mlp is a 2-layer perceptron built directly on the tape's Linear op (the
// package's own layer types are not needed to measure the optimizer and the
// training loop).
type mlp struct {
	w1, b1, w2, b2 *autograd.Value
}

func newMLP(rng *rand.Rand, in, hidden, out int) *mlp {
	m := &mlp{
		w1: autograd.NewParam(tensor.New(hidden, in)),
		b1: autograd.NewParam(tensor.New(hidden)),
		w2: autograd.NewParam(tensor.New(out, hidden)),
		b2: autograd.NewParam(tensor.New(out)),
	}
	KaimingUniform(rng, m.w1.Data, 2.2360679775)
	KaimingUniform(rng, m.w2.Data, 2.2360679775)
	return m
}

func (m *mlp) Params() []Param {
	return []Param{{"fc1.weight", m.w1}, {"fc1.bias", m.b1}, {"fc2.weight", m.w2}, {"fc2.bias", m.b2}}
}

func (m *mlp) loss(tp *autograd.Tape, x *tensor.Tensor, y []int) *autograd.Value {
	h := tp.ReLU(tp.Linear(tp.Const(x), m.w1, m.b1))
	return tp.CrossEntropy(tp.Linear(h, m.w2, m.b2), y, nil)
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
