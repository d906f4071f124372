package recpca

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// NeighborSum is one item's weighted sum over its graph neighbours, the
// input of Accumulator.AddNeighbors: the per-item form of the graph term.
// Build it with NewNeighborSum and Add (once per neighbour j of the item,
// with j's row, the weight A_ij and j's degree); Sum, Coef and Weight are all
// AddNeighbors reads, so a distributed job can compute it where the
// neighbour rows are and ship D+2 numbers instead of one row per edge.
//
// With t_j the row scale of x_j (1, or 1/||x_j|| with NormalizeInput) and
// c_j = d_j^{-1/2} (SymNormalized) or 1 (Combinatorial):
// Sum = Σ_j A_ij·c_j·t_j·x_j and Coef = Σ_j A_ij·c_j.
type NeighborSum struct {
	// Sum is Σ_j A_ij·c_j·t_j·x_j (length D).
	Sum []float64
	// Coef is Σ_j A_ij·c_j.
	Coef float64
	// Weight is Σ_j A_ij, the item's degree over the neighbours added.
	Weight float64
	// Count is the number of neighbours added with a positive weight.
	Count int

	opt AccumulatorOptions
}

// NewNeighborSum returns an empty neighbour sum for rows of dim columns and
// the accumulator options that the sum will be added under. It returns an
// error (wrapping ErrBadAccumulator) for dim < 1 or an unknown Laplacian.
func NewNeighborSum(dim int, opt AccumulatorOptions) (*NeighborSum, error) {
	if err := checkAccumulator(dim, opt); err != nil {
		return nil, err
	}
	return &NeighborSum{Sum: make([]float64, dim), opt: opt}, nil
}

// Reset empties the sum for the next item (same width and options).
func (s *NeighborSum) Reset() {
	clear(s.Sum)
	s.Coef, s.Weight, s.Count = 0, 0, 0
}

// Add adds neighbour j: its row xj, the edge weight w = A_ij and j's
// weighted degree degJ (used by the SymNormalized Laplacian only). A zero
// weight adds nothing. It returns an error for a row of the wrong width or
// with a NaN or Inf entry, a negative or non-finite weight, or, with the
// normalized Laplacian, a degree that is not finite or is below w; nothing
// is added then.
func (s *NeighborSum) Add(xj []float32, w, degJ float64) error {
	t, err := rowScaleOf(len(s.Sum), s.opt.NormalizeInput, "neighbour row", xj)
	if err != nil {
		return err
	}
	if err := checkWeight("neighbour sum: edge", w); err != nil || w == 0 {
		return err
	}
	c := 1.0
	if s.opt.Laplacian == SymNormalized {
		if err := checkDegree("neighbour sum: neighbour", degJ, w); err != nil {
			return err
		}
		c = 1 / math.Sqrt(degJ)
	}
	f := w * c * t
	for k, v := range xj {
		s.Sum[k] += f * float64(v)
	}
	s.Coef += w * c
	s.Weight += w
	s.Count++
	return nil
}

// AddNeighbors adds item i's share of the graph term X̄ᵀLX̄ = Σ_i x̄_i·(LX̄)_iᵀ
// over the neighbours in nb: its row xi, its weighted degree degI (of the
// whole graph; used by the SymNormalized Laplacian only) and the sum nb
// (NewNeighborSum). Every undirected edge {i, j} must reach the accumulators
// exactly once, either as one AddEdge or as the two directed halves j ∈ nb
// of item i and i ∈ nb of item j; an item's neighbours may be split over
// several calls (the share is linear in them). Called once per item with all
// of its neighbours, the cost is O(D²) per item plus O(D) per neighbour
// (NeighborSum.Add), where AddEdge costs O(D²) per edge.
//
// It reads nb.Sum, nb.Coef, nb.Weight and nb.Count (for NumEdges). It
// returns an error for a row of the wrong width or with a NaN or Inf entry,
// a Sum of the wrong length or with a non-finite entry, a non-finite Coef,
// a Weight that is negative or not finite, or, with the normalized
// Laplacian, a degree that is not finite or is below Weight (by more than
// rounding); nothing is added then.
func (a *Accumulator) AddNeighbors(xi []float32, degI float64, nb *NeighborSum) error {
	s, err := a.rowScale("item row", xi)
	if err != nil {
		return err
	}
	if nb == nil || len(nb.Sum) != a.dim {
		return fmt.Errorf("recpca: accumulator: neighbour sum of length %d, want %d: %w", lenSum(nb), a.dim, ErrBadInput)
	}
	if math.IsNaN(nb.Coef) || math.IsInf(nb.Coef, 0) {
		return fmt.Errorf("recpca: accumulator: neighbour coefficient %v is not finite: %w (%w)", nb.Coef, ErrBadInput, ErrNonFinite)
	}
	for k, v := range nb.Sum {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("recpca: accumulator: neighbour sum column %d is %v: %w (%w)", k, v, ErrBadInput, ErrNonFinite)
		}
	}
	if err := checkWeight("accumulator: neighbours'", nb.Weight); err != nil || nb.Weight == 0 {
		return err
	}
	// The share of (LX̄)_i from these neighbours is α·u − β·Sum −
	// (α − β·Coef)·μ with u = s·x_i and α = W/d_i, β = d_i^{-1/2}
	// (SymNormalized) or α = W, β = 1 (Combinatorial), W = nb.Weight: with
	// all neighbours (W = d_i) this is row i of L·X̄.
	alpha, beta := nb.Weight, 1.0
	if a.kind == SymNormalized {
		if err := checkDegree("accumulator: item", degI, nb.Weight*(1-1e-12)); err != nil {
			return err
		}
		alpha, beta = nb.Weight/degI, 1/math.Sqrt(degI)
	}
	for k, v := range xi {
		u := float64(v) * s
		a.pu = append(a.pu, u)
		a.pv = append(a.pv, alpha*u-beta*nb.Sum[k])
	}
	a.pn = append(a.pn, alpha-beta*nb.Coef)
	a.halfEdges += int64(nb.Count)
	if len(a.pn) >= accBatch {
		a.flushNeighbors()
	}
	return nil
}

func lenSum(nb *NeighborSum) int {
	if nb == nil {
		return 0
	}
	return len(nb.Sum)
}

// crossScatter is the neighbour part of the graph term,
// Σ_i sym((u_i − μ)(v_i − e_i·μ)ᵀ) (sym(X) = (X + Xᵀ)/2; the sum over all
// items is symmetric, so symmetrizing each term changes nothing), kept about
// a reference r (the mean of the u_i added) as Q = Σ sym((u − r)(v − e·r)ᵀ)
// with a = Σ e·(u − r), b = Σ (v − e·r), s = Σ e and the count. Moving it to
// r' = r + δ is exact: Q' = Q − sym(a·δᵀ) − sym(δ·bᵀ) + s·δδᵀ, a' = a − s·δ,
// b' = b − s·δ; no raw (uncentred) product is ever formed, as for scatter.
type crossScatter struct {
	n    float64
	s    float64
	ref  []float64
	a, b []float64
	q    []float64 // D x D, upper triangle
}

func newCrossScatter(d int) crossScatter {
	return crossScatter{ref: make([]float64, d), a: make([]float64, d), b: make([]float64, d), q: make([]float64, d*d)}
}

// shift moves the reference by delta (r ← r + delta).
func (c *crossScatter) shift(delta []float64) {
	D := len(c.ref)
	for i := range D {
		row := c.q[i*D : (i+1)*D]
		ai, bi, di := c.a[i], c.b[i], delta[i]
		for j := i; j < D; j++ {
			row[j] += -0.5*(ai*delta[j]+di*c.a[j]) - 0.5*(di*c.b[j]+bi*delta[j]) + c.s*di*delta[j]
		}
	}
	for j, dj := range delta {
		c.a[j] -= c.s * dj
		c.b[j] -= c.s * dj
		c.ref[j] += dj
	}
}

// merge adds o (left unchanged) into c, both moved to their count-weighted
// mean reference.
func (c *crossScatter) merge(o *crossScatter) {
	if o.n == 0 {
		return
	}
	if c.n == 0 {
		c.n, c.s = o.n, o.s
		copy(c.ref, o.ref)
		copy(c.a, o.a)
		copy(c.b, o.b)
		copy(c.q, o.q)
		return
	}
	D := len(c.ref)
	t := o.n / (c.n + o.n)
	delta := make([]float64, D)
	for j := range delta {
		delta[j] = t * (o.ref[j] - c.ref[j])
	}
	c.shift(delta)
	oc := *o
	oc.ref, oc.a, oc.b, oc.q = append([]float64(nil), o.ref...), append([]float64(nil), o.a...), append([]float64(nil), o.b...), append([]float64(nil), o.q...)
	for j := range delta {
		delta[j] = c.ref[j] - oc.ref[j]
	}
	oc.shift(delta)
	for i := range D {
		for j := i; j < D; j++ {
			c.q[i*D+j] += oc.q[i*D+j]
		}
	}
	for j := range D {
		c.a[j] += oc.a[j]
		c.b[j] += oc.b[j]
	}
	c.n += o.n
	c.s += o.s
}

// add folds in the batch of rows u, v (b x D, overwritten) with
// coefficients e: its own crossScatter about the batch mean of u (one GEMM)
// merged in.
func (c *crossScatter) add(u, v, e []float64, D int) {
	b := len(e)
	batch := crossScatter{n: float64(b), ref: make([]float64, D), a: make([]float64, D), b: make([]float64, D), q: make([]float64, D*D)}
	for k := range b {
		for j, x := range u[k*D : (k+1)*D] {
			batch.ref[j] += x
		}
	}
	for j := range batch.ref {
		batch.ref[j] /= float64(b)
	}
	for k, ek := range e {
		ur, vr := u[k*D:(k+1)*D], v[k*D:(k+1)*D]
		for j, r := range batch.ref {
			ur[j] -= r
			vr[j] -= ek * r
			batch.a[j] += ek * ur[j]
			batch.b[j] += vr[j]
		}
		batch.s += ek
	}
	full := make([]float64, D*D)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1,
		blas64.General{Rows: b, Cols: D, Stride: D, Data: u[:b*D]},
		blas64.General{Rows: b, Cols: D, Stride: D, Data: v[:b*D]},
		0, blas64.General{Rows: D, Cols: D, Stride: D, Data: full})
	for i := range D {
		for j := i; j < D; j++ {
			batch.q[i*D+j] = (full[i*D+j] + full[j*D+i]) / 2
		}
	}
	c.merge(&batch)
}

// at returns the symmetric term about r, Σ sym((u − r)(v − e·r)ᵀ), in full
// storage.
func (c *crossScatter) at(r []float64) []float64 {
	D := len(c.ref)
	m := crossScatter{n: c.n, s: c.s, ref: append([]float64(nil), c.ref...), a: append([]float64(nil), c.a...), b: append([]float64(nil), c.b...), q: append([]float64(nil), c.q...)}
	delta := make([]float64, D)
	for j := range delta {
		delta[j] = r[j] - c.ref[j]
	}
	m.shift(delta)
	mirrorUpper(m.q, D)
	return m.q
}

func (a *Accumulator) flushNeighbors() {
	if len(a.pn) == 0 {
		return
	}
	a.nbrs.add(a.pu, a.pv, a.pn, a.dim)
	a.pu, a.pv, a.pn = a.pu[:0], a.pv[:0], a.pn[:0]
}
