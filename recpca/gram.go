package recpca

import (
	"runtime"
	"sync"

	"github.com/llmrec/llmrec/tensor"
)

// gramRows is the number of rows of X̄ per chunk of the Gram pass: the
// chunk's rows and its L·X̄ rows (2 x 1 MB at D = 512) stay in cache for the
// chunk's GEMMs.
const gramRows = 256

// grams returns, from one pass over the rows of X̄, C = X̄ᵀX̄ (when wantC) and
// G = X̄ᵀLX̄ for the graph g and Laplacian p.kind (when g is not nil), both
// full and symmetric, in float64. Each chunk of gramRows rows is read once:
// its L·X̄ rows are formed on the fly (sparse, lapRow) and the chunk's
// products are added to the upper triangles by tensor.GemmUpper64, which
// packs the chunk once per product and skips the tiles below the diagonal
// (the totals are symmetric, so the lower triangle is their mirror and half
// the work is saved). Chunks are
// dealt round-robin to up to GOMAXPROCS workers with their own accumulators,
// added in a fixed order, so the result is deterministic for a given
// GOMAXPROCS.
//
// In float64 the cancellation in M = C/trC − λ·G/trG (Beauty at λ = 0.9: M's
// norm is 1/75 of C/trC's) costs nothing that matters: the rounding of C and
// G is ~1e-16 of their norms, far below M's eigengaps (3e-7 at the 64th
// eigenvalue there).
func (p *problem) grams(g *Graph, wantC bool) (c, gm []float64) {
	n, D := p.n, p.D
	chunks := (n + gramRows - 1) / gramRows
	procs := max(1, min(runtime.GOMAXPROCS(0), chunks, 8))
	type acc struct{ c, g []float64 }
	accs := make([]acc, procs)
	var wg sync.WaitGroup
	for w := range procs {
		wg.Go(func() {
			var a acc
			if wantC {
				a.c = make([]float64, D*D)
			}
			var xb, lb []float64
			if p.m.full == nil {
				xb = make([]float64, gramRows*D)
			}
			if g != nil {
				a.g = make([]float64, D*D)
				lb = make([]float64, gramRows*D)
			}
			for ch := w; ch < chunks; ch += procs {
				lo := ch * gramRows
				hi := min(lo+gramRows, n)
				r := hi - lo
				rows := p.m.rows(lo, hi, xb)
				if g != nil {
					for i := lo; i < hi; i++ {
						p.lapRow(g, lb[(i-lo)*D:(i-lo+1)*D], i, rows[(i-lo)*D:(i-lo+1)*D])
					}
				}
				if wantC {
					tensor.GemmUpper64(true, false, D, r, 1, rows, D, rows, D, 1, a.c, D)
				}
				if g != nil {
					tensor.GemmUpper64(true, false, D, r, 1, rows, D, lb, D, 1, a.g, D)
				}
			}
			accs[w] = a
		})
	}
	wg.Wait()
	total := func(get func(a acc) []float64) []float64 {
		sum := get(accs[0])
		if sum == nil {
			return nil
		}
		for _, a := range accs[1:] {
			for i := range D {
				row := sum[i*D+i : (i+1)*D]
				for j, v := range get(a)[i*D+i : (i+1)*D] {
					row[j] += v
				}
			}
		}
		mirrorUpper(sum, D)
		return sum
	}
	return total(func(a acc) []float64 { return a.c }), total(func(a acc) []float64 { return a.g })
}

// lapRow writes row i (0-based item) of L·X̄ for the graph g (Laplacian
// p.kind) into out, given xi = row i of X̄. The neighbours' rows are read
// from the float32 input, where x̄_j = r_j·x_j − μ (r_j the row scale), so
// that Σ_j w_ij·x̄_j = Σ_j (w_ij·r_j)·x_j − (Σ_j w_ij)·μ: one fused loop per
// four neighbours, summed in float64, and no row is converted or copied.
func (p *problem) lapRow(g *Graph, out []float64, i int, xi []float64) {
	node := i + 1
	r0, r1 := g.RowPtr[node], g.RowPtr[node+1]
	if r0 == r1 {
		clear(out)
		return
	}
	D := len(out)
	xi = xi[:D]
	si := 1.0
	if p.kind == Combinatorial {
		dg := g.deg[node]
		for c, v := range xi {
			out[c] = dg * v
		}
	} else {
		si = g.invSqrt[node]
		copy(out, xi)
	}
	x, sc := p.m.x, p.m.scale
	var wsum float64
	var w [4]float64
	var rows, pre [4][]float32
	k := 0
	for t := r0; t < r1; t++ {
		jn := int(g.Col[t])
		wt := g.Val[t]
		if p.kind != Combinatorial {
			wt *= si * g.invSqrt[jn]
		}
		wsum += wt
		if sc != nil {
			wt *= sc[jn-1]
		}
		w[k], rows[k] = wt, x[jn*D:jn*D+D]
		if k++; k == 4 {
			// The next four entries' rows (the next node's once this
			// row's run out) are prefetched while these are summed.
			for q := range pre {
				pre[q] = rows[q]
				if nt := t + 1 + q; nt < len(g.Col) {
					nj := int(g.Col[nt])
					pre[q] = x[nj*D : nj*D+D]
				}
			}
			subRows(out, &w, &rows, &pre, 4)
			k = 0
		}
	}
	for t := range k {
		w[0], rows[0] = w[t], rows[t]
		subRows(out, &w, &rows, nil, 1)
	}
	if mu := p.m.mean; mu != nil {
		mu = mu[:D]
		for c := range out {
			out[c] += wsum * mu[c]
		}
	}
}

// subRows sets out[c] −= Σ_t w[t]·x[t][c] over the first k (1 or 4) rows of
// x (float32, each at least len(out) long), summed in float64, with the
// vector kernel where there is one; with k = 4 the kernel prefetches the
// rows pre (each at least len(out) long) for the next call.
func subRows(out []float64, w *[4]float64, x, pre *[4][]float32, k int) {
	c0 := subRowsBlocks(out, w, x, pre, k)
	if c0 == len(out) {
		return
	}
	n := len(out)
	if k == 1 {
		w0, x0 := w[0], x[0][:n]
		for c := c0; c < n; c++ {
			out[c] -= w0 * float64(x0[c])
		}
		return
	}
	x0, x1, x2, x3 := x[0][:n], x[1][:n], x[2][:n], x[3][:n]
	for c := c0; c < n; c++ {
		out[c] -= ((w[0]*float64(x0[c]) + w[1]*float64(x1[c])) + w[2]*float64(x2[c])) + w[3]*float64(x3[c])
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
// when em is 0), in float64: by the AVX2+FMA kernel where there is one, else
// (and for the tail) with four partial sums, since a single running sum
// made the edge loop of laplacianTrace latency-bound.
func sqDiff32(x, y []float32, a, b, em float64, mu []float64) float64 {
	y = y[:len(x)]
	c, q0 := sqDiffBlocks(x, y, a, b, em, mu)
	var q1, q2, q3 float64
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
