package recpca

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

// addNeighborHalves gives the graph to accs through neighbour sums: for
// every item i, its neighbours j with viaEdge(i, j) false, split into two
// halves added by separate AddNeighbors calls to shards shard(i, 0) and
// shard(i, 1); the edges with viaEdge true go through AddEdge (to shard
// (i+j) mod len(accs)).
func addNeighborHalves(tb testing.TB, accs []*Accumulator, x *tensor.Tensor, g *Graph, shard func(i, half int) int, viaEdge func(i, j int) bool) {
	tb.Helper()
	deg := g.Degree()
	D := x.Cols()
	opt := accs[0].Options()
	nb, err := NewNeighborSum(D, opt)
	require.NoError(tb, err)
	for i := 1; i < g.N; i++ {
		lo, hi := g.RowPtr[i], g.RowPtr[i+1]
		mid := (lo + hi) / 2
		for half, rng := range [][2]int{{lo, mid}, {mid, hi}} {
			nb.Reset()
			for t := rng[0]; t < rng[1]; t++ {
				j := int(g.Col[t])
				if viaEdge(i, j) {
					continue
				}
				require.NoError(tb, nb.Add(x.Row(j), g.Val[t], deg[j]))
			}
			require.NoError(tb, accs[shard(i, half)].AddNeighbors(x.Row(i), deg[i], nb))
		}
		for t := lo; t < hi; t++ {
			if j := int(g.Col[t]); j > i && viaEdge(i, j) {
				require.NoError(tb, accs[(i+j)%len(accs)].AddEdge(x.Row(i), x.Row(j), g.Val[t], deg[i], deg[j]))
			}
		}
	}
}

// graphTerm returns the accumulated X̄ᵀLX̄ about r (both forms summed).
func graphTerm(a *Accumulator, r []float64) []float64 {
	a.flush()
	g := a.edges.at(r)
	for k, v := range a.nbrs.at(r) {
		g[k] += v
	}
	return g
}

// The neighbour-sum form (AddNeighbors) gives the graph term of the dense
// definition, alone and mixed with AddEdge, for every Laplacian kind, row
// normalization and sharding, on the large-offset problem where uncentred
// sums lose digits.
func TestAccumulatorNeighborsMatchDefinitions(t *testing.T) {
	x, g := offsetProblem(t, rand.New(rand.NewPCG(3, 4)))
	n := x.Rows() - 1
	for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
		for _, norm := range []bool{false, true} {
			_, wantG, _ := denseReference(x, g, norm, kind)
			opt := AccumulatorOptions{NormalizeInput: norm, Laplacian: kind}
			for _, mixed := range []bool{false, true} {
				viaEdge := func(i, j int) bool { return mixed && (i+j)%3 == 0 }
				for _, shards := range []int{1, 4} {
					accs := accumulateShards(t, x, nil, opt, shards, func(i int) int { return i % shards }, nil)
					addNeighborHalves(t, accs, x, g, func(i, half int) int { return (2*i + half) % shards }, viaEdge)
					a := mergeTree(t, accs)
					require.Equal(t, n, a.NumItems())
					require.Equal(t, g.NumEdges(), a.NumEdges())
					gl := graphTerm(a, a.Mean())
					assert.Less(t, maxRelDiff(gl, wantG), 1e-11, "G %v norm=%v mixed=%v shards=%d", kind, norm, mixed, shards)
				}
			}
		}
	}
}

// FitStats from neighbour sums equals FitStats from edges (the same
// statistics), also through MarshalBinary; Fit is the reference for both.
func TestFitStatsNeighborsMatchEdges(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n, D := 300, 12
	x := randomItems(r, n, D, 1, func(j int) float64 { return 1 / float64(j+1) })
	var edges []Edge
	for range 900 {
		edges = append(edges, Edge{I: 1 + r.IntN(n), J: 1 + r.IntN(n), W: float64(1 + r.IntN(2))})
	}
	g, err := NewGraph(n, edges)
	require.NoError(t, err)
	for _, aopt := range []AccumulatorOptions{{}, {NormalizeInput: true, Laplacian: Combinatorial}} {
		byEdge := mergeAll(t, accumulateShards(t, x, g, aopt, 2, func(i int) int { return i % 2 }, func(i, j int) int { return j % 2 }), []int{1, 0})
		accs := accumulateShards(t, x, nil, aopt, 3, func(i int) int { return i % 3 }, nil)
		addNeighborHalves(t, accs, x, g, func(i, half int) int { return (i + half) % 3 }, func(int, int) bool { return false })
		enc, err := accs[1].MarshalBinary()
		require.NoError(t, err)
		var dec Accumulator
		require.NoError(t, dec.UnmarshalBinary(enc))
		accs[1] = &dec
		byNbr := mergeAll(t, accs, []int{2, 1, 0})
		require.Equal(t, byEdge.NumEdges(), byNbr.NumEdges())
		opt := Options{Dim: 4, Lambda: 0.5, NormalizeInput: aopt.NormalizeInput, Laplacian: aopt.Laplacian}
		want, err := Fit(x, g, Options{Dim: 4, Lambda: 0.5, NormalizeInput: aopt.NormalizeInput, Laplacian: aopt.Laplacian})
		require.NoError(t, err)
		pe, err := FitStats(byEdge, opt)
		require.NoError(t, err)
		pn, err := FitStats(byNbr, opt)
		require.NoError(t, err)
		assert.Less(t, maxAngle(pe.W, pn.W), 1e-10, "%+v", aopt)
		assert.Less(t, maxAngle(want.W, pn.W), 1e-5, "%+v", aopt)
		assert.InDelta(t, pe.Stats.TraceRatio, pn.Stats.TraceRatio, 1e-12*pe.Stats.TraceRatio)
	}
}

// Bad neighbour input is an error and adds nothing.
func TestAccumulatorNeighborsErrors(t *testing.T) {
	a, err := NewAccumulator(3, AccumulatorOptions{})
	require.NoError(t, err)
	nb, err := NewNeighborSum(3, AccumulatorOptions{})
	require.NoError(t, err)
	_, err = NewNeighborSum(0, AccumulatorOptions{})
	assert.ErrorIs(t, err, ErrBadAccumulator)
	x := []float32{1, 2, 3}
	assert.Error(t, nb.Add([]float32{1, 2}, 1, 2), "width")
	assert.Error(t, nb.Add([]float32{1, float32(math.NaN()), 0}, 1, 2), "NaN row")
	assert.Error(t, nb.Add(x, -1, 2), "negative weight")
	assert.Error(t, nb.Add(x, 3, 2), "degree below the weight")
	assert.Zero(t, nb.Count)
	require.NoError(t, nb.Add(x, 1, 2))
	assert.Error(t, a.AddNeighbors(x, 0.5, nb), "degree below the neighbours' weight")
	assert.Error(t, a.AddNeighbors(x, math.Inf(1), nb), "infinite degree")
	assert.Error(t, a.AddNeighbors([]float32{1}, 2, nb), "row width")
	assert.Error(t, a.AddNeighbors(x, 2, &NeighborSum{Sum: []float64{1, 2}, Weight: 1}), "sum width")
	assert.Error(t, a.AddNeighbors(x, 2, &NeighborSum{Sum: []float64{1, math.Inf(1), 0}, Weight: 1}), "infinite sum")
	assert.Error(t, a.AddNeighbors(x, 2, nil), "nil sum")
	assert.Zero(t, a.NumEdges())
	a.flush()
	assert.Zero(t, a.nbrs.n, "nothing added")
}

// AddNeighbors against AddEdge on one shard of Beauty-sized work: the same
// statistic, at O(E·D + N·D²) instead of O(E·D²). Times are logged, not
// asserted.
func TestAccumulatorNeighborsBeauty(t *testing.T) {
	longTests(t)
	b := loadBeauty(t)
	opt := AccumulatorOptions{NormalizeInput: true}
	t0 := time.Now()
	byEdge := accumulateShards(t, b.x, b.g, opt, 1, func(int) int { return 0 }, func(int, int) int { return 0 })[0]
	byEdge.flush()
	tEdge := time.Since(t0)
	t0 = time.Now()
	byNbr := accumulateShards(t, b.x, nil, opt, 1, func(int) int { return 0 }, nil)[0]
	addNeighborHalves(t, []*Accumulator{byNbr}, b.x, b.g, func(int, int) int { return 0 }, func(int, int) bool { return false })
	byNbr.flush()
	tNbr := time.Since(t0)
	mu := byEdge.Mean()
	ge, gn := graphTerm(byEdge, mu), graphTerm(byNbr, mu)
	t.Logf("Beauty, %d items, %d edges: AddEdge form %.2f s, AddNeighbors form %.2f s (items included in both); graph terms differ by %.3g relative",
		b.x.Rows()-1, b.g.NumEdges(), tEdge.Seconds(), tNbr.Seconds(), relDiff(ge, gn))
	assert.Less(t, relDiff(ge, gn), 1e-10)
	o := Options{Dim: 64, Lambda: 0.9, NormalizeInput: true}
	pe, err := FitStats(byEdge, o)
	require.NoError(t, err)
	pn, err := FitStats(byNbr, o)
	require.NoError(t, err)
	ang := principalAngles(pe.W, pn.W)
	t.Logf("λ = 0.9: largest principal angle between the two forms' projections %.3g rad", ang[len(ang)-1])
	assert.Less(t, ang[len(ang)-1], 1e-7)
}

// The graph term of Beauty (12,101 x 512, 111,649 edges, normalized rows)
// by AddEdge (O(E·D²)) and by AddNeighbors (O(E·D + N·D²)), side by side;
// items are not added, so only the graph term is timed.
func BenchmarkAccumulatorGraphTerm(b *testing.B) {
	bd := loadBeauty(b)
	opt := AccumulatorOptions{NormalizeInput: true}
	b.Run("AddEdge", func(b *testing.B) {
		for b.Loop() {
			a := accumulateShards(b, tensor.New(1, bd.x.Cols()), nil, opt, 1, nil, nil)[0]
			deg := bd.g.Degree()
			g := bd.g
			for i := 1; i < g.N; i++ {
				for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
					if j := int(g.Col[t]); j > i {
						require.NoError(b, a.AddEdge(bd.x.Row(i), bd.x.Row(j), g.Val[t], deg[i], deg[j]))
					}
				}
			}
			a.flush()
		}
	})
	b.Run("AddNeighbors", func(b *testing.B) {
		for b.Loop() {
			a := accumulateShards(b, tensor.New(1, bd.x.Cols()), nil, opt, 1, nil, nil)[0]
			deg := bd.g.Degree()
			g := bd.g
			nb, err := NewNeighborSum(bd.x.Cols(), opt)
			require.NoError(b, err)
			for i := 1; i < g.N; i++ {
				nb.Reset()
				for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
					require.NoError(b, nb.Add(bd.x.Row(int(g.Col[t])), g.Val[t], deg[g.Col[t]]))
				}
				require.NoError(b, a.AddNeighbors(bd.x.Row(i), deg[i], nb))
			}
			a.flush()
		}
	})
}
