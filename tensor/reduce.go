package tensor

import "fmt"

// Sum returns the sum of all elements, accumulated in float64.
func Sum(t *Tensor) float64 {
	var s float64
	for _, v := range t.Data {
		s += float64(v)
	}
	return s
}

// SumAxis sums src along axis into dst, whose shape is src's without that
// axis. An empty dst sizes itself. It returns dst.
func SumAxis(dst, src *Tensor, axis int) *Tensor {
	if axis < 0 || axis >= src.Dims() {
		panic(fmt.Errorf("%w: SumAxis axis %d of %v", ErrShape, axis, src.Shape))
	}
	outer := numel(src.Shape[:axis])
	n := src.Shape[axis]
	inner := numel(src.Shape[axis+1:])
	out := append(append([]int{}, src.Shape[:axis]...), src.Shape[axis+1:]...)
	dst.Ensure(out...)
	clear(dst.Data)
	for o := 0; o < outer; o++ {
		d := dst.Data[o*inner : (o+1)*inner]
		for k := 0; k < n; k++ {
			s := src.Data[(o*n+k)*inner : (o*n+k+1)*inner]
			for j, v := range s {
				d[j] += v
			}
		}
	}
	return dst
}

// MeanAxis averages src along axis into dst (see SumAxis).
func MeanAxis(dst, src *Tensor, axis int) *Tensor {
	SumAxis(dst, src, axis)
	if n := src.Shape[axis]; n > 0 {
		inv := 1 / float32(n)
		for i := range dst.Data {
			dst.Data[i] *= inv
		}
	}
	return dst
}
