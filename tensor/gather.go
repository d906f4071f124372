package tensor

import "fmt"

// Gather copies rows of table (seen as Rows() x Cols()) into dst: row i of
// dst is row idx[i] of table. dst has shape [len(idx), table.Cols()] unless it
// is already sized with that many elements (e.g. [B, T, d]). Indices out of
// range panic with ErrShape; validate ids from data before they reach here.
func Gather(dst, table *Tensor, idx []int) *Tensor {
	d, rows := table.Cols(), table.Rows()
	if len(dst.Data) == 0 {
		dst.Ensure(len(idx), d)
	} else if len(dst.Data) != len(idx)*d {
		panic(fmt.Errorf("%w: Gather %d rows of %d into %v", ErrShape, len(idx), d, dst.Shape))
	}
	for i, r := range idx {
		if r < 0 || r >= rows {
			panic(fmt.Errorf("%w: Gather index %d out of [0,%d)", ErrShape, r, rows))
		}
		copy(dst.Data[i*d:(i+1)*d], table.Data[r*d:(r+1)*d])
	}
	return dst
}

// ScatterAdd adds row i of src into row idx[i] of dst: the gradient of Gather.
// Repeated indices accumulate.
func ScatterAdd(dst, src *Tensor, idx []int) {
	d, rows := dst.Cols(), dst.Rows()
	if len(src.Data) != len(idx)*d {
		panic(fmt.Errorf("%w: ScatterAdd %v with %d indices into %v", ErrShape, src.Shape, len(idx), dst.Shape))
	}
	for i, r := range idx {
		if r < 0 || r >= rows {
			panic(fmt.Errorf("%w: ScatterAdd index %d out of [0,%d)", ErrShape, r, rows))
		}
		Axpy(1, src.Data[i*d:(i+1)*d], dst.Data[r*d:(r+1)*d])
	}
}
