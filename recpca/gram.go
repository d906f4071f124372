package recpca

import (
	"gonum.org/v1/gonum/blas/blas64"
	"runtime"
	"sync"

	"github.com/llmrec/llmrec/tensor"
)

// gramChunk is the number of rows of X̄ whose D x D product one float32 GEMM
// forms before it is added to the float64 Gram matrix: every float32 sum runs
// over at most gramChunk products, so the rounding error does not grow with
// n. Smaller chunks are more accurate (the float32 accumulation dominates the
// error, not the rounding of the inputs) and slower (more float64 additions
// of D x D chunk products, shorter GEMMs).
const gramChunk = 64

// gramPanel is the row-panel height of gramAcc's block-upper products.
const gramPanel = 64

// gramAcc accumulates float32 chunk products into the upper triangle of a
// float64 D x D matrix. Only the products that the upper triangle needs are
// formed (row panels i0..i0+gramPanel against columns i0..D): the totals it
// accumulates are symmetric (X̄ᵀX̄, X̄ᵀLX̄), so the lower triangle is their
// mirror, and this halves the work.
type gramAcc struct {
	D    int
	a, b []float32 // chunk operands, c x D
	prod []float32 // D x D chunk product (upper panels)
	sum  []float64 // D x D total (upper triangle)
	// both accumulates both triangles (for X̄ᵀP, whose chunks are not
	// symmetric): the total is then symmetrized by averaging, which halves
	// the variance of its rounding error; on Beauty at λ = 0.9 the exact
	// subspace is 2e-6 rad from float64 this way, 8e-6 with the upper
	// triangle alone.
	both bool
}

func newGramAcc(D int) *gramAcc {
	return &gramAcc{
		D:    D,
		a:    make([]float32, gramChunk*D),
		b:    make([]float32, gramChunk*D),
		prod: make([]float32, D*D),
		sum:  make([]float64, D*D),
	}
}

// add adds aᵀb for the c x D float64 row blocks a and b (c ≤ gramChunk).
func (g *gramAcc) add(a, b []float64, c int) {
	for i, v := range a[:c*g.D] {
		g.a[i] = float32(v)
	}
	for i, v := range b[:c*g.D] {
		g.b[i] = float32(v)
	}
	g.add32(g.a, g.b, c)
}

// add32 adds aᵀb for the c x D float32 row blocks a and b (c ≤ gramChunk)
// to the upper triangle, or to the whole matrix when g.both is set.
func (g *gramAcc) add32(a, b []float32, c int) {
	D := g.D
	if g.both {
		tensor.Gemm(true, false, D, D, c, 1, a, D, b, D, 0, g.prod, D)
		for i, v := range g.prod {
			g.sum[i] += float64(v)
		}
		return
	}
	for i0 := 0; i0 < D; i0 += gramPanel {
		i1 := min(i0+gramPanel, D)
		tensor.Gemm(true, false, i1-i0, D-i0, c, 1, a[i0:], D, b[i0:], D, 0, g.prod[i0*D+i0:], D)
	}
	for i := range D {
		row := g.sum[i*D+i : (i+1)*D]
		for j, v := range g.prod[i*D+i : (i+1)*D] {
			row[j] += float64(v)
		}
	}
}

// gramParallel (both: see gramAcc) runs the chunks [lo, hi) of gramChunk rows of 0..n−1 on up
// to GOMAXPROCS workers: newWorker returns, once per worker, a function that
// adds one chunk's product to that worker's accumulator. Chunks are dealt
// round-robin, so the result is deterministic for a given GOMAXPROCS. It
// returns the total, full and symmetric.
func gramParallel(D, n int, both bool, newWorker func(acc *gramAcc) func(lo, hi int)) []float64 {
	chunks := (n + gramChunk - 1) / gramChunk
	procs := max(1, min(runtime.GOMAXPROCS(0), chunks, 8))
	accs := make([]*gramAcc, procs)
	var wg sync.WaitGroup
	for w := range procs {
		accs[w] = newGramAcc(D)
		accs[w].both = both
		wg.Go(func() {
			add := newWorker(accs[w])
			for c := w; c < chunks; c += procs {
				lo := c * gramChunk
				add(lo, min(lo+gramChunk, n))
			}
		})
	}
	wg.Wait()
	sum := accs[0].sum
	if both {
		for _, a := range accs[1:] {
			for i, v := range a.sum {
				sum[i] += v
			}
		}
		for i := range D {
			for j := i + 1; j < D; j++ {
				v := (sum[i*D+j] + sum[j*D+i]) / 2
				sum[i*D+j], sum[j*D+i] = v, v
			}
		}
		return sum
	}
	for _, a := range accs[1:] {
		for i := range D {
			row := sum[i*D+i : (i+1)*D]
			for j, v := range a.sum[i*D+i : (i+1)*D] {
				row[j] += v
			}
		}
	}
	mirrorUpper(sum, D)
	return sum
}

// gram32 returns C = X̄ᵀX̄ (full, symmetric) from float32 GEMMs over chunks
// of gramChunk rows, each chunk's product summed in float64.
func (m *design) gram32() []float64 {
	D := m.d
	return gramParallel(D, m.n, false, func(acc *gramAcc) func(lo, hi int) {
		var buf []float64
		if m.full == nil {
			buf = make([]float64, gramChunk*D)
		}
		return func(lo, hi int) {
			rows := buf
			if m.full != nil {
				rows = m.full[lo*D : hi*D]
			} else {
				m.fill(lo, hi, rows)
			}
			acc.add(rows, rows, hi-lo)
		}
	})
}

// gramM32 returns M = X̄ᵀP/trC with P = X̄ − λ·(trC/trG)·L·X̄ (full,
// symmetrized) for the current graph. The cancellation between the two terms
// of M happens row by row in float64 while P is formed (sparse, O(edges·D)),
// before anything is rounded to float32, and the float32 GEMM's rounding
// error is then relative to |X̄|ᵀ|P| instead of |X̄|ᵀ|X̄|/trC +
// λ·|X̄|ᵀ|LX̄|/trG: on Beauty at λ = 0.9, where M's d-th eigenvalue is 75
// times smaller than at λ = 0, this keeps the subspace within ~5e-6 rad of
// the float64 one, against 1e-4 for separate float32 Grams C and G.
func (p *problem) gramM32(lambda float64) []float64 {
	m := p.gramXP(1, -lambda*p.trC/p.trG)
	for i := range m {
		m[i] /= p.trC
	}
	return m
}

// gramL32 returns G = X̄ᵀLX̄ (full, symmetrized) as float32 GEMMs summed in
// float64 (a test reference for the Laplacian rows; Fit forms M directly with
// gramM32).
func (p *problem) gramL32() []float64 { return p.gramXP(0, 1) }

// gramXP returns X̄ᵀP (full, symmetrized) with P = a·X̄ + b·L·X̄ formed row by
// row in float64, then multiplied chunk by chunk with float32 GEMMs summed in
// float64.
func (p *problem) gramXP(a, b float64) []float64 {
	D := p.D
	return gramParallel(D, p.n, true, func(acc *gramAcc) func(lo, hi int) {
		xb := make([]float64, gramChunk*D)
		pr := make([]float64, gramChunk*D)
		tmp := make([]float64, D)
		row := func(i int) []float64 {
			if p.m.full != nil {
				return p.m.full[i*D : (i+1)*D]
			}
			p.m.row(i, tmp)
			return tmp
		}
		return func(lo, hi int) {
			c := hi - lo
			if p.m.full != nil {
				copy(xb, p.m.full[lo*D:hi*D])
			} else {
				p.m.fill(lo, hi, xb)
			}
			for i := lo; i < hi; i++ {
				xi := xb[(i-lo)*D : (i-lo+1)*D]
				out := acc.b[(i-lo)*D : (i-lo+1)*D]
				if p.lx != nil {
					for k, v := range xi {
						out[k] = float32(a*v + b*p.lx[i*D+k])
					}
					continue
				}
				p.lapRow(pr[:D], i, xi, row)
				for k, v := range xi {
					out[k] = float32(a*v + b*pr[k])
				}
			}
			for k, v := range xb[:c*D] {
				acc.a[k] = float32(v)
			}
			acc.add32(acc.a, acc.b, c)
		}
	})
}

// lapRows returns L·X̄ (n x D, float64, from the materialized X̄) and
// tr(X̄ᵀLX̄) = Σ_i x̄_i·(LX̄)_i, in parallel over rows (partial sums added in
// a fixed order).
func (p *problem) lapRows() ([]float64, float64) {
	n, D := p.n, p.D
	full := p.m.full
	lx := make([]float64, n*D)
	procs := max(1, min(runtime.GOMAXPROCS(0), n/1024))
	parts := make([]float64, procs)
	var wg sync.WaitGroup
	for w := range procs {
		lo, hi := w*n/procs, (w+1)*n/procs
		wg.Go(func() {
			var tr float64
			for i := lo; i < hi; i++ {
				xi, out := full[i*D:(i+1)*D], lx[i*D:(i+1)*D]
				p.lapRow(out, i, xi, func(j int) []float64 { return full[j*D : (j+1)*D] })
				tr += dot(xi, out)
			}
			parts[w] = tr
		})
	}
	wg.Wait()
	var tr float64
	for _, v := range parts {
		tr += v
	}
	return lx, tr
}

// lapRow writes row i (0-based item) of L·X̄ into out, given xi = row i of X̄
// and row(j), which returns row j of X̄ (valid until the next call).
func (p *problem) lapRow(out []float64, i int, xi []float64, row func(int) []float64) {
	g := p.g
	node := i + 1
	r0, r1 := g.RowPtr[node], g.RowPtr[node+1]
	if r0 == r1 {
		clear(out)
		return
	}
	if p.kind == Combinatorial {
		dg := g.deg[node]
		for c, v := range xi {
			out[c] = dg * v
		}
	} else {
		copy(out, xi)
	}
	ov := blas64.Vector{N: len(out), Inc: 1, Data: out}
	for t := r0; t < r1; t++ {
		jn := int(g.Col[t])
		w := g.Val[t]
		if p.kind == SymNormalized {
			w *= g.invSqrt[node] * g.invSqrt[jn]
		}
		blas64.Axpy(-w, blas64.Vector{N: len(out), Inc: 1, Data: row(jn - 1)}, ov)
	}
}

// laplacianTrace returns tr(X̄ᵀLX̄) = Σ_{i<j} A_ij ||x̄_i s_i − x̄_j s_j||²
// (s = 1 for the combinatorial Laplacian, d^{-1/2} for the normalized one),
// as edgeQuad does, but reading the rows in place: from the materialized X̄,
// or else straight from the float32 input with the row scale r and the mean
// applied inside the sum, x̄_i s_i − x̄_j s_j = r_i s_i x_i − r_j s_j x_j −
// (s_i − s_j) μ, so that no row is converted or copied per edge.
func (m *design) laplacianTrace(g *Graph, kind LaplacianKind) float64 {
	if m.full != nil {
		D := m.d
		return edgeQuadRows(g, kind, func(i int) ([]float64, []float32) { return m.full[i*D : (i+1)*D], nil }, nil, nil)
	}
	D := m.d
	return edgeQuadRows(g, kind, func(i int) ([]float64, []float32) { return nil, m.x[(i+1)*D : (i+2)*D] }, m.scale, m.mean)
}

// edgeQuadRows is the parallel edge sum of laplacianTrace; row returns item
// i's row either as float64 (already centred and scaled) or as float32 raw
// input (then scale, may be nil, and mean, may be nil, apply).
func edgeQuadRows(g *Graph, kind LaplacianKind, row func(i int) ([]float64, []float32), scale, mean []float64) float64 {
	procs := max(1, min(runtime.GOMAXPROCS(0), 8))
	parts := make([]float64, procs)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			var s float64
			for i := 1 + p; i < g.N; i += procs {
				lo, hi := g.RowPtr[i], g.RowPtr[i+1]
				if lo == hi {
					continue
				}
				si := 1.0
				if kind == SymNormalized {
					si = g.invSqrt[i]
				}
				fi, xi := row(i - 1)
				ri := 1.0
				if scale != nil {
					ri = scale[i-1]
				}
				for t := lo; t < hi; t++ {
					j := int(g.Col[t])
					if j <= i {
						continue
					}
					sj := 1.0
					if kind == SymNormalized {
						sj = g.invSqrt[j]
					}
					fj, xj := row(j - 1)
					var q float64
					if fi != nil {
						for c, v := range fi {
							e := v*si - fj[c]*sj
							q += e * e
						}
					} else {
						rj := 1.0
						if scale != nil {
							rj = scale[j-1]
						}
						em := 0.0
						if mean != nil {
							em = si - sj
						}
						q = sqDiff32(xi, xj, ri*si, rj*sj, em, mean)
					}
					s += g.Val[t] * q
				}
			}
			parts[p] = s
		})
	}
	wg.Wait()
	var s float64
	for _, v := range parts {
		s += v
	}
	return s
}

// sqDiff32 returns ||a·x − b·y − em·μ||² for float32 rows x, y (μ may be nil
// when em is 0), in float64 with four partial sums: the single running sum
// made the edge loop of laplacianTrace latency-bound (a quarter of the
// non-GEMM time of a 50,000 x 4,096 fit).
func sqDiff32(x, y []float32, a, b, em float64, mu []float64) float64 {
	y = y[:len(x)]
	var q0, q1, q2, q3 float64
	c := 0
	if em == 0 {
		for ; c+4 <= len(x); c += 4 {
			e0 := a*float64(x[c]) - b*float64(y[c])
			e1 := a*float64(x[c+1]) - b*float64(y[c+1])
			e2 := a*float64(x[c+2]) - b*float64(y[c+2])
			e3 := a*float64(x[c+3]) - b*float64(y[c+3])
			q0 += e0 * e0
			q1 += e1 * e1
			q2 += e2 * e2
			q3 += e3 * e3
		}
		for ; c < len(x); c++ {
			e := a*float64(x[c]) - b*float64(y[c])
			q0 += e * e
		}
		return (q0 + q1) + (q2 + q3)
	}
	mu = mu[:len(x)]
	for ; c+4 <= len(x); c += 4 {
		e0 := a*float64(x[c]) - b*float64(y[c]) - em*mu[c]
		e1 := a*float64(x[c+1]) - b*float64(y[c+1]) - em*mu[c+1]
		e2 := a*float64(x[c+2]) - b*float64(y[c+2]) - em*mu[c+2]
		e3 := a*float64(x[c+3]) - b*float64(y[c+3]) - em*mu[c+3]
		q0 += e0 * e0
		q1 += e1 * e1
		q2 += e2 * e2
		q3 += e3 * e3
	}
	for ; c < len(x); c++ {
		e := a*float64(x[c]) - b*float64(y[c]) - em*mu[c]
		q0 += e * e
	}
	return (q0 + q1) + (q2 + q3)
}
