package autograd

import (
	"errors"
	"fmt"

	"github.com/llmrec/llmrec/tensor"
)

// ErrFunction is wrapped by the errors Apply returns when a user-defined
// Function misbehaves (no output, a nil input).
var ErrFunction = errors.New("autograd: function")

// Function is an operation whose forward and backward passes the user
// supplies, in the spirit of torch.autograd.Function: a hand-written kernel
// (a fused layer, a whole encoder that differentiates by hand, a call into
// another library) recorded on a tape by Apply. It is differentiated like
// every built-in op, so GradCheck checks it.
//
// Forward computes the output from the inputs' data. It takes memory for
// the output, and for anything Backward needs, from the FuncContext (tape
// memory, handed back by Reset: a steady-state step allocates nothing), and
// keeps tensors for Backward with Save. It may instead return memory of its
// own, as long as that memory is left unchanged until Backward has run.
//
// Backward receives the gradient dout of the output and adds (+=) the
// gradient with respect to input i into din[i]; din[i] is nil when input i
// needs no gradient. An error stops Tape.Backward, which returns it wrapped
// (errors.Is finds it).
//
// A Function is typically a pointer to a struct of settings: the tape holds
// it until Reset, so one value may be applied many times, and the same
// Function may be applied on several tapes concurrently if its methods only
// read it. Per-application state belongs in the FuncContext.
type Function interface {
	Forward(c *FuncContext, in []*tensor.Tensor) (*tensor.Tensor, error)
	Backward(c *FuncContext, dout *tensor.Tensor, din []*tensor.Tensor) error
}

// FuncContext is the per-application memory of a Function on a tape: its
// inputs and output, the tensors saved for Backward, and arena memory. It is
// owned by the tape and valid until its next Reset.
type FuncContext struct {
	t     *Tape
	fn    Function
	in    []*tensor.Tensor
	din   []*tensor.Tensor
	needs []bool
	saved []*tensor.Tensor
	out   *tensor.Tensor
}

// Tensor returns a zeroed tensor of the given shape from the tape's memory,
// valid until the tape's Reset (for the output and saved intermediates).
func (c *FuncContext) Tensor(shape ...int) *tensor.Tensor { return c.t.newTensor(true, shape...) }

// Ints returns n zeroed ints from the tape's memory, valid until Reset.
func (c *FuncContext) Ints(n int) []int { return c.t.ScratchInts(n) }

// Save keeps x for Backward (see Saved). x is not copied.
func (c *FuncContext) Save(x *tensor.Tensor) { c.saved = append(c.saved, x) }

// Saved returns the i-th tensor passed to Save.
func (c *FuncContext) Saved(i int) *tensor.Tensor { return c.saved[i] }

// Inputs returns the inputs' data, in the order given to Apply.
func (c *FuncContext) Inputs() []*tensor.Tensor { return c.in }

// Output returns the tensor Forward returned (nil during Forward).
func (c *FuncContext) Output() *tensor.Tensor { return c.out }

// NeedsGrad reports whether input i receives a gradient. Forward may skip
// saving what only that gradient would need.
func (c *FuncContext) NeedsGrad(i int) bool { return c.needs[i] }

// Train reports whether the tape records gradients (false on a NoGrad
// tape), so Forward can skip what only Backward needs.
func (c *FuncContext) Train() bool { return !c.t.noGrad }

// Apply runs f on the inputs and, when one of them requires a gradient,
// records it so that Backward calls f.Backward. It returns f's output as a
// Value of this tape, or the error of f.Forward (wrapped), or an error
// wrapping ErrFunction when f returns no output or an input is nil.
func (t *Tape) Apply(f Function, in ...*Value) (*Value, error) {
	c := t.newFuncContext(f)
	for i, v := range in {
		if v == nil || v.Data == nil {
			return nil, fmt.Errorf("%w: %T: input %d is nil", ErrFunction, f, i)
		}
		c.in = append(c.in, v.Data)
		c.needs = append(c.needs, v.requiresGrad && !t.noGrad)
	}
	out, err := f.Forward(c, c.in)
	if err != nil {
		return nil, fmt.Errorf("autograd: %T forward: %w", f, err)
	}
	if out == nil {
		return nil, fmt.Errorf("%w: %T: Forward returned no output", ErrFunction, f)
	}
	c.out = out
	y := t.newValue(out, t.needs(in...))
	if y.requiresGrad {
		s := len(t.vrefs)
		t.vrefs = append(t.vrefs, in...)
		refs := t.vrefs[s:len(t.vrefs):len(t.vrefs)]
		t.record(node{op: opFunc, out: y, vrefs: refs, i0: t.nctx - 1})
	}
	return y, nil
}

// newFuncContext returns a cleared context from the tape's pool.
func (t *Tape) newFuncContext(f Function) *FuncContext {
	if t.nctx == len(t.ctxs) {
		t.ctxs = append(t.ctxs, &FuncContext{t: t})
	}
	c := t.ctxs[t.nctx]
	t.nctx++
	c.fn = f
	return c
}

// resetFuncContexts drops the references of every used context and keeps
// their slices for the next step.
func (t *Tape) resetFuncContexts() {
	for _, c := range t.ctxs[:t.nctx] {
		c.fn, c.out = nil, nil
		clear(c.in)
		clear(c.din)
		clear(c.saved)
		c.in, c.din, c.needs, c.saved = c.in[:0], c.din[:0], c.needs[:0], c.saved[:0]
	}
	t.nctx = 0
}

// opFunc is a user-defined Function recorded by Apply; its backward is the
// user's, and the only one that can fail.
var opFunc = &opDef{name: "Apply", backErr: (*Tape).backFunc}

// backFunc calls the user's Backward with the inputs' gradient buffers.
func (t *Tape) backFunc(n *node) error {
	c := t.ctxs[n.i0]
	c.din = c.din[:0]
	for _, v := range n.vrefs {
		c.din = append(c.din, t.gradOf(v))
	}
	if err := c.fn.Backward(c, n.out.Grad, c.din); err != nil {
		return fmt.Errorf("%T backward: %w", c.fn, err)
	}
	return nil
}
