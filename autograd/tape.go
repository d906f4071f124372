package autograd

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/llmrec/llmrec/tensor"
)

// ErrBackward is wrapped by the errors Backward returns (non-scalar loss, NaN
// or infinite loss, loss from another tape, nothing to differentiate).
var ErrBackward = errors.New("autograd: backward")

// Option configures a Tape at construction (see NoGrad). Options are
// stateless and safe to share.
type Option func(*Tape)

// NoGrad makes a tape that computes forward values only: its ops record
// nothing and their results never require a gradient. Use it for evaluation
// and inference.
func NoGrad() Option { return func(t *Tape) { t.noGrad = true } }

// Tape records the operations of one forward pass so that Backward can
// propagate gradients in reverse, and owns the memory of every intermediate
// it creates (tensors, gradient buffers, node records). Reset hands that
// memory back for the next step, so a training loop with the same shapes at
// every step allocates (almost) nothing once warmed up.
//
// Intermediate Values (and Scratch tensors) returned by a tape are valid until
// its next Reset. Parameters (NewParam) live outside any tape.
//
// A Tape is not safe for concurrent use: use one tape per goroutine. Many
// inference tapes may read the same parameters concurrently as long as nobody
// updates them.
type Tape struct {
	noGrad  bool
	corrupt *opDef // test hook: plant a wrong backward in this op kind
	planted plant

	nodes []node

	vals  []*Value
	nvals int
	tens  []*tensor.Tensor
	ntens int

	free map[int][][]float32
	used [][]float32

	ints  []int
	bools []bool
	vrefs []*Value
	shape []int

	ctxs []*FuncContext // contexts of user-defined Functions (Apply)
	nctx int
}

// NewTape returns an empty tape. With NoGrad() it only computes forward
// values.
func NewTape(opts ...Option) *Tape {
	t := &Tape{free: make(map[int][][]float32)}
	for _, o := range opts {
		o(t)
	}
	return t
}

// NewInferenceTape is NewTape(NoGrad()).
func NewInferenceTape() *Tape { return NewTape(NoGrad()) }

// Grad reports whether the tape records operations for Backward (false for
// a NoGrad tape).
func (t *Tape) Grad() bool { return !t.noGrad }

// Len returns the number of recorded operations.
func (t *Tape) Len() int { return len(t.nodes) }

// Reset forgets the recorded operations and hands every intermediate buffer
// back to the tape's free lists. Values and tensors obtained from the tape
// before Reset must not be used afterwards. Parameters are untouched (their
// gradients keep accumulating until ZeroGrad).
func (t *Tape) Reset() {
	for i := range t.nodes {
		t.nodes[i] = node{}
	}
	t.nodes = t.nodes[:0]
	for _, b := range t.used {
		n := cap(b)
		t.free[n] = append(t.free[n], b[:n])
	}
	clear(t.used)
	t.used = t.used[:0]
	for i := 0; i < t.nvals; i++ {
		*t.vals[i] = Value{}
	}
	t.nvals = 0
	for i := 0; i < t.ntens; i++ {
		t.tens[i].Data = nil
	}
	t.ntens = 0
	t.ints = t.ints[:0]
	t.bools = t.bools[:0]
	clear(t.vrefs)
	t.vrefs = t.vrefs[:0]
	t.resetFuncContexts()
}

// floats returns a buffer of n float32 from the free lists (zeroed when zero
// is true).
//
// Buffers are kept in size classes (capacities rounded up to 2^k·{1, 1.25,
// 1.5, 1.75}), so a model whose batch shapes change from step to step (packed
// batches, trimmed padding) reuses the same buffers instead of growing a free
// list per distinct size: the arena's memory stays bounded by the largest
// step, at most 25% above the exact sizes.
func (t *Tape) floats(n int, zero bool) []float32 {
	c := sizeClass(n)
	var b []float32
	if l := t.free[c]; len(l) > 0 {
		b = l[len(l)-1][:n]
		l[len(l)-1] = nil
		t.free[c] = l[:len(l)-1]
		if zero {
			clear(b)
		}
	} else {
		b = make([]float32, n, c)
	}
	t.used = append(t.used, b)
	return b
}

// sizeClass returns the capacity of the class that holds n floats: n itself
// up to 16, else the smallest 2^k·m/4 (m in 4..7) that is at least n.
func sizeClass(n int) int {
	if n <= 16 {
		return n
	}
	// n-1 has b bits, so 2^(b-1) < n <= 2^b: round up to a multiple of
	// 2^(b-3), a quarter of the power of two below the class.
	step := 1 << (bits.Len(uint(n-1)) - 3)
	return (n + step - 1) / step * step
}

// newTensor returns an arena tensor of the given shape.
func (t *Tape) newTensor(zero bool, shape ...int) *tensor.Tensor {
	if t.ntens == len(t.tens) {
		t.tens = append(t.tens, &tensor.Tensor{})
	}
	x := t.tens[t.ntens]
	t.ntens++
	x.Shape = append(x.Shape[:0], shape...)
	n := 1
	for _, d := range x.Shape {
		if d < 0 {
			panic(fmt.Errorf("%w: negative dimension in %v", tensor.ErrShape, x.Shape))
		}
		n *= d
	}
	x.Data = t.floats(n, zero)
	return x
}

// view returns an arena tensor sharing data with a new shape.
func (t *Tape) view(data []float32, shape ...int) *tensor.Tensor {
	if t.ntens == len(t.tens) {
		t.tens = append(t.tens, &tensor.Tensor{})
	}
	x := t.tens[t.ntens]
	t.ntens++
	x.Shape = append(x.Shape[:0], shape...)
	x.Data = data
	return x
}

func (t *Tape) newValue(data *tensor.Tensor, requiresGrad bool) *Value {
	if t.nvals == len(t.vals) {
		t.vals = append(t.vals, &Value{})
	}
	v := t.vals[t.nvals]
	t.nvals++
	*v = Value{Data: data, requiresGrad: requiresGrad && !t.noGrad, node: -1}
	return v
}

// Scratch returns a zeroed tensor owned by the tape, valid until Reset. Layers
// use it for masks and constants so that a steady-state step allocates
// nothing.
func (t *Tape) Scratch(shape ...int) *tensor.Tensor { return t.newTensor(true, shape...) }

// ScratchBools returns n false booleans owned by the tape, valid until Reset.
func (t *Tape) ScratchBools(n int) []bool {
	s := len(t.bools)
	t.bools = append(t.bools, make([]bool, n)...)
	b := t.bools[s : s+n : s+n]
	clear(b)
	return b
}

// ScratchInts returns n zeroed ints owned by the tape, valid until Reset.
func (t *Tape) ScratchInts(n int) []int {
	s := len(t.ints)
	t.ints = append(t.ints, make([]int, n)...)
	b := t.ints[s : s+n : s+n]
	clear(b)
	return b
}

func (t *Tape) copyInts(src []int) []int {
	s := len(t.ints)
	t.ints = append(t.ints, src...)
	return t.ints[s : s+len(src) : s+len(src)]
}

// Const wraps x as a constant of this tape: ops read it, no gradient flows to
// it. x is not copied.
func (t *Tape) Const(x *tensor.Tensor) *Value { return t.newValue(x, false) }

// Full returns a constant tensor of the given shape filled with v, owned by
// the tape.
func (t *Tape) Full(v float32, shape ...int) *Value {
	x := t.newTensor(false, shape...)
	x.Fill(v)
	return t.newValue(x, false)
}

// Leaf wraps x as an input of this tape that receives a gradient: after
// Backward (or BackwardWith), its Grad holds the gradient with respect to x
// in tape memory (nil when nothing reached it). Use it for inputs computed
// outside the tape whose gradient the caller passes on, as an encoder's
// input vectors. x is not copied. On a NoGrad tape it is a constant.
func (t *Tape) Leaf(x *tensor.Tensor) *Value { return t.newValue(x, true) }

// NewConst wraps x as a constant leaf usable on any tape (no gradient).
func NewConst(x *tensor.Tensor) *Value { return &Value{Data: x, node: -1} }

// needs reports whether an op with these inputs must be recorded.
func (t *Tape) needs(vs ...*Value) bool {
	if t.noGrad {
		return false
	}
	for _, v := range vs {
		if v != nil && v.requiresGrad {
			return true
		}
	}
	return false
}

// record appends n (whose out is already set) and links out to it.
func (t *Tape) record(n node) {
	n.out.node = len(t.nodes)
	t.nodes = append(t.nodes, n)
}

// gradOf returns v's gradient buffer, allocating a zeroed one for
// intermediates. It returns nil when v needs no gradient.
func (t *Tape) gradOf(v *Value) *tensor.Tensor {
	if v == nil || !v.requiresGrad {
		return nil
	}
	if v.Grad == nil {
		v.Grad = t.newTensor(true, v.Data.Shape...)
	}
	return v.Grad
}

// Backward propagates gradients from loss, a scalar (one element) computed
// on this tape, to every Value that requires a gradient. Parameters'
// gradients are accumulated into their Grad (callers zero them per step).
// It returns an error wrapping ErrBackward when loss is not a scalar, is NaN
// or infinite, or was not recorded on this tape, and the error of a
// user-defined Function's Backward (wrapping both ErrBackward and it), after
// which the gradients are incomplete.
func (t *Tape) Backward(loss *Value) error {
	if loss == nil || loss.Data == nil {
		return fmt.Errorf("%w: nil loss", ErrBackward)
	}
	if loss.Data.Len() != 1 {
		return fmt.Errorf("%w: loss must be a scalar, got shape %v", ErrBackward, loss.Data.Shape)
	}
	if v := float64(loss.Data.Data[0]); math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: loss is %v", ErrBackward, v)
	}
	if t.noGrad {
		return fmt.Errorf("%w: tape records no gradients (NoGrad)", ErrBackward)
	}
	if !loss.requiresGrad || loss.node < 0 || loss.node >= len(t.nodes) || t.nodes[loss.node].out != loss {
		return fmt.Errorf("%w: loss was not recorded on this tape or depends on no value that requires a gradient", ErrBackward)
	}
	g := t.gradOf(loss)
	g.Data[0] += 1
	if err := t.backwardFrom(loss.node); err != nil {
		return fmt.Errorf("%w: %w", ErrBackward, err)
	}
	return nil
}

// BackwardWith propagates a given output gradient dy (same shape as y) from
// y, a Value computed on this tape, to every Value that requires a gradient:
// the gradient of Σ y⊙dy, as torch's y.backward(dy). It is how a model
// recorded on a tape hands on a gradient that comes from elsewhere (an
// encoder's Backward receives dL/dh from the loss). It returns an error
// wrapping ErrBackward when shapes differ, y was not computed on this tape,
// or a user-defined Function's Backward fails. A y that requires no
// gradient is not an error: nothing is propagated.
func (t *Tape) BackwardWith(y *Value, dy *tensor.Tensor) error {
	if y == nil || y.Data == nil || dy == nil {
		return fmt.Errorf("%w: nil output or gradient", ErrBackward)
	}
	if !tensor.SameShape(y.Data.Shape, dy.Shape) && y.Data.Len() != dy.Len() {
		return fmt.Errorf("%w: gradient of shape %v for an output of shape %v", ErrBackward, dy.Shape, y.Data.Shape)
	}
	if t.noGrad || !y.requiresGrad {
		return nil
	}
	if y.node >= len(t.nodes) || (y.node >= 0 && t.nodes[y.node].out != y) {
		return fmt.Errorf("%w: output was not recorded on this tape", ErrBackward)
	}
	g := t.gradOf(y)
	tensor.Axpy(1, dy.Data, g.Data)
	if y.node < 0 { // a Leaf: its gradient is dy itself
		return nil
	}
	if err := t.backwardFrom(y.node); err != nil {
		return fmt.Errorf("%w: %w", ErrBackward, err)
	}
	return nil
}

// backwardFrom runs the recorded backward functions from node last down to
// 0. It stops at the first error (of a user-defined Function).
func (t *Tape) backwardFrom(last int) error {
	for i := last; i >= 0; i-- {
		n := &t.nodes[i]
		if n.out.Grad == nil {
			continue
		}
		corrupt := n.op == t.corrupt
		if corrupt && t.planted == plantMissing {
			continue
		}
		if corrupt {
			t.planted.apply(n.out.Grad.Data, false)
		}
		err := t.backward(n)
		if corrupt {
			t.planted.apply(n.out.Grad.Data, true)
		}
		if err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	return nil
}

// plant is a wrong backward that tests plant in one op kind (GradCheck's
// corrupt hook) to show that the gradient checks can fail: a sign flipped,
// a factor of 2 lost, or no backward at all.
type plant uint8

const (
	plantNegate  plant = iota // the incoming gradient negated
	plantHalve                // the incoming gradient halved
	plantMissing              // the op's backward not run
)

// apply changes the incoming gradient x before the op's backward (undo
// false) and restores it after (undo true); the values stay exact (powers
// of two).
func (p plant) apply(x []float32, undo bool) {
	f := float32(-1)
	if p == plantHalve {
		f = 0.5
		if undo {
			f = 2
		}
	}
	for i := range x {
		x[i] *= f
	}
}
