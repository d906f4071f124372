package autograd

import (
	"math"

	"github.com/llmrec/llmrec/tensor"
)

var (
	opBCE          = &opDef{name: "BCEWithLogits", back: backBCE}
	opCrossEntropy = &opDef{name: "CrossEntropy", back: backCrossEntropy}
	opMSE          = &opDef{name: "MSE", back: backMSE}
)

// BCEWithLogits returns the binary cross-entropy of logits z against targets
// y (same shape), computed stably as max(z,0) − z·y + log(1+exp(−|z|)).
// weight, when not nil, is a constant of the same shape: the result is
// Σ w·l / Σ w (a 0/1 mask gives the mean over unmasked entries; 0 when every
// weight is 0); nil means the mean over all entries.
func (t *Tape) BCEWithLogits(logits, targets *Value, weight *tensor.Tensor) *Value {
	Z, Y := logits.Data, targets.Data
	if !tensor.SameShape(Z.Shape, Y.Shape) || (weight != nil && weight.Len() != Z.Len()) {
		shapePanic("BCEWithLogits logits %v targets %v", Z.Shape, Y.Shape)
	}
	var s, W float64
	for i, z := range Z.Data {
		w := float64(1)
		if weight != nil {
			w = float64(weight.Data[i])
			if w == 0 {
				continue
			}
		}
		zf, yf := float64(z), float64(Y.Data[i])
		l := max(zf, 0) - zf*yf + math.Log1p(math.Exp(-math.Abs(zf)))
		s += w * l
		W += w
	}
	out := t.newTensor(false)
	if W != 0 {
		out.Data[0] = float32(s / W)
	}
	v := t.newValue(out, t.needs(logits, targets))
	if v.requiresGrad {
		t.record(node{op: opBCE, out: v, a: logits, b: targets, s1: weight, f: float32(W)})
	}
	return v
}

func backBCE(t *Tape, n *node) {
	if n.f == 0 {
		return
	}
	g := n.out.Grad.Data
	dx, dT := t.gradData(n.a), t.gradData(n.b)
	Y := n.b.Data
	s := g[0] / n.f
	for i, z := range n.a.Data.Data {
		w := s
		if n.s1 != nil {
			w *= n.s1.Data[i]
			if w == 0 {
				continue
			}
		}
		if dx != nil {
			dx[i] += w * (sigmoid(z) - Y.Data[i])
		}
		if dT != nil {
			dT[i] -= w * z
		}
	}
}

// CrossEntropy returns the mean negative log-likelihood of integer targets
// under softmax(logits) for logits [N, C] (any leading shape with N rows).
// Targets < 0 are ignored. weight, when not nil, has N elements and weights
// each row: the result is Σ w·nll / Σ w over rows not ignored (0 if none).
// targets is copied.
func (t *Tape) CrossEntropy(logits *Value, targets []int, weight *tensor.Tensor) *Value {
	Z := logits.Data
	C, N := Z.Cols(), Z.Rows()
	if len(targets) != N || (weight != nil && weight.Len() != N) {
		shapePanic("CrossEntropy logits %v with %d targets", Z.Shape, len(targets))
	}
	ls := t.newTensor(false, Z.Shape...)
	tensor.LogSoftmax(ls, Z, nil)
	var s, W float64
	for r, c := range targets {
		if c < 0 {
			continue
		}
		if c >= C {
			shapePanic("CrossEntropy target %d out of [0,%d)", c, C)
		}
		w := float64(1)
		if weight != nil {
			w = float64(weight.Data[r])
		}
		s -= w * float64(ls.Data[r*C+c])
		W += w
	}
	out := t.newTensor(false)
	if W != 0 {
		out.Data[0] = float32(s / W)
	}
	v := t.newValue(out, t.needs(logits))
	if v.requiresGrad {
		t.record(node{op: opCrossEntropy, out: v, a: logits, s1: ls, s2: weight, ints: t.copyInts(targets), f: float32(W)})
	}
	return v
}

func backCrossEntropy(t *Tape, n *node) {
	if n.f == 0 {
		return
	}
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	C := n.a.Data.Cols()
	ls := n.s1.Data
	s := g[0] / n.f
	for r, c := range n.ints {
		if c < 0 {
			continue
		}
		w := s
		if n.s2 != nil {
			w *= n.s2.Data[r]
		}
		row := dx[r*C : (r+1)*C]
		for j := range row {
			row[j] += w * float32(math.Exp(float64(ls[r*C+j])))
		}
		row[c] -= w
	}
}

// MSE returns the mean of (a − b)² over all elements (a and b of the same
// shape); both get gradients.
func (t *Tape) MSE(a, b *Value) *Value {
	if !tensor.SameShape(a.Data.Shape, b.Data.Shape) {
		shapePanic("MSE %v and %v", a.Data.Shape, b.Data.Shape)
	}
	var s float64
	for i, v := range a.Data.Data {
		d := float64(v) - float64(b.Data.Data[i])
		s += d * d
	}
	out := t.newTensor(false)
	if n := a.Data.Len(); n > 0 {
		out.Data[0] = float32(s / float64(n))
	}
	v := t.newValue(out, t.needs(a, b))
	if v.requiresGrad {
		t.record(node{op: opMSE, out: v, a: a, b: b})
	}
	return v
}

func backMSE(t *Tape, n *node) {
	g := n.out.Grad.Data
	A, B := n.a.Data, n.b.Data
	dx, dB := t.gradData(n.a), t.gradData(n.b)
	s := 2 * g[0] / float32(max(len(A.Data), 1))
	for i, v := range A.Data {
		e := s * (v - B.Data[i])
		if dx != nil {
			dx[i] += e
		}
		if dB != nil {
			dB[i] -= e
		}
	}
}
