package tensor

// LinearForward writes y = x·wᵀ + b for n rows: x is n×in, w is out×in
// (PyTorch's nn.Linear layout), b has out entries (nil for no bias) and y is
// n×out. It is the one kernel of a linear layer: the autograd op, nn.Linear
// and the hand-differentiated encoders all run it.
func LinearForward(n, in, out int, x, w, b, y []float32) {
	Gemm(false, true, n, out, in, 1, x, in, w, in, 0, y, out)
	if b == nil {
		return
	}
	for r := 0; r < n; r++ {
		row := y[r*out : (r+1)*out]
		for j, v := range b[:out] {
			row[j] += v
		}
	}
}

// LinearBackward is the gradient of LinearForward given dy (n×out): it adds
// dyᵀ·x into dw (out×in) and the column sums of dy into db, skipping either
// when nil, and writes dy·w into dx (n×in), or adds it when accumulate,
// skipping it when dx is nil.
func LinearBackward(n, in, out int, x, w, dy, dx, dw, db []float32, accumulate bool) {
	if dw != nil {
		Gemm(true, false, out, in, n, 1, dy, out, x, in, 1, dw, in)
	}
	if db != nil {
		for r := 0; r < n; r++ {
			for j, v := range dy[r*out : (r+1)*out] {
				db[j] += v
			}
		}
	}
	if dx == nil {
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	Gemm(false, false, n, in, out, 1, dy, out, w, in, beta, dx, in)
}

// Resize makes t a rows×cols matrix, reusing its memory when it is large
// enough (with 25% headroom when it grows, so a slowly growing batch does not
// reallocate every step). The contents are unspecified: callers overwrite
// them. It is for working buffers whose shape changes from call to call;
// Ensure is the checked destination convention.
func Resize(t *Tensor, rows, cols int) *Tensor {
	n := rows * cols
	if cap(t.Data) < n {
		t.Data = make([]float32, n, n+n/4)
	}
	t.Data = t.Data[:n]
	t.Shape = append(t.Shape[:0], rows, cols)
	return t
}
