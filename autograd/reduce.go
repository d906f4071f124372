package autograd

import (
	"github.com/llmrec/llmrec/tensor"
)

var (
	opSum      = &opDef{name: "Sum", back: func(t *Tape, n *node) { backReduceAll(t, n, false) }}
	opMean     = &opDef{name: "Mean", back: func(t *Tape, n *node) { backReduceAll(t, n, true) }}
	opSumRows  = &opDef{name: "SumRows", back: func(t *Tape, n *node) { backReduceRows(t, n, false) }}
	opMeanRows = &opDef{name: "MeanRows", back: func(t *Tape, n *node) { backReduceRows(t, n, true) }}
	opSumLast  = &opDef{name: "SumLast", back: backSumLast}
)

// Sum returns the sum of all elements as a scalar (shape []).
func (t *Tape) Sum(x *Value) *Value { return t.reduceAll(opSum, x) }

// Mean returns the mean of all elements as a scalar (shape []).
func (t *Tape) Mean(x *Value) *Value { return t.reduceAll(opMean, x) }

func (t *Tape) reduceAll(op *opDef, x *Value) *Value {
	var s float64
	for _, v := range x.Data.Data {
		s += float64(v)
	}
	if op == opMean && x.Data.Len() > 0 {
		s /= float64(x.Data.Len())
	}
	out := t.newTensor(false)
	out.Data[0] = float32(s)
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: op, out: y, a: x})
	}
	return y
}

func backReduceAll(t *Tape, n *node, mean bool) {
	dx := t.gradData(n.a)
	s := n.out.Grad.Data[0]
	if mean && len(dx) > 0 {
		s /= float32(len(dx))
	}
	for i := range dx {
		dx[i] += s
	}
}

// SumRows sums over every axis but the last: [..., d] -> [d].
func (t *Tape) SumRows(x *Value) *Value { return t.reduceRows(opSumRows, x) }

// MeanRows averages over every axis but the last: [..., d] -> [d].
func (t *Tape) MeanRows(x *Value) *Value { return t.reduceRows(opMeanRows, x) }

func (t *Tape) reduceRows(op *opDef, x *Value) *Value {
	cols, rows := x.Data.Cols(), x.Data.Rows()
	out := t.newTensor(true, cols)
	for r := 0; r < rows; r++ {
		for j, v := range x.Data.Data[r*cols : (r+1)*cols] {
			out.Data[j] += v
		}
	}
	if op == opMeanRows && rows > 0 {
		inv := 1 / float32(rows)
		for j := range out.Data {
			out.Data[j] *= inv
		}
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: op, out: y, a: x})
	}
	return y
}

func backReduceRows(t *Tape, n *node, mean bool) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	cols, rows := n.a.Data.Cols(), n.a.Data.Rows()
	s := float32(1)
	if mean && rows > 0 {
		s = 1 / float32(rows)
	}
	for r := 0; r < rows; r++ {
		tensor.Axpy(s, g, dx[r*cols:(r+1)*cols])
	}
}

// SumLast sums over the last axis: [..., d] -> [...].
func (t *Tape) SumLast(x *Value) *Value {
	X := x.Data
	cols, rows := X.Cols(), X.Rows()
	var out *tensor.Tensor
	if X.Dims() == 0 {
		out = t.newTensor(false)
	} else {
		out = t.newTensor(false, X.Shape[:X.Dims()-1]...)
	}
	for r := 0; r < rows; r++ {
		var s float32
		for _, v := range X.Data[r*cols : (r+1)*cols] {
			s += v
		}
		out.Data[r] = s
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opSumLast, out: y, a: x})
	}
	return y
}

func backSumLast(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	cols, rows := n.a.Data.Cols(), n.a.Data.Rows()
	for r := 0; r < rows; r++ {
		v := g[r]
		row := dx[r*cols : (r+1)*cols]
		for j := range row {
			row[j] += v
		}
	}
}
