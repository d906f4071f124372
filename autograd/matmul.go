package autograd

import (
	"github.com/llmrec/llmrec/tensor"
)

var (
	opMatMul = &opDef{name: "MatMul", back: (*Tape).backMatMul}
	opLinear = &opDef{name: "Linear", back: (*Tape).backLinear}
)

// MatMul returns op(a)·op(b) where op transposes the last two axes when the
// flag is set. a is [..., m, k] (or [..., k, m] with transA); b is 2-D (shared
// by every batch) or has a's leading dimensions. The result is [..., m, n].
func (t *Tape) MatMul(a, b *Value, transA, transB bool) *Value {
	A, B := a.Data, b.Data
	if A.Dims() < 2 || B.Dims() < 2 {
		shapePanic("MatMul needs matrices, got %v and %v", A.Shape, B.Shape)
	}
	ar, ac := A.Shape[A.Dims()-2], A.Shape[A.Dims()-1]
	br, bc := B.Shape[B.Dims()-2], B.Shape[B.Dims()-1]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	lead := A.Shape[:A.Dims()-2]
	bBatched := B.Dims() > 2
	if kb != k || (bBatched && !tensor.SameShape(lead, B.Shape[:B.Dims()-2])) {
		shapePanic("MatMul %v x %v (transA=%v transB=%v)", A.Shape, B.Shape, transA, transB)
	}
	t.shape = append(append(t.shape[:0], lead...), m, n)
	out := t.newTensor(false, t.shape...)
	batch := numel(lead)
	sa, sb, sc := ar*ac, br*bc, m*n
	for i := 0; i < batch; i++ {
		bo := 0
		if bBatched {
			bo = i * sb
		}
		tensor.Gemm(transA, transB, m, n, k, 1, A.Data[i*sa:(i+1)*sa], ac, B.Data[bo:bo+sb], bc, 0, out.Data[i*sc:(i+1)*sc], n)
	}
	y := t.newValue(out, t.needs(a, b))
	if y.requiresGrad {
		t.record(node{op: opMatMul, out: y, a: a, b: b, ta: transA, tb: transB})
	}
	return y
}

func (t *Tape) backMatMul(n *node) {
	A, B, dC := n.a.Data, n.b.Data, n.out.Grad
	dA, dB := t.gradOf(n.a), t.gradOf(n.b)
	ar, ac := A.Shape[A.Dims()-2], A.Shape[A.Dims()-1]
	br, bc := B.Shape[B.Dims()-2], B.Shape[B.Dims()-1]
	m, k := ar, ac
	if n.ta {
		m, k = ac, ar
	}
	nn := bc
	if n.tb {
		nn = br
	}
	batch := numel(A.Shape[:A.Dims()-2])
	bBatched := B.Dims() > 2
	sa, sb, sc := ar*ac, br*bc, m*nn
	for i := 0; i < batch; i++ {
		bo := 0
		if bBatched {
			bo = i * sb
		}
		a, b, dc := A.Data[i*sa:(i+1)*sa], B.Data[bo:bo+sb], dC.Data[i*sc:(i+1)*sc]
		if dA != nil {
			da := dA.Data[i*sa : (i+1)*sa]
			if !n.ta {
				tensor.Gemm(false, !n.tb, m, k, nn, 1, dc, nn, b, bc, 1, da, ac)
			} else {
				tensor.Gemm(n.tb, true, k, m, nn, 1, b, bc, dc, nn, 1, da, ac)
			}
		}
		if dB != nil {
			db := dB.Data[bo : bo+sb]
			if !n.tb {
				tensor.Gemm(!n.ta, false, k, nn, m, 1, a, ac, dc, nn, 1, db, bc)
			} else {
				tensor.Gemm(true, n.ta, nn, k, m, 1, dc, nn, a, ac, 1, db, bc)
			}
		}
	}
}

// Linear returns x·wᵀ + bias for x [..., in], w [out, in] (stored as
// PyTorch's nn.Linear) and bias [out] (nil for none). The result is
// [..., out].
func (t *Tape) Linear(x, w, bias *Value) *Value {
	X, W := x.Data, w.Data
	in := X.Cols()
	if W.Dims() != 2 || W.Shape[1] != in || (bias != nil && (bias.Data.Len() != W.Shape[0])) {
		bs := []int(nil)
		if bias != nil {
			bs = bias.Data.Shape
		}
		shapePanic("Linear x %v weight %v bias %v", X.Shape, W.Shape, bs)
	}
	outF, rows := W.Shape[0], X.Rows()
	t.shape = append(append(t.shape[:0], X.Shape[:X.Dims()-1]...), outF)
	out := t.newTensor(false, t.shape...)
	var bd []float32
	if bias != nil {
		bd = bias.Data.Data
	}
	tensor.LinearForward(rows, in, outF, X.Data, W.Data, bd, out.Data)
	y := t.newValue(out, t.needs(x, w, bias))
	if y.requiresGrad {
		t.record(node{op: opLinear, out: y, a: x, b: w, c: bias})
	}
	return y
}

func (t *Tape) backLinear(n *node) {
	X, W, dY := n.a.Data, n.b.Data, n.out.Grad
	in, outF, rows := X.Cols(), W.Shape[0], X.Rows()
	tensor.LinearBackward(rows, in, outF, X.Data, W.Data, dY.Data, t.gradData(n.a), t.gradData(n.b), t.gradData(n.c), true)
}
