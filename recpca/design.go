package recpca

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/llmrec/llmrec/tensor"
)

// maxMaterialize is the number of float64 elements (n·D) up to which the
// centred design matrix is materialized; above it products are chunked over
// rows converted on the fly from the float32 input.
const maxMaterialize = 1 << 25

// design is the implicit centred (and optionally row-normalized) item matrix
// X̄ (n x D, items 1..n of the input; row 0 excluded) in float64.
type design struct {
	x     []float32 // input rows 0..n (row 0 padding), D columns
	n, d  int
	scale []float64 // per item row multiplier (row normalization), nil = 1
	mean  []float64 // D, nil = no centring
	full  []float64 // materialized X̄ (n x D) or nil
	tr    float64   // ||X̄||²_F when full is set (taken while materializing)
	chunk int
}

// materialize asks for X̄ as one n x D float64 matrix (when n·D ≤
// maxMaterialize), for the solvers that run many products over it; the exact
// solver reads X̄ twice (the Gram pass and the projections), chunk by chunk,
// and the 8·n·D bytes of a materialized copy would cost more in page faults
// than its conversions save.
func newDesign(x []float32, n, dim int, normalize bool, eps float64, center, materialize bool) *design {
	m := &design{x: x, n: n, d: dim}
	if normalize {
		m.scale = make([]float64, n)
		for i := range n {
			r := x[(i+1)*dim : (i+2)*dim]
			nr := math.Sqrt(sumSq32(r))
			if nr > 0 {
				m.scale[i] = 1 / math.Max(nr, eps)
			}
		}
	}
	if center {
		// Column sums by row ranges in parallel, added in a fixed order.
		parts := make([][]float64, runtime.GOMAXPROCS(0))
		parallelRowsIdx(n, func(p, lo, hi int) {
			sum := make([]float64, dim)
			for i := lo; i < hi; i++ {
				r := x[(i+1)*dim : (i+2)*dim]
				s := m.rowScale(i)
				for j, v := range r {
					sum[j] += float64(v) * s
				}
			}
			parts[p] = sum
		})
		mean := make([]float64, dim)
		for _, sum := range parts {
			for j, v := range sum {
				mean[j] += v
			}
		}
		for j := range mean {
			mean[j] /= float64(n)
		}
		m.mean = mean
	}
	m.chunk = max(64, (1<<20)/max(dim, 1))
	if materialize && n*dim <= maxMaterialize {
		// Materialize X̄ and take ||X̄||²_F on the way (partials per row
		// range, added in a fixed order).
		full := make([]float64, n*dim)
		parts := make([]float64, runtime.GOMAXPROCS(0))
		parallelRowsIdx(n, func(p, lo, hi int) {
			rows := full[lo*dim : hi*dim]
			m.fill(lo, hi, rows)
			var s float64
			for _, v := range rows {
				s += v * v
			}
			parts[p] = s
		})
		m.full = full
		for _, v := range parts {
			m.tr += v
		}
	}
	return m
}

func (m *design) rowScale(i int) float64 {
	if m.scale == nil {
		return 1
	}
	return m.scale[i]
}

// fill writes rows lo..hi−1 (item index, 0-based) of X̄ into buf.
func (m *design) fill(lo, hi int, buf []float64) {
	if m.full != nil && &buf[0] != &m.full[0] {
		copy(buf, m.full[lo*m.d:hi*m.d])
		return
	}
	for i := lo; i < hi; i++ {
		r := m.x[(i+1)*m.d : (i+2)*m.d]
		out := buf[(i-lo)*m.d : (i-lo+1)*m.d]
		widen(out, r, m.rowScale(i), m.mean)
	}
}

// widen sets out[j] = float64(x[j])·s − mu[j] (mu nil: no subtraction), by
// the AVX2 kernel where there is one (same rounding: a product, then a
// difference).
func widen(out []float64, x []float32, s float64, mu []float64) {
	c := widenBlocks(out, x, s, mu)
	x = x[:len(out)]
	if mu == nil {
		for j := c; j < len(out); j++ {
			out[j] = float64(x[j]) * s
		}
		return
	}
	mu = mu[:len(out)]
	for j := c; j < len(out); j++ {
		out[j] = float64(x[j])*s - mu[j]
	}
}

// rows returns rows lo..hi−1 of X̄: a view of the materialized matrix, or
// else buf (at least (hi−lo)·D long) filled.
func (m *design) rows(lo, hi int, buf []float64) []float64 {
	if m.full != nil {
		return m.full[lo*m.d : hi*m.d]
	}
	buf = buf[:(hi-lo)*m.d]
	m.fill(lo, hi, buf)
	return buf
}

// chunks calls f for each row block of X̄ (rows lo..hi−1, row-major).
func (m *design) chunks(f func(lo, hi int, a []float64)) {
	if m.full != nil {
		f(0, m.n, m.full)
		return
	}
	buf := make([]float64, m.chunk*m.d)
	for lo := 0; lo < m.n; lo += m.chunk {
		hi := min(lo+m.chunk, m.n)
		m.fill(lo, hi, buf)
		f(lo, hi, buf[:(hi-lo)*m.d])
	}
}

// mul computes U = X̄·V (V is D x k, U is n x k): one product over the
// materialized X̄, or else row chunks converted and multiplied in parallel.
func (m *design) mul(u, v []float64, k int) {
	if m.full != nil {
		tensor.Gemm64(false, false, m.n, k, m.d, 1, m.full, m.d, v, k, 0, u, k)
		return
	}
	m.mulEach(v, k, func(lo, hi int, uc []float64) { copy(u[lo*k:hi*k], uc) })
}

// mulEach computes X̄·V (V is D x k) over row chunks in parallel and passes
// each chunk's rows lo..hi−1 of the product ((hi−lo) x k, row-major, valid
// during the call) to f, which may run concurrently for disjoint chunks.
func (m *design) mulEach(v []float64, k int, f func(lo, hi int, uc []float64)) {
	parallelRows(m.n, func(lo, hi int) {
		rows := min(gramRows, hi-lo)
		buf := make([]float64, rows*m.d)
		uc := make([]float64, rows*k)
		for c0 := lo; c0 < hi; c0 += gramRows {
			c1 := min(c0+gramRows, hi)
			tensor.Gemm64(false, false, c1-c0, k, m.d, 1, m.rows(c0, c1, buf), m.d, v, k, 0, uc, k)
			f(c0, c1, uc[:(c1-c0)*k])
		}
	})
}

// mulT computes Y = X̄ᵀ·U (U is n x k, Y is D x k).
func (m *design) mulT(y, u []float64, k int) {
	clear(y)
	m.chunks(func(lo, hi int, a []float64) {
		tensor.Gemm64(true, false, m.d, k, hi-lo, 1, a, m.d, u[lo*k:hi*k], k, 1, y, k)
	})
}

// traceC returns ||X̄||_F².
func (m *design) traceC() float64 {
	if m.full != nil {
		return m.tr
	}
	// Row ranges in parallel (partials added in a fixed order), each
	// converted chunk by chunk.
	parts := make([]float64, runtime.GOMAXPROCS(0))
	parallelRowsIdx(m.n, func(p, lo, hi int) {
		buf := make([]float64, min(m.chunk, hi-lo)*m.d)
		var s0, s1 float64
		for c0 := lo; c0 < hi; c0 += m.chunk {
			c1 := min(c0+m.chunk, hi)
			rows := buf[:(c1-c0)*m.d]
			m.fill(c0, c1, rows)
			k := 0
			for ; k+2 <= len(rows); k += 2 {
				s0 += rows[k] * rows[k]
				s1 += rows[k+1] * rows[k+1]
			}
			for ; k < len(rows); k++ {
				s0 += rows[k] * rows[k]
			}
		}
		parts[p] = s0 + s1
	})
	var s float64
	for _, v := range parts {
		s += v
	}
	return s
}

// row writes row i (0-based item index) of X̄ into buf.
func (m *design) row(i int, buf []float64) {
	if m.full != nil {
		copy(buf, m.full[i*m.d:(i+1)*m.d])
		return
	}
	m.fill(i, i+1, buf)
}

// parallelRows calls f on contiguous row ranges covering 0..n−1, one per
// goroutine (up to GOMAXPROCS, at least 1024 rows each).
func parallelRows(n int, f func(lo, hi int)) {
	parallelRowsIdx(n, func(_, lo, hi int) { f(lo, hi) })
}

// parallelRowsIdx is parallelRows passing also the range's index p
// (0 ≤ p < GOMAXPROCS; ranges are in row order).
func parallelRowsIdx(n int, f func(p, lo, hi int)) {
	procs := max(1, min(runtime.GOMAXPROCS(0), n/1024))
	var wg sync.WaitGroup
	for p := range procs {
		lo, hi := p*n/procs, (p+1)*n/procs
		wg.Go(func() { f(p, lo, hi) })
	}
	wg.Wait()
}

func mirrorUpper(a []float64, n int) {
	for i := range n {
		for j := i + 1; j < n; j++ {
			a[j*n+i] = a[i*n+j]
		}
	}
}

// symmetrize replaces the n x n matrix a (row-major) by (a + aᵀ)/2, the
// symmetric matrix a projected eigenproblem needs after rounding made QᵀMQ
// slightly asymmetric.
func symmetrize(a []float64, n int) {
	for i := range n {
		for j := i + 1; j < n; j++ {
			s := (a[i*n+j] + a[j*n+i]) / 2
			a[i*n+j], a[j*n+i] = s, s
		}
	}
}

// symEig returns the eigenvalues (ascending) of the symmetric n x n matrix a
// and, in a, the eigenvectors as columns. ok is false when LAPACK did not
// converge.
func symEig(a []float64, n int) ([]float64, bool) {
	w := make([]float64, n)
	s := blas64.Symmetric{N: n, Stride: n, Data: a, Uplo: blas.Upper}
	work := []float64{0}
	lapack64.Syev(lapack.EVCompute, s, w, work, -1)
	work = make([]float64, int(work[0]))
	ok := lapack64.Syev(lapack.EVCompute, s, w, work, len(work))
	return w, ok
}

// orthonormalize replaces the columns of the D x k matrix a by an
// orthonormal basis of their span (thin QR).
func orthonormalize(a []float64, rows, k int) {
	g := blas64.General{Rows: rows, Cols: k, Stride: k, Data: a}
	tau := make([]float64, k)
	work := []float64{0}
	lapack64.Geqrf(g, tau, work, -1)
	lw := int(work[0])
	lapack64.Orgqr(g, tau, work, -1)
	lw = max(lw, int(work[0]), 1)
	work = make([]float64, lw)
	lapack64.Geqrf(g, tau, work, lw)
	lapack64.Orgqr(g, tau, work, lw)
}

// symEigValues returns the eigenvalues (ascending) of the symmetric n x n
// matrix a (destroyed).
func symEigValues(a []float64, n int) ([]float64, bool) {
	w := make([]float64, n)
	s := blas64.Symmetric{N: n, Stride: n, Data: a, Uplo: blas.Upper}
	work := []float64{0}
	lapack64.Syev(lapack.EVNone, s, w, work, -1)
	work = make([]float64, max(int(work[0]), 1))
	ok := lapack64.Syev(lapack.EVNone, s, w, work, len(work))
	return w, ok
}

// edgeL1 returns Σ_{i<j} A_ij ||u_i − u_j|| over the rows given by get.
func edgeL1(g *Graph, cols int, get func(i int, buf []float64)) float64 {
	bi := make([]float64, cols)
	bj := make([]float64, cols)
	var s float64
	for i := 1; i < g.N; i++ {
		lo, hi := g.RowPtr[i], g.RowPtr[i+1]
		if lo == hi {
			continue
		}
		get(i-1, bi)
		for t := lo; t < hi; t++ {
			j := int(g.Col[t])
			if j <= i {
				continue
			}
			get(j-1, bj)
			var q float64
			for c := range bi {
				e := bi[c] - bj[c]
				q += e * e
			}
			s += g.Val[t] * math.Sqrt(q)
		}
	}
	return s
}
