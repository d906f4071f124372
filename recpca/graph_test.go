package recpca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// Hand-made sequences; expected edges counted by hand below.
var handSeqs = [][]int{
	{1, 2, 3, 2},
	{4, 4, 5},
	{1, 3},
}

func TestBuildGraphWindow1(t *testing.T) {
	g, err := BuildGraph(handSeqs, 6, GraphOptions{})
	require.NoError(t, err)
	// Pairs: (1,2) (2,3) (3,2) | (4,4) self-loop ignored, (4,5) | (1,3).
	want := map[[2]int]float64{{1, 2}: 1, {2, 3}: 2, {4, 5}: 1, {1, 3}: 1}
	assert.Equal(t, 7, g.N)
	assert.Equal(t, len(want), g.NumEdges())
	for e, w := range want {
		assert.Equal(t, w, g.Weight(e[0], e[1]), "edge %v", e)
		assert.Equal(t, w, g.Weight(e[1], e[0]), "edge %v symmetric", e)
	}
	assert.Zero(t, g.Weight(4, 4), "no self-loop")
	assert.Equal(t, []float64{0, 2, 3, 3, 1, 1, 0}, g.Degree())
}

func TestBuildGraphWindow2Decay(t *testing.T) {
	g, err := BuildGraph(handSeqs, 6, GraphOptions{Window: 2, Decay: true})
	require.NoError(t, err)
	// Sequence 1 adds distance-2 pairs (1,3) and (2,2 → ignored); sequence 2
	// adds (4,5) at distance 2.
	assert.InDelta(t, 1.0, g.Weight(1, 2), 1e-15)
	assert.InDelta(t, 2.0, g.Weight(2, 3), 1e-15)
	assert.InDelta(t, 1+0.5, g.Weight(1, 3), 1e-15)
	assert.InDelta(t, 1+0.5, g.Weight(4, 5), 1e-15)
	assert.Zero(t, g.Weight(2, 2))
}

func TestBuildGraphUserLevel(t *testing.T) {
	g, err := BuildGraph(handSeqs, 6, GraphOptions{Window: UserLevel})
	require.NoError(t, err)
	// Sequence 1, all pairs: (1,2)x2 [positions 0-1, 0-3], (1,3), (2,3)x2, (3,2)...
	// positions: 0:1 1:2 2:3 3:2 → pairs (1,2) (1,3) (1,2) (2,3) (2,2)skip (3,2).
	assert.Equal(t, 2.0, g.Weight(1, 2))
	assert.Equal(t, 2.0, g.Weight(1, 3)) // +1 from sequence 3
	assert.Equal(t, 2.0, g.Weight(2, 3))
	assert.Equal(t, 2.0, g.Weight(4, 5)) // (4,5) twice: positions 0-2 and 1-2
}

func TestBuildGraphTopK(t *testing.T) {
	// Item 1 co-occurs with 2 (x3), 3 (x2), 4 (x1); with TopK=1 item 1 keeps
	// only 2, but 3 and 4 keep 1 (their only neighbour), so the union keeps
	// every edge incident to 1. Item 5-6 pair is kept by both.
	seqs := [][]int{{1, 2, 1, 2, 1, 2}, {3, 1, 3}, {4, 1}, {5, 6}}
	g, err := BuildGraph(seqs, 6, GraphOptions{TopK: 1})
	require.NoError(t, err)
	assert.Equal(t, 5.0, g.Weight(1, 2))
	assert.Equal(t, 2.0, g.Weight(1, 3))
	assert.Equal(t, 1.0, g.Weight(1, 4))
	assert.Equal(t, 1.0, g.Weight(5, 6))
	// Now add an edge 3-4 heavier than 3-1 and 4-1: item 3 and 4 keep each
	// other, item 1 keeps 2, so edges 1-3 and 1-4 disappear.
	seqs = append(seqs, []int{3, 4, 3, 4, 3, 4})
	g, err = BuildGraph(seqs, 6, GraphOptions{TopK: 1})
	require.NoError(t, err)
	assert.Equal(t, 5.0, g.Weight(1, 2))
	assert.Zero(t, g.Weight(1, 3))
	assert.Zero(t, g.Weight(1, 4))
	assert.Equal(t, 5.0, g.Weight(3, 4))
	assert.Equal(t, 3, g.NumEdges())
}

func TestBuildGraphErrors(t *testing.T) {
	_, err := BuildGraph([][]int{{1, 2}, {3, 9}}, 5, GraphOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sequence 1 position 1: item id 9 outside 1..5")
	_, err = NewGraph(3, []Edge{{1, 2, math.NaN()}})
	require.Error(t, err)
}

// denseLaplacian builds L naively in float64 from the edge weights.
func denseLaplacian(g *Graph, kind LaplacianKind) *mat.Dense {
	n := g.N
	a := mat.NewDense(n, n, nil)
	deg := make([]float64, n)
	for i := range n {
		for j := range n {
			w := g.Weight(i, j)
			a.Set(i, j, w)
			deg[i] += w
		}
	}
	l := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			switch kind {
			case Combinatorial:
				v := -a.At(i, j)
				if i == j {
					v += deg[i]
				}
				l.Set(i, j, v)
			default:
				if deg[i] == 0 || deg[j] == 0 {
					continue
				}
				v := -a.At(i, j) / math.Sqrt(deg[i]*deg[j])
				if i == j {
					v += 1
				}
				l.Set(i, j, v)
			}
		}
	}
	return l
}

func TestLaplacianProperties(t *testing.T) {
	// Items 1..6 connected, 7 isolated, plus padding 0.
	g, err := NewGraph(7, []Edge{{1, 2, 1}, {2, 3, 2}, {3, 1, 0.5}, {4, 5, 3}, {5, 6, 1}, {1, 4, 0.25}})
	require.NoError(t, err)
	for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
		ref := denseLaplacian(g, kind)
		// MulLaplacian with the identity gives L column by column.
		n := g.N
		id := make([]float64, n*n)
		for i := range n {
			id[i*n+i] = 1
		}
		got := make([]float64, n*n)
		g.MulLaplacian(kind, got, id, n)
		for i := range n {
			for j := range n {
				assert.InDelta(t, ref.At(i, j), got[i*n+j], 1e-14, "%v L[%d,%d]", kind, i, j)
			}
			// Isolated nodes 0 and 7: zero row.
			if i == 0 || i == 7 {
				for j := range n {
					assert.Zero(t, got[i*n+j])
				}
			}
		}
		// Null vector: 1 for D−A, D^{1/2}1 for the normalized one.
		deg := g.Degree()
		v := make([]float64, n)
		for i := range v {
			v[i] = 1
			if kind == SymNormalized {
				v[i] = math.Sqrt(deg[i])
			}
		}
		lv := make([]float64, n)
		g.MulLaplacian(kind, lv, v, 1)
		for i := range lv {
			assert.InDelta(t, 0, lv[i], 1e-14)
		}
		// PSD: eigenvalues of the dense L are ≥ 0 (and ≤ 2 for the normalized).
		var es mat.EigenSym
		require.True(t, es.Factorize(mat.NewSymDense(n, got), false))
		for _, e := range es.Values(nil) {
			assert.GreaterOrEqual(t, e, -1e-12)
			if kind == SymNormalized {
				assert.LessOrEqual(t, e, 2+1e-12)
			}
		}
	}
	assert.Panics(t, func() { g.MulLaplacian(Combinatorial, make([]float64, 3), make([]float64, 3), 1) })
}

// checkGraphAgainst asserts that g holds exactly the weights of want (keys
// i < j), in both rows, with every row strictly ascending.
func checkGraphAgainst(t *testing.T, g *Graph, want map[[2]int]float64, name string) {
	t.Helper()
	assert.Equal(t, len(want), g.NumEdges(), name)
	for e, w := range want {
		assert.InDelta(t, w, g.Weight(e[0], e[1]), 1e-12, "%s edge %v", name, e)
		assert.InDelta(t, w, g.Weight(e[1], e[0]), 1e-12, "%s edge %v symmetric", name, e)
	}
	for i := range g.N {
		for t2 := g.RowPtr[i] + 1; t2 < g.RowPtr[i+1]; t2++ {
			require.Less(t, g.Col[t2-1], g.Col[t2], "%s row %d not ascending", name, i)
		}
	}
}

// BuildGraph matches a map of pair weights summed naively over random
// sequences with repeated items, for several windows, with and without
// decay; NewGraph does the same for unsorted edges with repeats, zero
// weights and self-loops.
func TestBuildGraphMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	const items = 40
	seqs := make([][]int, 60)
	for u := range seqs {
		seqs[u] = make([]int, r.IntN(12))
		for p := range seqs[u] {
			seqs[u][p] = 1 + r.IntN(items)
		}
	}
	for _, opt := range []GraphOptions{{}, {Window: 3}, {Window: 2, Decay: true}, {Window: UserLevel}, {Window: UserLevel, Decay: true}} {
		want := map[[2]int]float64{}
		for _, s := range seqs {
			for a := range s {
				for b := a + 1; b < len(s); b++ {
					w := opt.Window
					if w == 0 {
						w = 1
					}
					if (w > 0 && b-a > w) || s[a] == s[b] {
						continue
					}
					wt := 1.0
					if opt.Decay {
						wt = 1 / float64(b-a)
					}
					want[[2]int{min(s[a], s[b]), max(s[a], s[b])}] += wt
				}
			}
		}
		g, err := BuildGraph(seqs, items, opt)
		require.NoError(t, err)
		checkGraphAgainst(t, g, want, fmt.Sprintf("%+v", opt))
	}
	var edges []Edge
	want := map[[2]int]float64{}
	for range 300 {
		e := Edge{I: 1 + r.IntN(items), J: 1 + r.IntN(items), W: float64(r.IntN(3))}
		edges = append(edges, e)
		if e.I != e.J {
			want[[2]int{min(e.I, e.J), max(e.I, e.J)}] += e.W
		}
	}
	for k, w := range want {
		if w == 0 {
			delete(want, k)
		}
	}
	g, err := NewGraph(items, edges)
	require.NoError(t, err)
	checkGraphAgainst(t, g, want, "NewGraph")
}

// MulLaplacian on a product large enough to run over node ranges in
// parallel matches the naive L·Y (naiveLX) for both Laplacians.
func TestMulLaplacianParallelMatchesNaive(t *testing.T) {
	const n, cols = 2500, 30 // n·cols ≥ 2^16
	x, g := synth(n, cols, 3, 31)
	y := make([]float64, (n+1)*cols) // node 0 (isolated) first
	for i, v := range x.Data[cols:] {
		y[cols+i] = float64(v)
	}
	ym := mat.NewDense(n, cols, y[cols:])
	for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
		want := naiveLX(ym, g, kind)
		dst := make([]float64, len(y))
		g.MulLaplacian(kind, dst, y, cols)
		diff, sc := maxAbsDiff(dst[cols:], want)
		assert.Less(t, diff, 1e-12*sc, "kind %v", kind)
		assert.Equal(t, make([]float64, cols), dst[:cols], "kind %v: node 0", kind)
	}
}
