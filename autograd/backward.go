package autograd

import (
	"math"

	"github.com/llmrec/llmrec/tensor"
)

// backward accumulates the gradients of n's inputs from n.out.Grad.
func (t *Tape) backward(n *node) error {
	switch n.op {
	case opFunc:
		return t.backFunc(n)
	case opMatMul:
		t.backMatMul(n)
	case opLinear:
		t.backLinear(n)
	case opAdd, opSub, opMul:
		t.backBinary(n)
	case opLayerNorm:
		t.backLayerNorm(n)
	case opL2Normalize:
		t.backL2Normalize(n)
	case opConcat:
		t.backConcat(n)
	default:
		t.backSimple(n)
	}
	return nil
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

// backSimple handles the ops with a single differentiable tensor input a
// (and, for a few, a second one b).
func (t *Tape) backSimple(n *node) {
	g := n.out.Grad.Data
	X := n.a.Data
	dA := t.gradOf(n.a)
	var dx []float32
	if dA != nil {
		dx = dA.Data
	}
	switch n.op {
	case opScale:
		tensor.Axpy(n.f, g, dx)
	case opAddScalar, opReshape:
		tensor.Axpy(1, g, dx)
	case opMulScalar:
		c := n.b.Data.Data[0]
		if dx != nil {
			tensor.Axpy(c, g, dx)
		}
		if dS := t.gradOf(n.b); dS != nil {
			var s float64
			for i, v := range g {
				s += float64(v) * float64(X.Data[i])
			}
			dS.Data[0] += float32(s)
		}
	case opSum, opMean:
		s := g[0]
		if n.op == opMean && len(dx) > 0 {
			s /= float32(len(dx))
		}
		for i := range dx {
			dx[i] += s
		}
	case opSumRows, opMeanRows:
		cols, rows := X.Cols(), X.Rows()
		s := float32(1)
		if n.op == opMeanRows && rows > 0 {
			s = 1 / float32(rows)
		}
		for r := 0; r < rows; r++ {
			tensor.Axpy(s, g, dx[r*cols:(r+1)*cols])
		}
	case opSumLast:
		cols, rows := X.Cols(), X.Rows()
		for r := 0; r < rows; r++ {
			v := g[r]
			row := dx[r*cols : (r+1)*cols]
			for j := range row {
				row[j] += v
			}
		}
	case opPermute:
		permuteData(g, dx, X.Shape, n.ints, true)
	case opSlice:
		outer, nAx, inner := axisSplit(X.Shape, n.i0)
		w := n.out.Data.Shape[n.i0] * inner
		for o := 0; o < outer; o++ {
			tensor.Axpy(1, g[o*w:(o+1)*w], dx[(o*nAx+n.i1)*inner:(o*nAx+n.i1)*inner+w])
		}
	case opGather:
		d := X.Cols()
		for i, r := range n.ints {
			if r == n.i0 {
				continue
			}
			tensor.Axpy(1, g[i*d:(i+1)*d], dx[r*d:(r+1)*d])
		}
	case opSoftmax:
		Y := n.out.Data
		cols := Y.Cols()
		for off := 0; off < len(g); off += cols {
			yr, gr, dr := Y.Data[off:off+cols], g[off:off+cols], dx[off:off+cols]
			s := tensor.Dot(yr, gr)
			for j, y := range yr {
				dr[j] += y * (gr[j] - s)
			}
		}
	case opLogSoftmax:
		Y := n.out.Data
		cols := Y.Cols()
		for off := 0; off < len(g); off += cols {
			lr, gr, dr := Y.Data[off:off+cols], g[off:off+cols], dx[off:off+cols]
			var s float32
			for j, v := range lr {
				if !math.IsInf(float64(v), -1) {
					s += gr[j]
				}
			}
			for j, v := range lr {
				if !math.IsInf(float64(v), -1) {
					dr[j] += gr[j] - float32(math.Exp(float64(v)))*s
				}
			}
		}
	case opReLU:
		for i, v := range X.Data {
			if v > 0 {
				dx[i] += g[i]
			}
		}
	case opGELU:
		const c = 0.7978845608028654
		for i, v := range X.Data {
			u := float64(v)
			th := math.Tanh(c * (u + 0.044715*u*u*u))
			d := 0.5*(1+th) + 0.5*u*(1-th*th)*c*(1+3*0.044715*u*u)
			dx[i] += g[i] * float32(d)
		}
	case opSigmoid:
		for i, y := range n.out.Data.Data {
			dx[i] += g[i] * y * (1 - y)
		}
	case opTanh:
		for i, y := range n.out.Data.Data {
			dx[i] += g[i] * (1 - y*y)
		}
	case opExp:
		for i, y := range n.out.Data.Data {
			dx[i] += g[i] * y
		}
	case opLog:
		for i, v := range X.Data {
			dx[i] += g[i] / v
		}
	case opSquare:
		for i, v := range X.Data {
			dx[i] += 2 * g[i] * v
		}
	case opSqrt:
		for i, y := range n.out.Data.Data {
			dx[i] += g[i] * 0.5 / y
		}
	case opDropout:
		for i, m := range n.s1.Data {
			dx[i] += g[i] * m
		}
	case opRowDot:
		A, B := n.a.Data, n.b.Data
		cols, rows := A.Cols(), A.Rows()
		dB := t.gradOf(n.b)
		for r := 0; r < rows; r++ {
			if dx != nil {
				tensor.Axpy(g[r], B.Data[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols])
			}
			if dB != nil {
				tensor.Axpy(g[r], A.Data[r*cols:(r+1)*cols], dB.Data[r*cols:(r+1)*cols])
			}
		}
	case opPairwiseSqDist:
		Yv := n.b.Data
		N, M, d := X.Shape[0], Yv.Shape[0], X.Shape[1]
		dB := t.gradOf(n.b)
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
						dB.Data[j*d+k] -= e
					}
				}
			}
		}
	case opBCE:
		if n.f == 0 {
			return
		}
		Y := n.b.Data
		dT := t.gradOf(n.b)
		s := g[0] / n.f
		for i, z := range X.Data {
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
				dT.Data[i] -= w * z
			}
		}
	case opCrossEntropy:
		if n.f == 0 {
			return
		}
		C := X.Cols()
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
	case opMSE:
		B := n.b.Data
		dB := t.gradOf(n.b)
		s := 2 * g[0] / float32(max(len(X.Data), 1))
		for i, v := range X.Data {
			e := s * (v - B.Data[i])
			if dx != nil {
				dx[i] += e
			}
			if dB != nil {
				dB.Data[i] -= e
			}
		}
	default:
		panic("autograd: backward for unknown op")
	}
}
