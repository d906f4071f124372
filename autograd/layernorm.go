package autograd

import (
	"github.com/llmrec/llmrec/tensor"
)

var opLayerNorm = &opDef{name: "LayerNorm", back: (*Tape).backLayerNorm}

// LayerNorm normalizes each row (last axis) of x to zero mean and unit
// (biased) variance and applies gamma ⊙ x̂ + beta. gamma and beta are [d]
// (either may be nil for no affine part).
func (t *Tape) LayerNorm(x, gamma, beta *Value, eps float32) *Value {
	rows := x.Data.Rows()
	var g, b []float32
	if gamma != nil {
		g = gamma.Data.Data
	}
	if beta != nil {
		b = beta.Data.Data
	}
	out := t.newTensor(false, x.Data.Shape...)
	stats := t.newTensor(false, 2, rows)
	tensor.LayerNorm(out, x.Data, g, b, eps, stats.Data[:rows], stats.Data[rows:])
	y := t.newValue(out, t.needs(x, gamma, beta))
	if y.requiresGrad {
		t.record(node{op: opLayerNorm, out: y, a: x, b: gamma, c: beta, s1: stats})
	}
	return y
}

func (t *Tape) backLayerNorm(n *node) {
	X := n.a.Data
	rows := X.Rows()
	var g, dg, db []float32
	if n.b != nil {
		g = n.b.Data.Data
	}
	if G := t.gradOf(n.b); G != nil {
		dg = G.Data
	}
	if B := t.gradOf(n.c); B != nil {
		db = B.Data
	}
	dX := t.gradOf(n.a)
	acc := true
	if dX == nil {
		dX = t.newTensor(false, X.Shape...)
		acc = false
	}
	tensor.LayerNormBackward(dX, n.out.Grad, X, g, n.s1.Data[:rows], n.s1.Data[rows:], dg, db, acc)
}
