package recpca

import (
	"github.com/llmrec/llmrec/tensor"
)

// maxMaterialize32 is the number of float32 elements (n·D) up to which the
// centred design matrix is kept as a float32 copy for the float32 operator.
// Above it the products run on the raw input rows and the centring and row
// scaling are applied algebraically (X̄V = S·X·V − 1·μᵀV), which costs no
// extra memory and no conversion pass but loses up to a factor
// (||μ||/spread)² of float32 accuracy to cancellation.
const maxMaterialize32 = 1 << 26

// chunk32 is the number of rows per float32 product whose result is added in
// float64: it bounds the float32 accumulation length of X̄ᵀU.
const chunk32 = 2048

// op32 is the float32 view of the design used by SolverRandomized32.
type op32 struct {
	m    *design
	x    []float32 // n x D rows: centred copy (centred true) or raw rows 1..n
	cent bool
	mean []float64 // μ for the algebraic path (nil: no centring)

	v32, u32, y32 []float32
}

func newOp32(m *design) *op32 {
	o := &op32{m: m}
	n, D := m.n, m.d
	if n*D <= maxMaterialize32 {
		o.x = make([]float32, n*D)
		buf := make([]float64, D)
		for i := range n {
			m.row(i, buf)
			out := o.x[i*D : (i+1)*D]
			for j, v := range buf {
				out[j] = float32(v)
			}
		}
		o.cent = true
		return o
	}
	o.x = m.x[D : (n+1)*D]
	o.mean = m.mean
	return o
}

func grow32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// mul computes U = X̄·V (V is D x k float64, U is n x k float64) with a
// float32 GEMM.
func (o *op32) mul(u, v []float64, k int) {
	n, D := o.m.n, o.m.d
	o.v32 = grow32(o.v32, D*k)
	for i, x := range v {
		o.v32[i] = float32(x)
	}
	o.u32 = grow32(o.u32, n*k)
	tensor.Gemm(false, false, n, k, D, 1, o.x, D, o.v32, k, 0, o.u32, k)
	if o.cent {
		for i, x := range o.u32 {
			u[i] = float64(x)
		}
		return
	}
	// Algebraic centring: u_i = s_i·(x_i·V) − μᵀV.
	var mv []float64
	if o.mean != nil {
		mv = make([]float64, k)
		for j := range D {
			mu := o.mean[j]
			row := v[j*k : (j+1)*k]
			for c, x := range row {
				mv[c] += mu * x
			}
		}
	}
	for i := range n {
		s := o.m.rowScale(i)
		ur := u[i*k : (i+1)*k]
		for c, x := range o.u32[i*k : (i+1)*k] {
			ur[c] = float64(x) * s
			if mv != nil {
				ur[c] -= mv[c]
			}
		}
	}
}

// mulT computes Y = X̄ᵀ·U (U is n x k, Y is D x k) as Yᵀ = Uᵀ·X̄ with Uᵀ
// stored transposed, so that no operand of the float32 GEMMs needs a
// transposed packing; the GEMMs run over row chunks of chunk32 rows and their
// results are summed in float64.
func (o *op32) mulT(y, u []float64, k int) {
	n, D := o.m.n, o.m.d
	o.u32 = grow32(o.u32, n*k) // Uᵀ, k x n
	var colSum []float64
	if !o.cent && o.mean != nil {
		colSum = make([]float64, k)
	}
	for i := range n {
		s := 1.0
		if !o.cent {
			s = o.m.rowScale(i)
		}
		ur := u[i*k : (i+1)*k]
		for c, x := range ur {
			o.u32[c*n+i] = float32(x * s)
			if colSum != nil {
				colSum[c] += x
			}
		}
	}
	o.y32 = grow32(o.y32, k*D) // Yᵀ chunk, k x D
	yt := make([]float64, k*D)
	for lo := 0; lo < n; lo += chunk32 {
		hi := min(lo+chunk32, n)
		tensor.Gemm(false, false, k, D, hi-lo, 1, o.u32[lo:], n, o.x[lo*D:hi*D], D, 0, o.y32, D)
		for i, x := range o.y32 {
			yt[i] += float64(x)
		}
	}
	for j := range D {
		row := y[j*k : (j+1)*k]
		for c := range k {
			row[c] = yt[c*D+j]
		}
		if colSum != nil {
			mu := o.mean[j]
			for c, s := range colSum {
				row[c] -= mu * s
			}
		}
	}
}
