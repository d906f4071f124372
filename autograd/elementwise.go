package autograd

import (
	"github.com/llmrec/llmrec/tensor"
)

// The binary ops share one forward and one backward; kind ('+', '-', '*')
// tells them apart without the backward naming the opDefs.
var (
	opAdd = &opDef{name: "Add", back: func(t *Tape, n *node) { t.backBinary(n, '+') }}
	opSub = &opDef{name: "Sub", back: func(t *Tape, n *node) { t.backBinary(n, '-') }}
	opMul = &opDef{name: "Mul", back: func(t *Tape, n *node) { t.backBinary(n, '*') }}

	opScale     = &opDef{name: "Scale", back: backScale}
	opAddScalar = &opDef{name: "AddScalar", back: backIdentity}
	opMulScalar = &opDef{name: "MulScalar", back: backMulScalar}
)

// bcastMap checks that bs broadcasts to as (right-aligned, each dim equal or
// 1) and returns nil when bs is a plain suffix of as (b repeats every len(b)
// elements), or else a map from each element of a to its element of b.
func (t *Tape) bcastMap(op string, as, bs []int) []int {
	if len(bs) > len(as) || len(as) > maxDims {
		shapePanic("%s cannot broadcast %v over %v", op, bs, as)
	}
	off := len(as) - len(bs)
	suffix := true
	for i, d := range bs {
		if d != as[off+i] {
			if d != 1 {
				shapePanic("%s cannot broadcast %v over %v", op, bs, as)
			}
			suffix = false
		}
	}
	if suffix {
		return nil
	}
	var strides [maxDims]int
	s := 1
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i] != 1 {
			strides[off+i] = s
		}
		s *= bs[i]
	}
	total := numel(as)
	idx := t.ScratchInts(total)
	var ctr [maxDims]int
	bo := 0
	for e := 0; e < total; e++ {
		idx[e] = bo
		for d := len(as) - 1; d >= 0; d-- {
			ctr[d]++
			bo += strides[d]
			if ctr[d] < as[d] {
				break
			}
			bo -= strides[d] * as[d]
			ctr[d] = 0
		}
	}
	return idx
}

func (t *Tape) binary(op *opDef, name string, a, b *Value) *Value {
	A, B := a.Data, b.Data
	idx := t.bcastMap(name, A.Shape, B.Shape)
	out := t.newTensor(false, A.Shape...)
	nb := len(B.Data)
	for off := 0; off < len(A.Data); off += nb {
		d, x := out.Data[off:off+nb], A.Data[off:off+nb]
		if idx != nil {
			ix := idx[off : off+nb]
			switch op {
			case opAdd:
				for j := range d {
					d[j] = x[j] + B.Data[ix[j]]
				}
			case opSub:
				for j := range d {
					d[j] = x[j] - B.Data[ix[j]]
				}
			default:
				for j := range d {
					d[j] = x[j] * B.Data[ix[j]]
				}
			}
			continue
		}
		switch op {
		case opAdd:
			for j, y := range B.Data {
				d[j] = x[j] + y
			}
		case opSub:
			for j, y := range B.Data {
				d[j] = x[j] - y
			}
		default:
			for j, y := range B.Data {
				d[j] = x[j] * y
			}
		}
	}
	y := t.newValue(out, t.needs(a, b))
	if y.requiresGrad {
		t.record(node{op: op, out: y, a: a, b: b, ints: idx})
	}
	return y
}

// Add returns a + b, where b broadcasts to a's shape (right-aligned; each of
// b's dims equals a's or is 1: a bias [d] over [B,T,d], a mask [B,T,1] over
// [B,T,d]). The gradient of b is summed over the broadcast dims.
func (t *Tape) Add(a, b *Value) *Value { return t.binary(opAdd, "Add", a, b) }

// Sub returns a − b with the broadcasting rule of Add.
func (t *Tape) Sub(a, b *Value) *Value { return t.binary(opSub, "Sub", a, b) }

// Mul returns the elementwise product a ⊙ b with the broadcasting rule of
// Add.
func (t *Tape) Mul(a, b *Value) *Value { return t.binary(opMul, "Mul", a, b) }

func (t *Tape) backBinary(n *node, kind byte) {
	A, B, dY := n.a.Data, n.b.Data, n.out.Grad.Data
	dA, dB := t.gradOf(n.a), t.gradOf(n.b)
	nb := len(B.Data)
	for off := 0; off < len(dY); off += nb {
		g := dY[off : off+nb]
		if dA != nil {
			da := dA.Data[off : off+nb]
			switch kind {
			case '*':
				if n.ints != nil {
					ix := n.ints[off : off+nb]
					for j, v := range g {
						da[j] += v * B.Data[ix[j]]
					}
				} else {
					for j, v := range g {
						da[j] += v * B.Data[j]
					}
				}
			default:
				for j, v := range g {
					da[j] += v
				}
			}
		}
		if dB != nil {
			x := A.Data[off : off+nb]
			var ix []int
			if n.ints != nil {
				ix = n.ints[off : off+nb]
			}
			for j, v := range g {
				switch kind {
				case '-':
					v = -v
				case '*':
					v *= x[j]
				}
				if ix != nil {
					dB.Data[ix[j]] += v
				} else {
					dB.Data[j] += v
				}
			}
		}
	}
}

func (t *Tape) unary(op *opDef, x *Value, f float32, fn func(float32) float32) *Value {
	out := t.newTensor(false, x.Data.Shape...)
	for i, v := range x.Data.Data {
		out.Data[i] = fn(v)
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: op, out: y, a: x, f: f})
	}
	return y
}

// Scale returns c·x for a constant c.
func (t *Tape) Scale(x *Value, c float32) *Value {
	out := t.newTensor(false, x.Data.Shape...)
	for i, v := range x.Data.Data {
		out.Data[i] = c * v
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opScale, out: y, a: x, f: c})
	}
	return y
}

func backScale(t *Tape, n *node) { tensor.Axpy(n.f, n.out.Grad.Data, t.gradData(n.a)) }

// backIdentity passes the gradient through unchanged (AddScalar, Reshape).
func backIdentity(t *Tape, n *node) { tensor.Axpy(1, n.out.Grad.Data, t.gradData(n.a)) }

// Neg returns −x.
func (t *Tape) Neg(x *Value) *Value { return t.Scale(x, -1) }

// AddScalar returns x + c for a constant c.
func (t *Tape) AddScalar(x *Value, c float32) *Value {
	out := t.newTensor(false, x.Data.Shape...)
	for i, v := range x.Data.Data {
		out.Data[i] = v + c
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opAddScalar, out: y, a: x, f: c})
	}
	return y
}

// MulScalar returns s·x where s is a one-element Value (a learnable scale or
// temperature); both get gradients.
func (t *Tape) MulScalar(x, s *Value) *Value {
	if s.Data.Len() != 1 {
		shapePanic("MulScalar scale must have one element, got %v", s.Data.Shape)
	}
	c := s.Data.Data[0]
	out := t.newTensor(false, x.Data.Shape...)
	for i, v := range x.Data.Data {
		out.Data[i] = c * v
	}
	y := t.newValue(out, t.needs(x, s))
	if y.requiresGrad {
		t.record(node{op: opMulScalar, out: y, a: x, b: s})
	}
	return y
}

func backMulScalar(t *Tape, n *node) {
	g := n.out.Grad.Data
	if dx := t.gradData(n.a); dx != nil {
		tensor.Axpy(n.b.Data.Data[0], g, dx)
	}
	if dS := t.gradData(n.b); dS != nil {
		var s float64
		for i, v := range g {
			s += float64(v) * float64(n.a.Data.Data[i])
		}
		dS[0] += float32(s)
	}
}
