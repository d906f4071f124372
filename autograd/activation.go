package autograd

import (
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/tensor"
)

var (
	opReLU    = &opDef{name: "ReLU", back: backReLU}
	opGELU    = &opDef{name: "GELU", back: backGELU}
	opSigmoid = &opDef{name: "Sigmoid", back: backSigmoid}
	opTanh    = &opDef{name: "Tanh", back: backTanh}
	opExp     = &opDef{name: "Exp", back: backExp}
	opLog     = &opDef{name: "Log", back: backLog}
	opSquare  = &opDef{name: "Square", back: backSquare}
	opSqrt    = &opDef{name: "Sqrt", back: backSqrt}
	opDropout = &opDef{name: "Dropout", back: backDropout}
)

// ReLU returns max(x, 0).
func (t *Tape) ReLU(x *Value) *Value {
	return t.unary(opReLU, x, 0, func(v float32) float32 { return max(v, 0) })
}

func backReLU(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, v := range n.a.Data.Data {
		if v > 0 {
			dx[i] += g[i]
		}
	}
}

// GELU returns the tanh approximation of GELU (as tensor.GELU and PyTorch's
// approximate="tanh").
func (t *Tape) GELU(x *Value) *Value {
	out := t.newTensor(false, x.Data.Shape...)
	tensor.GELU(out, x.Data)
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opGELU, out: y, a: x})
	}
	return y
}

// backGELU is tensor.GELUBackward into arena scratch, accumulated.
func backGELU(t *Tape, n *node) {
	d := t.newTensor(false, n.a.Data.Shape...)
	tensor.GELUBackward(d, n.out.Grad, n.a.Data)
	tensor.Axpy(1, d.Data, t.gradData(n.a))
}

func sigmoid(v float32) float32 {
	if v >= 0 {
		return float32(1 / (1 + math.Exp(-float64(v))))
	}
	e := math.Exp(float64(v))
	return float32(e / (1 + e))
}

// Sigmoid returns 1/(1+exp(−x)), computed without overflow.
func (t *Tape) Sigmoid(x *Value) *Value { return t.unary(opSigmoid, x, 0, sigmoid) }

// Tanh returns tanh(x).
func (t *Tape) Tanh(x *Value) *Value {
	return t.unary(opTanh, x, 0, func(v float32) float32 { return float32(math.Tanh(float64(v))) })
}

func backTanh(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, y := range n.out.Data.Data {
		dx[i] += g[i] * (1 - y*y)
	}
}

func backSigmoid(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, y := range n.out.Data.Data {
		dx[i] += g[i] * y * (1 - y)
	}
}

// Exp returns exp(x).
func (t *Tape) Exp(x *Value) *Value {
	return t.unary(opExp, x, 0, func(v float32) float32 { return float32(math.Exp(float64(v))) })
}

func backExp(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, y := range n.out.Data.Data {
		dx[i] += g[i] * y
	}
}

// Log returns the natural logarithm of x (x > 0 expected; log 0 = −Inf).
func (t *Tape) Log(x *Value) *Value {
	return t.unary(opLog, x, 0, func(v float32) float32 { return float32(math.Log(float64(v))) })
}

func backLog(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, v := range n.a.Data.Data {
		dx[i] += g[i] / v
	}
}

// Square returns x².
func (t *Tape) Square(x *Value) *Value {
	return t.unary(opSquare, x, 0, func(v float32) float32 { return v * v })
}

func backSquare(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, v := range n.a.Data.Data {
		dx[i] += 2 * g[i] * v
	}
}

// Sqrt returns √x (x > 0 expected for a finite gradient).
func (t *Tape) Sqrt(x *Value) *Value {
	return t.unary(opSqrt, x, 0, func(v float32) float32 { return float32(math.Sqrt(float64(v))) })
}

func backSqrt(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, y := range n.out.Data.Data {
		dx[i] += g[i] * 0.5 / y
	}
}

// Dropout zeroes each element with probability p and scales the others by
// 1/(1−p) (inverted dropout), with the mask drawn from rng. When train is
// false or p is 0 it returns x itself and records nothing.
func (t *Tape) Dropout(x *Value, p float32, train bool, rng *rand.Rand) *Value {
	if !train || p <= 0 {
		return x
	}
	if p >= 1 {
		return t.Scale(x, 0)
	}
	mask := t.newTensor(false, x.Data.Shape...)
	out := t.newTensor(false, x.Data.Shape...)
	tensor.DropoutMask(rng, mask.Data, float64(p))
	for i, v := range x.Data.Data {
		out.Data[i] = v * mask.Data[i]
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opDropout, out: y, a: x, s1: mask})
	}
	return y
}

func backDropout(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	for i, m := range n.s1.Data {
		dx[i] += g[i] * m
	}
}
