package autograd

import (
	"github.com/llmrec/llmrec/tensor"
)

var (
	opReshape = &opDef{name: "Reshape", back: backIdentity}
	opPermute = &opDef{name: "Permute", back: backPermute}
	opConcat  = &opDef{name: "Concat", back: (*Tape).backConcat}
	opSlice   = &opDef{name: "Slice", back: backSlice}
	opGather  = &opDef{name: "Gather", back: backGather}
)

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

func backPermute(t *Tape, n *node) {
	permuteData(n.out.Grad.Data, t.gradData(n.a), n.a.Data.Shape, n.ints, true)
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

func (t *Tape) backConcat(n *node) {
	dY := n.out.Grad.Data
	axis := n.i0
	outer, total, inner := axisSplit(n.out.Data.Shape, axis)
	pos := 0
	for _, x := range n.vrefs {
		w := x.Data.Shape[axis] * inner
		if dX := t.gradOf(x); dX != nil {
			for o := 0; o < outer; o++ {
				src := dY[o*total*inner+pos : o*total*inner+pos+w]
				dst := dX.Data[o*w : (o+1)*w]
				for j, v := range src {
					dst[j] += v
				}
			}
		}
		pos += w
	}
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

func backSlice(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	outer, nAx, inner := axisSplit(n.a.Data.Shape, n.i0)
	w := n.out.Data.Shape[n.i0] * inner
	for o := 0; o < outer; o++ {
		tensor.Axpy(1, g[o*w:(o+1)*w], dx[(o*nAx+n.i1)*inner:(o*nAx+n.i1)*inner+w])
	}
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

func backGather(t *Tape, n *node) {
	g, dx := n.out.Grad.Data, t.gradData(n.a)
	d := n.a.Data.Cols()
	for i, r := range n.ints {
		if r == n.i0 {
			continue
		}
		tensor.Axpy(1, g[i*d:(i+1)*d], dx[r*d:(r+1)*d])
	}
}
