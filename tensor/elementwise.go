package tensor

import (
	"fmt"
	"math"
)

// suffixBroadcast checks that b's shape is a suffix of a's (so b repeats over
// a's leading dimensions) and returns b's element count.
func suffixBroadcast(op string, a, b *Tensor) int {
	if b.Dims() > a.Dims() || !SameShape(a.Shape[a.Dims()-b.Dims():], b.Shape) {
		panic(fmt.Errorf("%w: %s cannot broadcast %v over %v", ErrShape, op, b.Shape, a.Shape))
	}
	return len(b.Data)
}

// Add computes dst = a + b, where b's shape is a suffix of a's and is repeated
// over a's leading dimensions (a bias over a batch, say). An empty dst sizes
// itself; dst may alias a. It returns dst.
func Add(dst, a, b *Tensor) *Tensor {
	nb := suffixBroadcast("Add", a, b)
	dst.Ensure(a.Shape...)
	for off := 0; off < len(a.Data); off += nb {
		d, x := dst.Data[off:off+nb], a.Data[off:off+nb]
		for j, y := range b.Data {
			d[j] = x[j] + y
		}
	}
	return dst
}

// Sub computes dst = a − b with the broadcasting rule of Add.
func Sub(dst, a, b *Tensor) *Tensor {
	nb := suffixBroadcast("Sub", a, b)
	dst.Ensure(a.Shape...)
	for off := 0; off < len(a.Data); off += nb {
		d, x := dst.Data[off:off+nb], a.Data[off:off+nb]
		for j, y := range b.Data {
			d[j] = x[j] - y
		}
	}
	return dst
}

// Mul computes the elementwise product dst = a ⊙ b with the broadcasting rule
// of Add.
func Mul(dst, a, b *Tensor) *Tensor {
	nb := suffixBroadcast("Mul", a, b)
	dst.Ensure(a.Shape...)
	for off := 0; off < len(a.Data); off += nb {
		d, x := dst.Data[off:off+nb], a.Data[off:off+nb]
		for j, y := range b.Data {
			d[j] = x[j] * y
		}
	}
	return dst
}

// Scale computes dst = s·a.
func Scale(dst, a *Tensor, s float32) *Tensor {
	dst.Ensure(a.Shape...)
	for i, v := range a.Data {
		dst.Data[i] = s * v
	}
	return dst
}

// Axpy computes y += alpha·x on slices of equal length.
func Axpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Errorf("%w: Axpy lengths %d and %d", ErrShape, len(x), len(y)))
	}
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 { // unrolled: the hand-written attention loops call it on short rows
		xx, yy := x[i:i+4:i+4], y[i:i+4:i+4]
		yy[0] += alpha * xx[0]
		yy[1] += alpha * xx[1]
		yy[2] += alpha * xx[2]
		yy[3] += alpha * xx[3]
	}
	for ; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}

// Dot returns the inner product of two slices of equal length, accumulated in
// float32 with four partial sums.
func Dot(x, y []float32) float32 {
	if len(x) != len(y) {
		panic(fmt.Errorf("%w: Dot lengths %d and %d", ErrShape, len(x), len(y)))
	}
	return dotGo(x, y)
}

// dotGo is the portable dot product of Dot and Dot64, in the element type,
// with four partial sums (one running sum is latency-bound). y must be at
// least as long as x.
func dotGo[T float](x, y []T) T {
	y = y[:len(x)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// ReLU computes dst = max(x, 0).
func ReLU(dst, x *Tensor) *Tensor {
	dst.Ensure(x.Shape...)
	for i, v := range x.Data {
		dst.Data[i] = max(v, 0)
	}
	return dst
}

// ReLUBackward computes dx = dy where x > 0, else 0. dx may alias dy. dy must
// have x's element count.
func ReLUBackward(dx, dy, x *Tensor) *Tensor {
	sameLen("ReLUBackward", dy, x)
	dx.Ensure(x.Shape...)
	for i, v := range x.Data {
		if v > 0 {
			dx.Data[i] = dy.Data[i]
		} else {
			dx.Data[i] = 0
		}
	}
	return dx
}

const sqrt2overPi = 0.7978845608028654

// GELU computes dst = gelu(x) with the tanh approximation
// 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch's approximate="tanh".
func GELU(dst, x *Tensor) *Tensor {
	dst.Ensure(x.Shape...)
	for i, v := range x.Data {
		u := float64(v)
		dst.Data[i] = float32(0.5 * u * (1 + math.Tanh(sqrt2overPi*(u+0.044715*u*u*u))))
	}
	return dst
}

// GELUBackward computes dx = dy · gelu'(x) for the tanh approximation. dx may
// alias dy. dy must have x's element count.
func GELUBackward(dx, dy, x *Tensor) *Tensor {
	sameLen("GELUBackward", dy, x)
	dx.Ensure(x.Shape...)
	for i, v := range x.Data {
		u := float64(v)
		t := math.Tanh(sqrt2overPi * (u + 0.044715*u*u*u))
		d := 0.5*(1+t) + 0.5*u*(1-t*t)*sqrt2overPi*(1+3*0.044715*u*u)
		dx.Data[i] = dy.Data[i] * float32(d)
	}
	return dx
}

// sameLen panics with ErrShape unless a and b have the same element count
// (a gradient and the tensor it belongs to, say).
func sameLen(op string, a, b *Tensor) {
	if len(a.Data) != len(b.Data) {
		panic(fmt.Errorf("%w: %s %v and %v", ErrShape, op, a.Shape, b.Shape))
	}
}
