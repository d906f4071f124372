package recpca

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/llmrec/llmrec/tensor"
)

// ErrBadAccumulator is returned (wrapped) when accumulators or partial
// graphs that cannot be combined are merged (different dimension, row
// normalization, Laplacian kind, item count or graph options), when
// UnmarshalBinary is given bytes that are not an encoded Accumulator or
// PartialGraph, and (with ErrBadOptions) when NewAccumulator or
// NewNeighborSum is given a dimension or Laplacian kind out of range.
var ErrBadAccumulator = errors.New("recpca: bad accumulator")

// AccumulatorOptions fixes, when an Accumulator is created, the choices that
// act on single rows or single edges and so cannot be changed afterwards.
// Everything else in Options (Dim, Lambda, TargetVariance, Whiten, NoCenter,
// Standardize) is decided at FitStats time.
type AccumulatorOptions struct {
	// NormalizeInput L2-normalizes every item row, and both rows of every
	// edge, as they are added (Options.NormalizeInput of Fit).
	NormalizeInput bool
	// Laplacian is the Laplacian kind of the graph term (default
	// SymNormalized, as in Options).
	Laplacian LaplacianKind
}

// Accumulator holds sufficient statistics of Rec-PCA (see the package doc) that
// can be computed in pieces and merged: the item count, the item mean and
// the centred Gram matrix X̄ᵀX̄ (item part), and the graph-weighted Gram
// matrix X̄ᵀLX̄ (edge part). FitStats turns them into the Projection that Fit
// computes from the whole item matrix and graph.
//
// Items and edges are fed separately, so that a distributed job can shard
// them differently:
//
//   - AddItem, once per item (rows 1..NumItems of the item matrix, each
//     exactly once over all shards);
//   - AddEdge, once per undirected edge {i, j} of the co-occurrence graph,
//     with both end rows, the weight A_ij and both weighted degrees
//     d_i = Σ_k A_ik. The Laplacian term is a sum over edges,
//     X̄ᵀLX̄ = Σ_{i<j} A_ij (x̄_i s_i − x̄_j s_j)(x̄_i s_i − x̄_j s_j)ᵀ with
//     s = d^{-1/2} (SymNormalized) or s = 1 (Combinatorial), so an edge
//     needs both end rows (a join of the edge list with the item rows) and,
//     for the normalized Laplacian, the global degrees (a sum of the edge
//     weights per item, computed before).
//
// The global mean μ is not known while rows are added, so neither part is
// accumulated about it. Each part is a weighted scatter Q(r) = Σ w (u −
// c·r)(u − c·r)ᵀ — items: u = x_i, c = w = 1; edges: u = x_i s_i − x_j s_j,
// c = s_i − s_j, w = A_ij — stored about its own minimizer r (the item mean;
// the c-weighted mean of the edges), and merged as Chan et al.'s pairwise
// variance update: Q = Q_a + Q_b + (S_a S_b / S)(r_a − r_b)(r_a − r_b)ᵀ with
// S = Σ w c². FitStats then moves the edge scatter to the item mean,
// Q(μ) = Q(r) + S (μ − r)(μ − r)ᵀ. No sum of raw, uncentred products is
// ever formed, so merging shards in any order or grouping gives the same
// statistics to float64 rounding.
//
// Rows are converted to float64 as they arrive and buffered; every 256 rows
// the buffer is folded in with one float64 GEMM (O(rows·D²)). Memory is two
// D x D float64 matrices (2·8·D² bytes: 4 MiB at D = 512, 256 MiB at
// D = 4,096); MarshalBinary writes their upper triangles. An Accumulator is
// not safe for concurrent use; give each goroutine its own and Merge them.
type Accumulator struct {
	dim       int
	normalize bool
	kind      LaplacianKind
	items     scatter
	edges     scatter
	numEdges  int64
	// nbrs is the graph term added per item (AddNeighbors); halfEdges
	// counts its neighbour entries (each undirected edge twice).
	nbrs      crossScatter
	halfEdges int64

	// Pending rows (float64, already normalized/combined) and, for edges,
	// their c and w.
	pi         []float64
	pe, pc, pw []float64
	pu, pv, pn []float64
}

// scatter is Q(r) = Σ w (u − c·r)(u − c·r)ᵀ kept about its minimizer ref
// (where Σ w c (u − c·ref) = 0), with s = Σ w c². Only the upper triangle
// of q is maintained.
type scatter struct {
	s   float64
	ref []float64 // D
	q   []float64 // D x D, upper triangle (the rest is scratch)
}

// accBatch is the number of pending rows folded in by one GEMM.
const accBatch = 256

// NewAccumulator returns an empty accumulator for rows of dim columns. It
// returns an error (wrapping ErrBadAccumulator) when dim < 1 or the
// Laplacian kind is unknown.
func NewAccumulator(dim int, opt AccumulatorOptions) (*Accumulator, error) {
	if err := checkAccumulator(dim, opt); err != nil {
		return nil, err
	}
	a := &Accumulator{dim: dim, normalize: opt.NormalizeInput, kind: opt.Laplacian}
	a.items = newScatter(dim)
	a.edges = newScatter(dim)
	a.nbrs = newCrossScatter(dim)
	return a, nil
}

// checkWeight returns an error unless the edge weight w is finite and
// non-negative.
func checkWeight(what string, w float64) error {
	if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
		return fmt.Errorf("recpca: %s weight %v is not a finite non-negative number: %w", what, w, ErrBadInput)
	}
	return nil
}

// checkDegree returns an error unless the degree dg is finite and at least
// w (the normalized Laplacian divides by √dg).
func checkDegree(what string, dg, w float64) error {
	if !(dg >= w) || math.IsInf(dg, 0) {
		return fmt.Errorf("recpca: %s degree %v must be finite and at least the weight %v: %w", what, dg, w, ErrBadInput)
	}
	return nil
}

// checkAccumulator validates NewAccumulator's arguments.
func checkAccumulator(dim int, opt AccumulatorOptions) error {
	if dim < 1 || dim > 1<<16 {
		return fmt.Errorf("%w: dimension %d outside 1..65536: %w", ErrBadAccumulator, dim, ErrBadOptions)
	}
	if opt.Laplacian != SymNormalized && opt.Laplacian != Combinatorial {
		return fmt.Errorf("%w: unknown Laplacian kind %v: %w", ErrBadAccumulator, opt.Laplacian, ErrBadOptions)
	}
	return nil
}

func newScatter(d int) scatter {
	return scatter{ref: make([]float64, d), q: make([]float64, d*d)}
}

// Dim returns the row width D.
func (a *Accumulator) Dim() int { return a.dim }

// Options returns the options the accumulator was created with.
func (a *Accumulator) Options() AccumulatorOptions {
	return AccumulatorOptions{NormalizeInput: a.normalize, Laplacian: a.kind}
}

// NumItems returns the number of items added (over all merged parts).
func (a *Accumulator) NumItems() int { return int(a.items.s) + len(a.pi)/a.dim }

// NumEdges returns the number of edges added (over all merged parts): by
// AddEdge, plus half the neighbours given to AddNeighbors (every edge is in
// the neighbour sums of both of its ends).
func (a *Accumulator) NumEdges() int { return int(a.numEdges + a.halfEdges/2) }

// hasGraph reports whether any graph term was added.
func (a *Accumulator) hasGraph() bool { return a.numEdges > 0 || a.halfEdges > 0 }

// Mean returns the mean of the item rows added so far (after row
// normalization when set), a fresh slice of length D.
func (a *Accumulator) Mean() []float64 {
	a.flush()
	return slices.Clone(a.items.ref)
}

// rowScale returns the row's multiplier (1, or 1/||x|| with
// NormalizeInput; 0 for a zero row), or an error for a wrong length or a
// non-finite entry.
func (a *Accumulator) rowScale(what string, x []float32) (float64, error) {
	return rowScaleOf(a.dim, a.normalize, what, x)
}

// rowScaleOf is Accumulator.rowScale for a width and a normalization flag.
func rowScaleOf(dim int, normalize bool, what string, x []float32) (float64, error) {
	if len(x) != dim {
		return 0, fmt.Errorf("recpca: accumulator: %s has %d columns, want %d: %w", what, len(x), dim, ErrBadInput)
	}
	// One pass: a float32 squared cannot overflow float64, so the sum of
	// squares is finite exactly when every entry is.
	sq := sumSq32(x)
	if math.IsNaN(sq) || math.IsInf(sq, 0) {
		for c, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("recpca: accumulator: %s column %d is %v: %w (%w)", what, c, v, ErrBadInput, ErrNonFinite)
			}
		}
	}
	if !normalize {
		return 1, nil
	}
	if nr := math.Sqrt(sq); nr > 0 {
		return 1 / math.Max(nr, normEps), nil
	}
	return 0, nil
}

// AddItem adds one item row (a row 1..NumItems of the item matrix Fit
// takes; never the padding row 0). It returns an error for a row of the
// wrong width or with a NaN or Inf entry, and then adds nothing.
func (a *Accumulator) AddItem(x []float32) error {
	s, err := a.rowScale("item row", x)
	if err != nil {
		return err
	}
	for _, v := range x {
		a.pi = append(a.pi, float64(v)*s)
	}
	if len(a.pi) >= accBatch*a.dim {
		a.flushItems()
	}
	return nil
}

// AddEdge adds the undirected edge {i, j} of the co-occurrence graph with
// weight w = A_ij, given the two end rows xi, xj and the end degrees degI,
// degJ (weighted degrees of the whole graph, d_i = Σ_k A_ik, as
// Graph.Degree or PartialGraph give; only the SymNormalized Laplacian uses
// them). Each undirected edge is added once (not once per direction);
// self-loops are not edges. An edge with w = 0 adds nothing. It returns an
// error for rows of the wrong width or with NaN/Inf entries, a negative or
// non-finite weight, or, with the normalized Laplacian, a degree that is not
// positive and finite or is below w; nothing is added then.
func (a *Accumulator) AddEdge(xi, xj []float32, w, degI, degJ float64) error {
	si, err := a.rowScale("edge row i", xi)
	if err != nil {
		return err
	}
	sj, err := a.rowScale("edge row j", xj)
	if err != nil {
		return err
	}
	if err := checkWeight("accumulator: edge", w); err != nil || w == 0 {
		return err
	}
	c := 0.0
	if a.kind == SymNormalized {
		for _, dg := range []float64{degI, degJ} {
			if err := checkDegree("accumulator: edge", dg, w); err != nil {
				return err
			}
		}
		di, dj := 1/math.Sqrt(degI), 1/math.Sqrt(degJ)
		si *= di
		sj *= dj
		c = di - dj
	}
	for k, v := range xi {
		a.pe = append(a.pe, float64(v)*si-float64(xj[k])*sj)
	}
	a.pc = append(a.pc, c)
	a.pw = append(a.pw, w)
	a.numEdges++
	if len(a.pw) >= accBatch {
		a.flushEdges()
	}
	return nil
}

// flush folds every pending row in.
func (a *Accumulator) flush() {
	a.flushItems()
	a.flushEdges()
	a.flushNeighbors()
}

func (a *Accumulator) flushItems() {
	if len(a.pi) == 0 {
		return
	}
	a.items.add(a.pi, nil, nil, a.dim)
	a.pi = a.pi[:0]
}

func (a *Accumulator) flushEdges() {
	if len(a.pw) == 0 {
		return
	}
	a.edges.add(a.pe, a.pc, a.pw, a.dim)
	a.pe, a.pc, a.pw = a.pe[:0], a.pc[:0], a.pw[:0]
}

// add folds in the rows u (b x D, overwritten) with coefficients c and
// weights w (nil: all 1): the batch's own scatter about its minimizer by one
// GEMM, then the pairwise merge.
func (s *scatter) add(u, c, w []float64, D int) {
	b := len(u) / D
	cw := func(k int) (float64, float64) {
		if c == nil {
			return 1, 1
		}
		return c[k], w[k]
	}
	var sb float64
	rb := make([]float64, D)
	for k := range b {
		ck, wk := cw(k)
		if ck == 0 {
			continue
		}
		sb += wk * ck * ck
		f := wk * ck
		for j, v := range u[k*D : (k+1)*D] {
			rb[j] += f * v
		}
	}
	if sb > 0 {
		for j := range rb {
			rb[j] /= sb
		}
	}
	for k := range b {
		ck, wk := cw(k)
		sw := math.Sqrt(wk)
		row := u[k*D : (k+1)*D]
		for j, v := range row {
			row[j] = sw * (v - ck*rb[j])
		}
	}
	syrkUpper(s.q, u[:b*D], b, D)
	s.mergeRef(sb, rb)
}

// syrkBlock is the column block width of syrkUpper.
const syrkBlock = 64

// syrkUpper adds UᵀU to the upper triangle (block-wise: the diagonal blocks
// in full) of the D x D matrix q, for the b x D matrix u, as GEMMs on column
// blocks i ≤ j: about half the work of a full GEMM, at GEMM speed. The
// strict lower blocks are left untouched; readers use upperSym.
func syrkUpper(q, u []float64, b, D int) {
	for i0 := 0; i0 < D; i0 += syrkBlock {
		i1 := min(i0+syrkBlock, D)
		tensor.Gemm64(true, false, i1-i0, D-i0, b, 1, u[i0:], D, u[i0:], D, 1, q[i0*D+i0:], D)
	}
}

// mergeRef completes a merge whose scatter about its own reference rb (with
// weight sb) has already been added into q: it adds the pairwise correction
// and moves ref to the combined minimizer.
func (s *scatter) mergeRef(sb float64, rb []float64) {
	st := s.s + sb
	if st == 0 || sb == 0 {
		s.s = st
		return
	}
	D := len(s.ref)
	delta := make([]float64, D)
	for j := range delta {
		delta[j] = rb[j] - s.ref[j]
	}
	if f := s.s * sb / st; f != 0 {
		addOuterUpper(s.q, delta, f)
	}
	t := sb / st
	for j, dj := range delta {
		s.ref[j] += t * dj
	}
	s.s = st
}

func (s *scatter) merge(o *scatter) {
	for i, v := range o.q {
		s.q[i] += v
	}
	s.mergeRef(o.s, o.ref)
}

// at returns Q(r) = Q(ref) + s·(r − ref)(r − ref)ᵀ in full storage.
func (s *scatter) at(r []float64) []float64 {
	D := len(s.ref)
	out := slices.Clone(s.q)
	if s.s != 0 {
		delta := make([]float64, D)
		for j := range delta {
			delta[j] = r[j] - s.ref[j]
		}
		addOuterUpper(out, delta, s.s)
	}
	mirrorUpper(out, D)
	return out
}

// addOuterUpper adds f·v·vᵀ to the upper triangle of the square matrix q.
func addOuterUpper(q, v []float64, f float64) {
	D := len(v)
	for i, vi := range v {
		row := q[i*D : (i+1)*D]
		fv := f * vi
		for j := i; j < D; j++ {
			row[j] += fv * v[j]
		}
	}
}

// Merge adds the statistics of o into a (o is left unchanged in value). The
// result does not depend on the order or grouping of merges beyond float64
// rounding. It returns an error wrapping ErrBadAccumulator when o has a
// different dimension, row normalization or Laplacian kind.
func (a *Accumulator) Merge(o *Accumulator) error {
	if o == nil {
		return nil
	}
	if o.dim != a.dim || o.normalize != a.normalize || o.kind != a.kind {
		return fmt.Errorf("%w: merge: D=%d normalize=%v %v into D=%d normalize=%v %v", ErrBadAccumulator,
			o.dim, o.normalize, o.kind, a.dim, a.normalize, a.kind)
	}
	a.flush()
	o.flush()
	a.items.merge(&o.items)
	a.edges.merge(&o.edges)
	a.numEdges += o.numEdges
	a.nbrs.merge(&o.nbrs)
	a.halfEdges += o.halfEdges
	return nil
}

// accMagic starts every encoded Accumulator without neighbour sums (format
// version 1); accMagic2 one with them (version 2: version 1's fields, then
// the neighbour part).
const (
	accMagic  = "RPCAACC1"
	accMagic2 = "RPCAACC2"
)

// MarshalBinary encodes the statistics (little-endian float64s, the D x D
// matrices as upper triangles: about 8·D² bytes, 12·D² once AddNeighbors was
// used). It implements encoding.BinaryMarshaler; pending rows are folded in
// first.
func (a *Accumulator) MarshalBinary() ([]byte, error) {
	a.flush()
	D := a.dim
	tri := D * (D + 1) / 2
	buf := make([]byte, 0, len(accMagic)+32+2*8*(1+D+tri)+8*(2+3*D+tri))
	magic := accMagic
	if a.halfEdges > 0 || a.nbrs.n > 0 {
		magic = accMagic2
	}
	buf = append(buf, magic...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(D))
	var flags uint32
	if a.normalize {
		flags |= 1
	}
	flags |= uint32(a.kind) << 1
	buf = binary.LittleEndian.AppendUint32(buf, flags)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(a.numEdges))
	for _, s := range []*scatter{&a.items, &a.edges} {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(s.s))
		for _, v := range s.ref {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		}
		for i := range D {
			for _, v := range s.q[i*D+i : (i+1)*D] {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
		}
	}
	if magic == accMagic2 {
		c := &a.nbrs
		buf = binary.LittleEndian.AppendUint64(buf, uint64(a.halfEdges))
		for _, v := range [][]float64{{c.n, c.s}, c.ref, c.a, c.b} {
			for _, x := range v {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
			}
		}
		for i := range D {
			for _, v := range c.q[i*D+i : (i+1)*D] {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
		}
	}
	return buf, nil
}

// UnmarshalBinary replaces a's statistics by the encoded ones. It returns an
// error wrapping ErrBadAccumulator for a wrong header, length, option field
// or a non-finite value, and leaves a unchanged then. It implements
// encoding.BinaryUnmarshaler.
func (a *Accumulator) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: decode: %s", ErrBadAccumulator, fmt.Sprintf(format, args...))
	}
	h := len(accMagic) + 16
	if len(b) < h || string(b[:len(accMagic)]) != accMagic && string(b[:len(accMagic2)]) != accMagic2 {
		return bad("not an encoded accumulator (header)")
	}
	v2 := string(b[:len(accMagic2)]) == accMagic2
	D := int(binary.LittleEndian.Uint32(b[8:]))
	flags := binary.LittleEndian.Uint32(b[12:])
	ne := binary.LittleEndian.Uint64(b[16:])
	if D < 1 || D > 1<<16 {
		return bad("dimension %d outside 1..65536", D)
	}
	kind := LaplacianKind(flags >> 1)
	if flags>>1 > uint32(Combinatorial) {
		return bad("unknown flags %#x", flags)
	}
	if ne > 1<<62 {
		return bad("edge count %d", ne)
	}
	tri := D * (D + 1) / 2
	want := h + 2*8*(1+D+tri)
	if v2 {
		want += 8 * (3 + 3*D + tri)
	}
	if len(b) != want {
		return bad("%d bytes, want %d for D = %d", len(b), want, D)
	}
	out, err := NewAccumulator(D, AccumulatorOptions{NormalizeInput: flags&1 != 0, Laplacian: kind})
	if err != nil {
		return err
	}
	out.numEdges = int64(ne)
	off := h
	next := func() float64 {
		v := math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
		off += 8
		return v
	}
	for k, s := range []*scatter{&out.items, &out.edges} {
		s.s = next()
		if !(s.s >= 0) || math.IsInf(s.s, 0) || (k == 0 && s.s != math.Trunc(s.s)) {
			return bad("weight %v", s.s)
		}
		for j := range s.ref {
			s.ref[j] = next()
		}
		for i := range D {
			for j := i; j < D; j++ {
				v := next()
				s.q[i*D+j], s.q[j*D+i] = v, v
			}
		}
		for _, v := range s.ref {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return bad("non-finite mean")
			}
		}
		for _, v := range s.q {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return bad("non-finite scatter entry")
			}
		}
	}
	if v2 {
		he := binary.LittleEndian.Uint64(b[off:])
		off += 8
		if he > 1<<62 {
			return bad("neighbour count %d", he)
		}
		out.halfEdges = int64(he)
		c := &out.nbrs
		c.n, c.s = next(), next()
		if !(c.n >= 0) || c.n != math.Trunc(c.n) || math.IsInf(c.n, 0) {
			return bad("neighbour item count %v", c.n)
		}
		for _, v := range [][]float64{c.ref, c.a, c.b} {
			for j := range v {
				v[j] = next()
			}
		}
		for i := range D {
			for j := i; j < D; j++ {
				v := next()
				c.q[i*D+j], c.q[j*D+i] = v, v
			}
		}
		for _, v := range [][]float64{{c.s}, c.ref, c.a, c.b, c.q} {
			for _, x := range v {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return bad("non-finite neighbour term")
				}
			}
		}
	}
	*a = *out
	return nil
}
