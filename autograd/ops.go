package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/tensor"
)

const maxDims = 8

func shapePanic(format string, args ...any) {
	panic(fmt.Errorf("%w: "+format, append([]any{tensor.ErrShape}, args...)...))
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ---------------------------------------------------------------- matmul

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
	data := func(g *tensor.Tensor) []float32 {
		if g == nil {
			return nil
		}
		return g.Data
	}
	tensor.LinearBackward(rows, in, outF, X.Data, W.Data, dY.Data, data(t.gradOf(n.a)), data(t.gradOf(n.b)), data(t.gradOf(n.c)), true)
}

// ---------------------------------------------------------------- broadcasting elementwise

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

func (t *Tape) binary(op opKind, name string, a, b *Value) *Value {
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

func (t *Tape) backBinary(n *node) {
	A, B, dY := n.a.Data, n.b.Data, n.out.Grad.Data
	dA, dB := t.gradOf(n.a), t.gradOf(n.b)
	nb := len(B.Data)
	for off := 0; off < len(dY); off += nb {
		g := dY[off : off+nb]
		if dA != nil {
			da := dA.Data[off : off+nb]
			switch n.op {
			case opMul:
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
				switch n.op {
				case opSub:
					v = -v
				case opMul:
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

// ---------------------------------------------------------------- scalars

func (t *Tape) unary(op opKind, x *Value, f float32, fn func(float32) float32) *Value {
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

// ---------------------------------------------------------------- reductions

// Sum returns the sum of all elements as a scalar (shape []).
func (t *Tape) Sum(x *Value) *Value { return t.reduceAll(opSum, x) }

// Mean returns the mean of all elements as a scalar (shape []).
func (t *Tape) Mean(x *Value) *Value { return t.reduceAll(opMean, x) }

func (t *Tape) reduceAll(op opKind, x *Value) *Value {
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

// SumRows sums over every axis but the last: [..., d] -> [d].
func (t *Tape) SumRows(x *Value) *Value { return t.reduceRows(opSumRows, x) }

// MeanRows averages over every axis but the last: [..., d] -> [d].
func (t *Tape) MeanRows(x *Value) *Value { return t.reduceRows(opMeanRows, x) }

func (t *Tape) reduceRows(op opKind, x *Value) *Value {
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

// ---------------------------------------------------------------- shape ops

// Reshape returns a view of x with a new shape (same elements, shared
// data). One dimension may be -1 and is then inferred.
func (t *Tape) Reshape(x *Value, shape ...int) *Value {
	n, infer := 1, -1
	for i, d := range shape {
		if d == -1 && infer < 0 {
			infer = i
			continue
		}
		n *= d
	}
	t.shape = append(t.shape[:0], shape...)
	if infer >= 0 && n > 0 {
		t.shape[infer] = x.Data.Len() / n
		n *= t.shape[infer]
	}
	if n != x.Data.Len() {
		shapePanic("Reshape %v to %v", x.Data.Shape, append([]int(nil), shape...))
	}
	out := t.view(x.Data.Data, t.shape...)
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opReshape, out: y, a: x})
	}
	return y
}

// Permute reorders the axes of x: result axis i is x's axis perm[i] (as
// torch.permute). Permute(x, 0, 2, 1, 3) turns [B,T,H,dh] into [B,H,T,dh].
func (t *Tape) Permute(x *Value, perm ...int) *Value {
	X := x.Data
	if len(perm) != X.Dims() || len(perm) > maxDims {
		shapePanic("Permute %v by %v", X.Shape, append([]int(nil), perm...))
	}
	var seen [maxDims]bool
	for _, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			shapePanic("Permute %v by %v", X.Shape, append([]int(nil), perm...))
		}
		seen[p] = true
	}
	t.shape = t.shape[:0]
	for _, p := range perm {
		t.shape = append(t.shape, X.Shape[p])
	}
	out := t.newTensor(false, t.shape...)
	permuteData(out.Data, X.Data, X.Shape, perm, false)
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opPermute, out: y, a: x, ints: t.copyInts(perm)})
	}
	return y
}

// permuteData walks the permuted (output) order; forward copies
// out[o] = in[i], backward (back=true) accumulates in[i] += out[o].
func permuteData(out, in []float32, inShape, perm []int, back bool) {
	nd := len(inShape)
	if len(in) == 0 {
		return
	}
	var inStride, oStride, oShape [maxDims]int
	s := 1
	for i := nd - 1; i >= 0; i-- {
		inStride[i] = s
		s *= inShape[i]
	}
	for i, p := range perm {
		oShape[i] = inShape[p]
		oStride[i] = inStride[p]
	}
	if nd == 0 {
		if back {
			in[0] += out[0]
		} else {
			out[0] = in[0]
		}
		return
	}
	last := oShape[nd-1]
	ls := oStride[nd-1]
	var ctr [maxDims]int
	io := 0
	for o := 0; o < len(out); o += last {
		if back {
			for j := 0; j < last; j++ {
				in[io+j*ls] += out[o+j]
			}
		} else {
			for j := 0; j < last; j++ {
				out[o+j] = in[io+j*ls]
			}
		}
		for d := nd - 2; d >= 0; d-- {
			ctr[d]++
			io += oStride[d]
			if ctr[d] < oShape[d] {
				break
			}
			io -= oStride[d] * oShape[d]
			ctr[d] = 0
		}
	}
}

func axisSplit(shape []int, axis int) (outer, n, inner int) {
	return numel(shape[:axis]), shape[axis], numel(shape[axis+1:])
}

// Concat joins xs along axis (negative counts from the end: -1 is the last
// axis). All other dims must agree.
func (t *Tape) Concat(axis int, xs ...*Value) *Value {
	if len(xs) == 0 {
		shapePanic("Concat of nothing")
	}
	s0 := xs[0].Data.Shape
	if axis < 0 {
		axis += len(s0)
	}
	if axis < 0 || axis >= len(s0) {
		shapePanic("Concat axis %d of %v", axis, s0)
	}
	total := 0
	for _, x := range xs {
		s := x.Data.Shape
		if len(s) != len(s0) {
			shapePanic("Concat %v and %v", s0, s)
		}
		for i := range s {
			if i != axis && s[i] != s0[i] {
				shapePanic("Concat %v and %v along %d", s0, s, axis)
			}
		}
		total += s[axis]
	}
	t.shape = append(t.shape[:0], s0...)
	t.shape[axis] = total
	out := t.newTensor(false, t.shape...)
	outer, _, inner := axisSplit(s0, axis)
	pos := 0
	for _, x := range xs {
		w := x.Data.Shape[axis] * inner
		for o := 0; o < outer; o++ {
			copy(out.Data[o*total*inner+pos:o*total*inner+pos+w], x.Data.Data[o*w:(o+1)*w])
		}
		pos += w
	}
	y := t.newValue(out, t.needs(xs...))
	if y.requiresGrad {
		st := len(t.vrefs)
		t.vrefs = append(t.vrefs, xs...)
		t.record(node{op: opConcat, out: y, vrefs: t.vrefs[st:len(t.vrefs):len(t.vrefs)], i0: axis})
	}
	return y
}

// Slice returns elements [from, to) of x along axis (negative counts from
// the end).
func (t *Tape) Slice(x *Value, axis, from, to int) *Value {
	s := x.Data.Shape
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis >= len(s) || from < 0 || to > s[axis] || from > to {
		shapePanic("Slice [%d:%d] of axis %d of %v", from, to, axis, s)
	}
	t.shape = append(t.shape[:0], s...)
	t.shape[axis] = to - from
	out := t.newTensor(false, t.shape...)
	outer, n, inner := axisSplit(s, axis)
	w := (to - from) * inner
	for o := 0; o < outer; o++ {
		copy(out.Data[o*w:(o+1)*w], x.Data.Data[(o*n+from)*inner:(o*n+from)*inner+w])
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opSlice, out: y, a: x, i0: axis, i1: from})
	}
	return y
}

// Gather returns rows idx of table ([V, d] -> [len(idx), d]): an embedding
// lookup. Rows whose index equals padding receive no gradient (pass -1 for
// none). idx is copied. Out-of-range indices panic (validate data first).
func (t *Tape) Gather(table *Value, idx []int, padding int) *Value {
	d := table.Data.Cols()
	out := t.newTensor(false, len(idx), d)
	tensor.Gather(out, table.Data, idx)
	y := t.newValue(out, t.needs(table))
	if y.requiresGrad {
		t.record(node{op: opGather, out: y, a: table, ints: t.copyInts(idx), i0: padding})
	}
	return y
}

// ---------------------------------------------------------------- softmax

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

func (t *Tape) softmax(op opKind, x *Value, mask *tensor.Tensor, keep []bool) *Value {
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

// ---------------------------------------------------------------- layer norm

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

// ---------------------------------------------------------------- activations

// ReLU returns max(x, 0).
func (t *Tape) ReLU(x *Value) *Value {
	return t.unary(opReLU, x, 0, func(v float32) float32 { return max(v, 0) })
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

// Exp returns exp(x).
func (t *Tape) Exp(x *Value) *Value {
	return t.unary(opExp, x, 0, func(v float32) float32 { return float32(math.Exp(float64(v))) })
}

// Log returns the natural logarithm of x (x > 0 expected; log 0 = −Inf).
func (t *Tape) Log(x *Value) *Value {
	return t.unary(opLog, x, 0, func(v float32) float32 { return float32(math.Log(float64(v))) })
}

// Square returns x².
func (t *Tape) Square(x *Value) *Value {
	return t.unary(opSquare, x, 0, func(v float32) float32 { return v * v })
}

// Sqrt returns √x (x > 0 expected for a finite gradient).
func (t *Tape) Sqrt(x *Value) *Value {
	return t.unary(opSqrt, x, 0, func(v float32) float32 { return float32(math.Sqrt(float64(v))) })
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

// ---------------------------------------------------------------- recommendation ops

// L2NormalizeRows divides each row (last axis) of x by max(‖row‖₂, eps), as
// TF-LLMER's item-embedding normalization (and torch F.normalize).
func (t *Tape) L2NormalizeRows(x *Value, eps float32) *Value {
	X := x.Data
	cols, rows := X.Cols(), X.Rows()
	out := t.newTensor(false, X.Shape...)
	norms := t.newTensor(false, rows)
	for r := 0; r < rows; r++ {
		xr := X.Data[r*cols : (r+1)*cols]
		var s float64
		for _, v := range xr {
			s += float64(v) * float64(v)
		}
		nrm := float32(math.Sqrt(s))
		norms.Data[r] = nrm
		inv := 1 / max(nrm, eps)
		yr := out.Data[r*cols : (r+1)*cols]
		for j, v := range xr {
			yr[j] = v * inv
		}
	}
	y := t.newValue(out, t.needs(x))
	if y.requiresGrad {
		t.record(node{op: opL2Normalize, out: y, a: x, s1: norms, f: eps})
	}
	return y
}

func (t *Tape) backL2Normalize(n *node) {
	Y, dY, dX := n.out.Data, n.out.Grad, t.gradOf(n.a)
	cols, rows := Y.Cols(), Y.Rows()
	for r := 0; r < rows; r++ {
		yr, gr, dr := Y.Data[r*cols:(r+1)*cols], dY.Data[r*cols:(r+1)*cols], dX.Data[r*cols:(r+1)*cols]
		nrm := n.s1.Data[r]
		if nrm <= n.f {
			inv := 1 / n.f
			for j, g := range gr {
				dr[j] += g * inv
			}
			continue
		}
		dot := tensor.Dot(yr, gr)
		inv := 1 / nrm
		for j, g := range gr {
			dr[j] += (g - yr[j]*dot) * inv
		}
	}
}

// RowDot returns the sum over the last axis of a ⊙ b (a and b of the same
// shape [..., d] -> [...]): the scores of hidden states against gathered item
// rows.
func (t *Tape) RowDot(a, b *Value) *Value {
	A, B := a.Data, b.Data
	if !tensor.SameShape(A.Shape, B.Shape) || A.Dims() == 0 {
		shapePanic("RowDot %v and %v", A.Shape, B.Shape)
	}
	cols, rows := A.Cols(), A.Rows()
	out := t.newTensor(false, A.Shape[:A.Dims()-1]...)
	for r := 0; r < rows; r++ {
		out.Data[r] = tensor.Dot(A.Data[r*cols:(r+1)*cols], B.Data[r*cols:(r+1)*cols])
	}
	y := t.newValue(out, t.needs(a, b))
	if y.requiresGrad {
		t.record(node{op: opRowDot, out: y, a: a, b: b})
	}
	return y
}

// PairwiseSqDist returns D[i,j] = ‖x_i − y_j‖² for x [N,d] and y [M,d], as
// [N,M] (for MMD kernels). It is computed from the differences, so it is
// never negative.
func (t *Tape) PairwiseSqDist(x, y *Value) *Value {
	X, Y := x.Data, y.Data
	if X.Dims() != 2 || Y.Dims() != 2 || X.Shape[1] != Y.Shape[1] {
		shapePanic("PairwiseSqDist %v and %v", X.Shape, Y.Shape)
	}
	N, M, d := X.Shape[0], Y.Shape[0], X.Shape[1]
	out := t.newTensor(false, N, M)
	for i := 0; i < N; i++ {
		xi := X.Data[i*d : (i+1)*d]
		for j := 0; j < M; j++ {
			yj := Y.Data[j*d : (j+1)*d]
			var s float32
			for k, v := range xi {
				e := v - yj[k]
				s += e * e
			}
			out.Data[i*M+j] = s
		}
	}
	v := t.newValue(out, t.needs(x, y))
	if v.requiresGrad {
		t.record(node{op: opPairwiseSqDist, out: v, a: x, b: y})
	}
	return v
}

// ---------------------------------------------------------------- losses

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
