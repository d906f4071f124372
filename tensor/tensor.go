package tensor

import (
	"errors"
	"fmt"
)

// ErrShape is the sentinel that kernels panic with (wrapped, with the shapes
// involved) when their operands do not fit. A shape mismatch inside a kernel is
// a programming error, as in gonum; data errors are returned, never panicked.
var ErrShape = errors.New("tensor: shape mismatch")

// Tensor is a dense, row-major float32 array with a shape.
//
// Data holds exactly Len() elements; the last dimension is contiguous. A
// Tensor is a plain value: it is not safe for concurrent mutation, but any
// number of goroutines may read one that nobody writes.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zeroed tensor of the given shape. A tensor with no dimensions
// is a scalar holding one element.
func New(shape ...int) *Tensor {
	n := numel(shape)
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromSlice wraps data (not copied) in a tensor of the given shape. It panics
// with ErrShape when len(data) does not match the shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	if len(data) != numel(shape) {
		panic(fmt.Errorf("%w: FromSlice: %d elements for shape %v", ErrShape, len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Errorf("%w: negative dimension in %v", ErrShape, append([]int(nil), shape...)))
		}
		n *= d
	}
	return n
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Dims returns the number of dimensions.
func (t *Tensor) Dims() int { return len(t.Shape) }

// Cols returns the size of the last dimension (1 for a scalar).
func (t *Tensor) Cols() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[len(t.Shape)-1]
}

// Rows returns the product of all dimensions but the last: the number of rows
// when the tensor is seen as a matrix of Cols() columns.
func (t *Tensor) Rows() int {
	c := t.Cols()
	if c == 0 {
		return 0
	}
	return len(t.Data) / c
}

// Row returns row i of the tensor seen as a Rows() x Cols() matrix, sharing
// memory with t.
func (t *Tensor) Row(i int) []float32 {
	c := t.Cols()
	return t.Data[i*c : (i+1)*c : (i+1)*c]
}

// Reshape returns a view of t with a new shape and the same data. It panics
// with ErrShape when the element counts differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if numel(shape) != len(t.Data) {
		panic(fmt.Errorf("%w: Reshape %v to %v", ErrShape, t.Shape, shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: t.Data}
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}

// CopyFrom copies src's elements into t; the shapes must have equal element
// counts.
func (t *Tensor) CopyFrom(src *Tensor) {
	if len(src.Data) != len(t.Data) {
		panic(fmt.Errorf("%w: CopyFrom %v into %v", ErrShape, src.Shape, t.Shape))
	}
	copy(t.Data, src.Data)
}

// Ensure makes t have the given shape. An empty tensor (no data) sizes itself,
// reusing its backing array when it is large enough; a non-empty tensor must
// already have that shape, otherwise Ensure panics with ErrShape. This is the
// gonum convention for destination receivers.
func (t *Tensor) Ensure(shape ...int) {
	n := numel(shape)
	if len(t.Data) == 0 {
		// An empty destination sizes itself, including to a shape with a
		// zero dimension (an empty batch), which has no data either.
		if cap(t.Data) >= n {
			t.Data = t.Data[:n]
			clear(t.Data)
		} else {
			t.Data = make([]float32, n)
		}
		t.Shape = append(t.Shape[:0], shape...)
		return
	}
	if !SameShape(t.Shape, shape) {
		// Copy shape so that it does not escape: callers pass stack arrays.
		panic(fmt.Errorf("%w: destination %v, want %v", ErrShape, t.Shape, append([]int(nil), shape...)))
	}
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String describes the tensor's shape (not its contents).
func (t *Tensor) String() string { return fmt.Sprintf("Tensor%v", t.Shape) }
