package recpca

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/llmrec/llmrec/tensor"
)

// UserLevel is the GraphOptions.Window value that links every pair of items
// in a user's sequence (user-level co-occurrence) instead of a sliding window.
// Any negative window means the same.
const UserLevel = -1

// GraphOptions configures BuildGraph. The zero value is the default: window
// 1 (consecutive items), unit weights, no sparsification.
type GraphOptions struct {
	// Window is the largest distance |t−s| between positions of one sequence
	// whose items are linked. 0 means the default, 1. UserLevel (any negative
	// value) links all pairs of a user's sequence.
	Window int
	// Decay weights a pair at distance δ by 1/δ instead of 1.
	Decay bool
	// TopK, when > 0, keeps for each item only its TopK heaviest edges (ties
	// broken by the smaller item id); the kept sets are then symmetrized by
	// union: an edge survives when either end kept it. Weights are unchanged.
	TopK int
}

// Graph is a symmetric, non-negative item–item co-occurrence graph stored as
// a sparse CSR matrix over N = NumItems+1 nodes: node i is item i, and node 0
// (the padding id) is always isolated. There are no self-loops. A Graph is
// immutable after construction and safe for concurrent use.
type Graph struct {
	// N is the number of nodes, NumItems+1.
	N int
	// RowPtr has N+1 entries; row i's neighbours are Col[RowPtr[i]:RowPtr[i+1]]
	// (sorted ascending) with weights Val[RowPtr[i]:RowPtr[i+1]].
	RowPtr []int
	// Col holds the neighbour ids.
	Col []int32
	// Val holds the edge weights A_ij > 0 (each undirected edge is stored in
	// both rows).
	Val []float64

	deg, invSqrt []float64
}

// Edge is one weighted undirected edge for NewGraph.
type Edge struct {
	I, J int
	W    float64
}

// ErrEmptyGraph is returned (wrapped) when a graph without edges is used
// where a penalty needs one.
var ErrEmptyGraph = errors.New("recpca: graph has no edges")

// BuildGraph builds the co-occurrence graph of the training sequences seqs
// (item ids 1..numItems, chronological). Every pair of positions s < t of one
// sequence with t−s ≤ Window (or every pair, at UserLevel) adds weight 1 (or
// 1/(t−s) with Decay) to A_ij and A_ji, where i, j are the items at s and t;
// a pair with i == j (a repeated item) is ignored, so there are no
// self-loops. It returns an error naming the sequence and position of an id
// outside 1..numItems.
func BuildGraph(seqs [][]int, numItems int, opt GraphOptions) (*Graph, error) {
	if numItems < 0 {
		return nil, fmt.Errorf("recpca: build graph: negative item count %d: %w", numItems, ErrBadInput)
	}
	// The pairs (i < j) in emission order, then sorted by (i, j) with two
	// stable counting sorts (by j, then by i: O(pairs + items) each), so
	// that repeated pairs are adjacent and summed in emission order.
	var total int
	for _, s := range seqs {
		total += maxPairs(len(s), opt.Window)
	}
	pi := make([]int32, 0, total)
	pj := make([]int32, 0, total)
	pw := make([]float64, 0, total)
	for u, s := range seqs {
		err := CoOccurrences(s, numItems, opt, func(i, j int, wt float64) {
			pi = append(pi, int32(i))
			pj = append(pj, int32(j))
			pw = append(pw, wt)
		})
		if err != nil {
			return nil, fmt.Errorf("recpca: build graph: sequence %d %w", u, err)
		}
	}
	byJ := countingOrder(pj, nil, numItems)
	order := countingOrder(pi, byJ, numItems)
	// The CSR rows straight from the sorted distinct pairs: row r receives
	// its columns i < r from the pairs (i, r) and then its columns j > r
	// from the pairs (r, j), both in ascending order, so no row needs
	// sorting. (Ids were checked by CoOccurrences and weights are positive.)
	n := numItems + 1
	g := &Graph{N: n, RowPtr: make([]int, n+1)}
	// Two passes over the sorted pairs: count the distinct ones per row,
	// then fill (no intermediate edge list: fewer fresh pages for a
	// one-fit process).
	distinct := func(f func(i, j int32, w float64)) {
		for k := 0; k < len(order); {
			i, j := pi[order[k]], pj[order[k]]
			var sum float64
			for ; k < len(order) && pi[order[k]] == i && pj[order[k]] == j; k++ {
				sum += pw[order[k]]
			}
			f(i, j, sum)
		}
	}
	distinct(func(i, j int32, _ float64) {
		g.RowPtr[i+1]++
		g.RowPtr[j+1]++
	})
	for r := range n {
		g.RowPtr[r+1] += g.RowPtr[r]
	}
	g.Col = make([]int32, g.RowPtr[n])
	g.Val = make([]float64, g.RowPtr[n])
	pos := slices.Clone(g.RowPtr[:n])
	distinct(func(i, j int32, w float64) {
		g.Col[pos[i]], g.Val[pos[i]] = j, w
		pos[i]++
		g.Col[pos[j]], g.Val[pos[j]] = i, w
		pos[j]++
	})
	g.finish()
	if opt.TopK > 0 {
		g = g.topK(opt.TopK)
	}
	return g, nil
}

// maxPairs bounds the number of pairs CoOccurrences emits for a sequence of
// length l with the given window (repeated items make it fewer).
func maxPairs(l, window int) int {
	if window == 0 {
		window = 1
	}
	if window < 0 || window >= l {
		return l * (l - 1) / 2
	}
	// Positions a < l−window have window partners, the last window
	// positions 0..window−1.
	return (l-window)*window + window*(window-1)/2
}

// countingOrder returns the indices of keys (values in 0..maxKey) sorted
// stably by key, taking them in the order given by in (nil: 0, 1, ...).
func countingOrder(keys []int32, in []int32, maxKey int) []int32 {
	cnt := make([]int, maxKey+2)
	for _, k := range keys {
		cnt[k+1]++
	}
	for k := 1; k < len(cnt); k++ {
		cnt[k] += cnt[k-1]
	}
	out := make([]int32, len(keys))
	if in == nil {
		for idx, k := range keys {
			out[cnt[k]] = int32(idx)
			cnt[k]++
		}
		return out
	}
	for _, idx := range in {
		k := keys[idx]
		out[cnt[k]] = idx
		cnt[k]++
	}
	return out
}

// CoOccurrences calls emit(i, j, w) with i < j for every pair of positions
// s < t of one sequence that BuildGraph links (t−s ≤ Window, or every pair
// at UserLevel; pairs of a repeated item skipped), with w = 1, or 1/(t−s)
// with Decay. BuildGraph and PartialGraph sum these; a distributed job can
// emit them as keyed values and sum them per key. opt.TopK plays no part
// here. It returns an error naming the position of an id outside
// 1..numItems, before emitting anything.
func CoOccurrences(seq []int, numItems int, opt GraphOptions, emit func(i, j int, w float64)) error {
	for p, it := range seq {
		if it < 1 || it > numItems {
			return fmt.Errorf("position %d: item id %d outside 1..%d: %w", p, it, numItems, ErrBadInput)
		}
	}
	w := opt.Window
	if w == 0 {
		w = 1
	}
	for a := range seq {
		last := len(seq) - 1
		if w > 0 {
			last = min(last, a+w)
		}
		for b := a + 1; b <= last; b++ {
			i, j := seq[a], seq[b]
			if i == j {
				continue
			}
			if i > j {
				i, j = j, i
			}
			wt := 1.0
			if opt.Decay {
				wt = 1 / float64(b-a)
			}
			emit(i, j, wt)
		}
	}
	return nil
}

// NewGraph builds a Graph over items 1..numItems (N = numItems+1 nodes) from
// undirected edges. Each edge adds W to both A_IJ and A_JI; repeated edges
// add up; self-loops (I == J) are ignored. It returns an error for an end
// outside 1..numItems or a weight that is negative, NaN or Inf.
func NewGraph(numItems int, edges []Edge) (*Graph, error) {
	if numItems < 0 {
		return nil, fmt.Errorf("recpca: graph: negative item count %d: %w", numItems, ErrBadInput)
	}
	n := numItems + 1
	cnt := make([]int, n+1)
	for k, e := range edges {
		if e.I < 1 || e.I > numItems || e.J < 1 || e.J > numItems {
			return nil, fmt.Errorf("recpca: graph edge %d (%d,%d): item id outside 1..%d: %w", k, e.I, e.J, numItems, ErrBadInput)
		}
		if e.W < 0 || math.IsNaN(e.W) || math.IsInf(e.W, 0) {
			return nil, fmt.Errorf("recpca: graph edge %d (%d,%d): invalid weight %v: %w", k, e.I, e.J, e.W, ErrBadInput)
		}
		if e.I == e.J {
			continue
		}
		cnt[e.I+1]++
		cnt[e.J+1]++
	}
	for i := 0; i < n; i++ {
		cnt[i+1] += cnt[i]
	}
	col := make([]int32, cnt[n])
	val := make([]float64, cnt[n])
	pos := slices.Clone(cnt[:n])
	for _, e := range edges {
		if e.I == e.J {
			continue
		}
		col[pos[e.I]], val[pos[e.I]] = int32(e.J), e.W
		pos[e.I]++
		col[pos[e.J]], val[pos[e.J]] = int32(e.I), e.W
		pos[e.J]++
	}
	// Sort each row by column and merge duplicates (dropping zero weights);
	// a row that is already strictly ascending without zero weights (every
	// row, when the edges come sorted by (I, J) without repeats, as from
	// PartialGraph.Graph) is copied as it is.
	g := &Graph{N: n, RowPtr: make([]int, n+1), Col: make([]int32, 0, cnt[n]), Val: make([]float64, 0, cnt[n])}
	idx := make([]int, 0)
	for i := 0; i < n; i++ {
		lo, hi := cnt[i], cnt[i+1]
		if strictRow(col[lo:hi], val[lo:hi]) {
			g.Col = append(g.Col, col[lo:hi]...)
			g.Val = append(g.Val, val[lo:hi]...)
			g.RowPtr[i+1] = len(g.Col)
			continue
		}
		idx = idx[:0]
		for k := lo; k < hi; k++ {
			idx = append(idx, k)
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(col[a], col[b]) })
		for t := 0; t < len(idx); {
			c := col[idx[t]]
			var s float64
			for ; t < len(idx) && col[idx[t]] == c; t++ {
				s += val[idx[t]]
			}
			if s > 0 {
				g.Col = append(g.Col, c)
				g.Val = append(g.Val, s)
			}
		}
		g.RowPtr[i+1] = len(g.Col)
	}
	g.finish()
	return g, nil
}

// strictRow reports whether the columns are strictly ascending and the
// weights positive.
func strictRow(col []int32, val []float64) bool {
	for t := range col {
		if val[t] <= 0 || t > 0 && col[t] <= col[t-1] {
			return false
		}
	}
	return true
}

func (g *Graph) finish() {
	g.deg = make([]float64, g.N)
	g.invSqrt = make([]float64, g.N)
	for i := 0; i < g.N; i++ {
		var s float64
		for k := g.RowPtr[i]; k < g.RowPtr[i+1]; k++ {
			s += g.Val[k]
		}
		g.deg[i] = s
		if s > 0 {
			g.invSqrt[i] = 1 / math.Sqrt(s)
		}
	}
}

// topK keeps each row's k heaviest entries and symmetrizes by union.
func (g *Graph) topK(k int) *Graph {
	keep := make([]bool, len(g.Col))
	var idx []int
	for i := 0; i < g.N; i++ {
		lo, hi := g.RowPtr[i], g.RowPtr[i+1]
		if hi-lo <= k {
			for t := lo; t < hi; t++ {
				keep[t] = true
			}
			continue
		}
		idx = idx[:0]
		for t := lo; t < hi; t++ {
			idx = append(idx, t)
		}
		slices.SortFunc(idx, func(a, b int) int {
			if c := cmp.Compare(g.Val[b], g.Val[a]); c != 0 {
				return c
			}
			return cmp.Compare(g.Col[a], g.Col[b])
		})
		for _, t := range idx[:k] {
			keep[t] = true
		}
	}
	var edges []Edge
	for i := 0; i < g.N; i++ {
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			j := int(g.Col[t])
			if j <= i {
				continue
			}
			if keep[t] || keep[g.find(j, i)] {
				edges = append(edges, Edge{I: i, J: j, W: g.Val[t]})
			}
		}
	}
	out, _ := NewGraph(g.N-1, edges) // ends and weights already validated
	return out
}

// find returns the CSR position of entry (i, j), or -1.
func (g *Graph) find(i, j int) int {
	lo, hi := g.RowPtr[i], g.RowPtr[i+1]
	t, ok := slices.BinarySearch(g.Col[lo:hi], int32(j))
	if !ok {
		return -1
	}
	return lo + t
}

// Weight returns A_ij (0 when there is no edge).
func (g *Graph) Weight(i, j int) float64 {
	if i < 0 || i >= g.N {
		return 0
	}
	if t := g.find(i, j); t >= 0 {
		return g.Val[t]
	}
	return 0
}

// NumItems returns N−1, the number of real items.
func (g *Graph) NumItems() int { return g.N - 1 }

// NumEdges returns the number of undirected edges.
func (g *Graph) NumEdges() int { return len(g.Col) / 2 }

// Degree returns a copy of the weighted degrees d_i = Σ_j A_ij (length N).
func (g *Graph) Degree() []float64 { return slices.Clone(g.deg) }

// Reweighted returns a graph with the same edges and weights f(i, j, A_ij),
// called once per undirected edge with i < j (so the result stays
// symmetric). Edges whose new weight is ≤ 0 are dropped.
func (g *Graph) Reweighted(f func(i, j int, w float64) float64) *Graph {
	out := &Graph{N: g.N, RowPtr: slices.Clone(g.RowPtr), Col: slices.Clone(g.Col), Val: make([]float64, len(g.Val))}
	for i := 0; i < g.N; i++ {
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			j := int(g.Col[t])
			if j > i {
				w := f(i, j, g.Val[t])
				if !(w > 0) || math.IsInf(w, 0) {
					w = 0
				}
				out.Val[t] = w
				out.Val[g.find(j, i)] = w
			}
		}
	}
	if slices.Contains(out.Val, 0) {
		var edges []Edge
		for i := 0; i < out.N; i++ {
			for t := out.RowPtr[i]; t < out.RowPtr[i+1]; t++ {
				if j := int(out.Col[t]); j > i && out.Val[t] > 0 {
					edges = append(edges, Edge{I: i, J: j, W: out.Val[t]})
				}
			}
		}
		out, _ = NewGraph(g.N-1, edges)
		return out
	}
	out.finish()
	return out
}

// LaplacianKind selects the graph Laplacian.
type LaplacianKind int

const (
	// SymNormalized is L = I − D^{-1/2} A D^{-1/2}, with the rows and columns
	// of isolated nodes set to zero (no penalty). It is the default.
	SymNormalized LaplacianKind = iota
	// Combinatorial is L = D − A.
	Combinatorial
)

// String names the kind.
func (k LaplacianKind) String() string {
	switch k {
	case SymNormalized:
		return "sym-normalized"
	case Combinatorial:
		return "combinatorial"
	}
	return fmt.Sprintf("LaplacianKind(%d)", int(k))
}

// MulLaplacian computes dst = L·Y for the dense row-major matrix y with N
// rows and cols columns, without forming L. dst must have the same length as
// y and must not alias it. It panics with tensor.ErrShape (wrapped) on a
// length mismatch, a programming error.
func (g *Graph) MulLaplacian(kind LaplacianKind, dst, y []float64, cols int) {
	if len(y) != g.N*cols || len(dst) != len(y) {
		panic(fmt.Errorf("%w: recpca.MulLaplacian: len(y)=%d len(dst)=%d, want %d·%d", tensor.ErrShape, len(y), len(dst), g.N, cols))
	}
	g.mulLap(kind, dst, y, cols, 0)
}

// mulLap computes dst = L·Y for the rows of nodes off..N−1 (y has N−off rows;
// node i is row i−off). Nodes below off must be isolated.
//
// Large products (N·cols ≥ 2^16) run over node ranges in parallel.
func (g *Graph) mulLap(kind LaplacianKind, dst, y []float64, cols, off int) {
	if n := g.N - off; n*cols >= 1<<16 {
		parallelRows(n, func(lo, hi int) { g.mulLapRange(kind, dst, y, cols, off, off+lo, off+hi) })
		return
	}
	g.mulLapRange(kind, dst, y, cols, off, off, g.N)
}

// mulLapRange is mulLap for the rows of nodes from..to−1.
func (g *Graph) mulLapRange(kind LaplacianKind, dst, y []float64, cols, off, from, to int) {
	for i := from; i < to; i++ {
		r := (i - off) * cols
		out := dst[r : r+cols]
		yi := y[r : r+cols]
		lo, hi := g.RowPtr[i], g.RowPtr[i+1]
		if lo == hi {
			clear(out)
			continue
		}
		switch kind {
		case Combinatorial:
			d := g.deg[i]
			for c, v := range yi {
				out[c] = d * v
			}
			for t := lo; t < hi; t++ {
				j := (int(g.Col[t]) - off) * cols
				a := g.Val[t]
				yj := y[j : j+cols]
				for c, v := range yj {
					out[c] -= a * v
				}
			}
		default:
			copy(out, yi)
			si := g.invSqrt[i]
			for t := lo; t < hi; t++ {
				jn := int(g.Col[t])
				j := (jn - off) * cols
				a := g.Val[t] * si * g.invSqrt[jn]
				yj := y[j : j+cols]
				for c, v := range yj {
					out[c] -= a * v
				}
			}
		}
	}
}
