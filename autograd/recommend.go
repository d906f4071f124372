package autograd

import (
	"math"

	"github.com/llmrec/llmrec/tensor"
)

var (
	opL2Normalize    = &opDef{name: "L2NormalizeRows", back: (*Tape).backL2Normalize}
	opRowDot         = &opDef{name: "RowDot", back: backRowDot}
	opPairwiseSqDist = &opDef{name: "PairwiseSqDist", back: backPairwiseSqDist}
)

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

func backRowDot(t *Tape, n *node) {
	g := n.out.Grad.Data
	A, B := n.a.Data, n.b.Data
	dA, dB := t.gradData(n.a), t.gradData(n.b)
	cols, rows := A.Cols(), A.Rows()
	for r := 0; r < rows; r++ {
		if dA != nil {
			tensor.Axpy(g[r], B.Data[r*cols:(r+1)*cols], dA[r*cols:(r+1)*cols])
		}
		if dB != nil {
			tensor.Axpy(g[r], A.Data[r*cols:(r+1)*cols], dB[r*cols:(r+1)*cols])
		}
	}
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

func backPairwiseSqDist(t *Tape, n *node) {
	g := n.out.Grad.Data
	X, Yv := n.a.Data, n.b.Data
	dx, dB := t.gradData(n.a), t.gradData(n.b)
	N, M, d := X.Shape[0], Yv.Shape[0], X.Shape[1]
	for i := 0; i < N; i++ {
		xi := X.Data[i*d : (i+1)*d]
		for j := 0; j < M; j++ {
			c := 2 * g[i*M+j]
			if c == 0 {
				continue
			}
			yj := Yv.Data[j*d : (j+1)*d]
			for k := range xi {
				e := c * (xi[k] - yj[k])
				if dx != nil {
					dx[i*d+k] += e
				}
				if dB != nil {
					dB[j*d+k] -= e
				}
			}
		}
	}
}
