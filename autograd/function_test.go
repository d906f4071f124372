package autograd

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

// mulSq is a user-defined op y[r,j] = a[r,j]·b[j]² (b broadcast over the
// rows of a), written by hand: dA = dy·b², dB[j] = Σ_r dy·a·2b. With
// wrongFactor != 0 its backward uses that factor instead of 2 (a
// deliberately wrong gradient that GradCheck must catch).
type mulSq struct{ wrongFactor float32 }

func (m mulSq) Forward(c *FuncContext, in []*tensor.Tensor) (*tensor.Tensor, error) {
	a, b := in[0], in[1]
	if a.Cols() != b.Len() {
		return nil, errors.New("mulSq: width mismatch")
	}
	y := c.Tensor(a.Shape...)
	d := b.Len()
	for i, v := range a.Data {
		bj := b.Data[i%d]
		y.Data[i] = v * bj * bj
	}
	return y, nil
}

func (m mulSq) Backward(c *FuncContext, dy *tensor.Tensor, din []*tensor.Tensor) error {
	a, b := c.Inputs()[0], c.Inputs()[1]
	d := b.Len()
	f := float32(2)
	if m.wrongFactor != 0 {
		f = m.wrongFactor
	}
	for i, g := range dy.Data {
		bj := b.Data[i%d]
		if din[0] != nil {
			din[0].Data[i] += g * bj * bj
		}
		if din[1] != nil {
			din[1].Data[i%d] += g * a.Data[i] * f * bj
		}
	}
	return nil
}

func mustApply(t *Tape, f Function, in ...*Value) *Value {
	y, err := t.Apply(f, in...)
	if err != nil {
		panic(err)
	}
	return y
}

func TestUserOpGradCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := randParam(rng, -1, 1, 3, 4), randParam(rng, -1, 1, 4)
	f := func(op Function) func(*Tape) *Value {
		return func(t *Tape) *Value { return t.Sum(t.Square(mustApply(t, op, a, b))) }
	}
	require.NoError(t, GradCheck(f(mulSq{}), []*Value{a, b}, GradCheckOptions{}))
	// a deliberately wrong backward (factor 3 instead of 2 on b) is caught
	err := GradCheck(f(mulSq{wrongFactor: 3}), []*Value{a, b}, GradCheckOptions{})
	require.ErrorIs(t, err, ErrGradCheck)
	require.Contains(t, err.Error(), "input 1[")
	// a frozen input gets no gradient buffer (din[1] == nil) and a is still right
	b.SetRequiresGrad(false)
	require.NoError(t, GradCheck(f(mulSq{}), []*Value{a, b}, GradCheckOptions{}))
	b.SetRequiresGrad(true)
}

// errOp fails in forward or backward on demand.
type errOp struct{ fwd, bwd error }

var errBoom = errors.New("boom")

func (e *errOp) Forward(c *FuncContext, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if e.fwd != nil {
		return nil, e.fwd
	}
	y := c.Tensor(in[0].Shape...)
	copy(y.Data, in[0].Data)
	return y, nil
}

func (e *errOp) Backward(c *FuncContext, dy *tensor.Tensor, din []*tensor.Tensor) error {
	return e.bwd
}

func TestUserOpErrors(t *testing.T) {
	x := NewParam(tensor.FromSlice([]float32{1, 2}, 2))
	tp := NewTape()
	_, err := tp.Apply(&errOp{fwd: errBoom}, x)
	require.ErrorIs(t, err, errBoom)
	_, err = tp.Apply(&errOp{}, x, nil)
	require.ErrorIs(t, err, ErrFunction)

	y, err := tp.Apply(&errOp{bwd: errBoom}, x)
	require.NoError(t, err)
	err = tp.Backward(tp.Sum(y))
	require.ErrorIs(t, err, errBoom)
	require.ErrorIs(t, err, ErrBackward)

	// GradCheck reports a backward error instead of comparing
	err = GradCheck(func(t *Tape) *Value { return t.Sum(mustApply(t, &errOp{bwd: errBoom}, x)) }, []*Value{x}, GradCheckOptions{})
	require.ErrorIs(t, err, errBoom)

	// on a NoGrad tape the op runs forward only
	inf := NewInferenceTape()
	y, err = inf.Apply(&errOp{bwd: errBoom}, x)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2}, y.Data.Data)
	require.Equal(t, 0, inf.Len())
	require.False(t, y.RequiresGrad())
}

// step is one training step of a small model mixing built-in ops and a user
// op, on rows x width inputs.
func step(tp *Tape, w, b *Value, x *tensor.Tensor) error {
	h := tp.Linear(tp.Const(x), w, nil)
	y, err := tp.Apply(mulSq{}, h, b)
	if err != nil {
		return err
	}
	return tp.Backward(tp.Mean(tp.Square(tp.Tanh(y))))
}

// A tape reused across steps whose shapes change must give the same
// gradients as a fresh tape per step, and, once every shape has been seen,
// allocate nothing.
func TestTapeReuseWithChangingShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	w, b := randParam(rng, -1, 1, 6, 5), randParam(rng, -1, 1, 6)
	rows := []int{7, 130, 3, 64, 129, 1, 40}
	xs := make([]*tensor.Tensor, len(rows))
	for i, r := range rows {
		xs[i] = constOf(rng, r, 5)
	}
	reused := NewTape()
	for pass := 0; pass < 3; pass++ {
		for i, x := range xs {
			w.ZeroGrad()
			b.ZeroGrad()
			require.NoError(t, step(NewTape(), w, b, x))
			wantW, wantB := w.Grad.Clone(), b.Grad.Clone()
			w.ZeroGrad()
			b.ZeroGrad()
			reused.Reset()
			require.NoError(t, step(reused, w, b, x))
			require.Equal(t, wantW.Data, w.Grad.Data, "pass %d step %d (rows %d)", pass, i, rows[i])
			require.Equal(t, wantB.Data, b.Grad.Data, "pass %d step %d (rows %d)", pass, i, rows[i])
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(50, func() {
		reused.Reset()
		if err := step(reused, w, b, xs[i%len(xs)]); err != nil {
			panic(err)
		}
		i++
	})
	require.Zero(t, allocs, "a warmed-up tape allocates per step with changing shapes")
}

// BackwardWith(y, dy) gives the gradients of Σ y⊙dy, for parameters and for
// a Leaf input.
func TestBackwardWith(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	w := randParam(rng, -1, 1, 4, 3)
	x := constOf(rng, 5, 3)
	dy := constOf(rng, 5, 4)
	run := func(with bool) (dw, dx []float32) {
		w.ZeroGrad()
		tp := NewTape()
		xl := tp.Leaf(x)
		y := tp.Tanh(tp.Linear(xl, w, nil))
		if with {
			require.NoError(t, tp.BackwardWith(y, dy))
		} else {
			require.NoError(t, tp.Backward(tp.Sum(tp.Mul(y, tp.Const(dy)))))
		}
		return append([]float32(nil), w.Grad.Data...), append([]float32(nil), xl.Grad.Data...)
	}
	dw1, dx1 := run(true)
	dw2, dx2 := run(false)
	require.InDeltaSlice(t, dw2, dw1, 1e-6)
	require.InDeltaSlice(t, dx2, dx1, 1e-6)

	tp := NewTape()
	xl := tp.Leaf(x)
	require.NoError(t, tp.BackwardWith(xl, x)) // a leaf's gradient is dy
	require.Equal(t, x.Data, xl.Grad.Data)
	y := tp.Tanh(xl)
	require.ErrorIs(t, tp.BackwardWith(y, tensor.New(2, 2)), ErrBackward)
	require.ErrorIs(t, NewTape().BackwardWith(y, x), ErrBackward) // another tape
}
