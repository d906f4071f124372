package autograd

import (
	"github.com/llmrec/llmrec/tensor"
)

var (
	opSoftmax    = &opDef{name: "Softmax", back: backSoftmax}
	opLogSoftmax = &opDef{name: "LogSoftmax", back: backLogSoftmax}
)

// Softmax is a softmax over the last axis. mask, when not nil, is a constant
// added to the logits (its shape broadcasts as a suffix; -Inf excludes a
// position). A fully excluded row is all zeros.
func (t *Tape) Softmax(x *Value, mask *tensor.Tensor) *Value {
	return t.softmax(opSoftmax, x, mask, nil)
}

// SoftmaxKeep is Softmax with a boolean mask: keep false excludes a position;
// keep's length divides x's element count and repeats (see
// tensor.SoftmaxKeep). keep is read only during the call.
func (t *Tape) SoftmaxKeep(x *Value, keep []bool) *Value {
	return t.softmax(opSoftmax, x, nil, keep)
}

// LogSoftmax is log(softmax) over the last axis with the mask rules of
// Softmax; excluded positions are -Inf and get no gradient.
func (t *Tape) LogSoftmax(x *Value, mask *tensor.Tensor) *Value {
	return t.softmax(opLogSoftmax, x, mask, nil)
}

// LogSoftmaxKeep is LogSoftmax with a boolean keep mask.
func (t *Tape) LogSoftmaxKeep(x *Value, keep []bool) *Value {
	return t.softmax(opLogSoftmax, x, nil, keep)
}

func (t *Tape) softmax(op *opDef, x *Value, mask *tensor.Tensor, keep []bool) *Value {
	out := t.newTensor(false, x.Data.Shape...)
	switch {
	case op == opSoftmax && keep != nil:
		tensor.SoftmaxKeep(out, x.Data, keep)
	case op == opSoftmax:
		tensor.Softmax(out, x.Data, mask)
	case keep != nil:
		tensor.LogSoftmaxKeep(out, x.Data, keep)
	default:
		tensor.LogSoftmax(out, x.Data, mask)
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: op, out: y, a: x})
	}
	return y
}

// backSoftmax is tensor.SoftmaxBackward into arena scratch, added to the
// input's gradient (the tape accumulates; the kernel overwrites).
func backSoftmax(t *Tape, n *node) {
	d := t.newTensor(false, n.out.Data.Shape...)
	tensor.SoftmaxBackward(d, n.out.Data, n.out.Grad)
	tensor.Axpy(1, d.Data, t.gradData(n.a))
}

// backLogSoftmax is tensor.LogSoftmaxBackward (excluded positions get 0),
// accumulated as backSoftmax.
func backLogSoftmax(t *Tape, n *node) {
	d := t.newTensor(false, n.out.Data.Shape...)
	tensor.LogSoftmaxBackward(d, n.out.Data, n.out.Grad)
	tensor.Axpy(1, d.Data, t.gradData(n.a))
}
