package recpca

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/tensor"
)

// randomItems returns an [n+1, D] item matrix (row 0 zero) with entries
// offset + N(0, 1)·sd(column).
func randomItems(r *rand.Rand, n, D int, offset float64, sd func(j int) float64) *tensor.Tensor {
	x := tensor.New(n+1, D)
	for i := 1; i <= n; i++ {
		for j := range D {
			x.Row(i)[j] = float32(offset + r.NormFloat64()*sd(j))
		}
	}
	return x
}

// accumulateShards feeds the items 1..n of x and the edges of g into
// `shards` accumulators: item i to shard itemShard(i), edge (i, j) to shard
// edgeShard(i, j).
func accumulateShards(tb testing.TB, x *tensor.Tensor, g *Graph, opt AccumulatorOptions, shards int, itemShard func(i int) int, edgeShard func(i, j int) int) []*Accumulator {
	tb.Helper()
	D := x.Cols()
	accs := make([]*Accumulator, shards)
	for s := range accs {
		a, err := NewAccumulator(D, opt)
		require.NoError(tb, err)
		accs[s] = a
	}
	for i := 1; i < x.Rows(); i++ {
		require.NoError(tb, accs[itemShard(i)].AddItem(x.Row(i)))
	}
	if g != nil {
		deg := g.Degree()
		for i := 1; i < g.N; i++ {
			for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
				if j := int(g.Col[t]); j > i {
					require.NoError(tb, accs[edgeShard(i, j)].AddEdge(x.Row(i), x.Row(j), g.Val[t], deg[i], deg[j]))
				}
			}
		}
	}
	return accs
}

// mergeAll merges accs in the given order into a fresh accumulator.
func mergeAll(tb testing.TB, accs []*Accumulator, order []int) *Accumulator {
	tb.Helper()
	out, err := NewAccumulator(accs[0].Dim(), accs[0].Options())
	require.NoError(tb, err)
	for _, k := range order {
		require.NoError(tb, out.Merge(accs[k]))
	}
	return out
}

// mergeTree merges accs pairwise, (0,1), (2,3), ... then the results, the
// other grouping that a combiner tree produces.
func mergeTree(tb testing.TB, accs []*Accumulator) *Accumulator {
	tb.Helper()
	level := make([]*Accumulator, len(accs))
	for k, a := range accs {
		level[k] = mergeAll(tb, []*Accumulator{a}, []int{0})
	}
	for len(level) > 1 {
		var next []*Accumulator
		for k := 0; k < len(level); k += 2 {
			if k+1 < len(level) {
				require.NoError(tb, level[k].Merge(level[k+1]))
			}
			next = append(next, level[k])
		}
		level = next
	}
	return level[0]
}

// denseReference computes in float64, from the definitions, the centred
// Gram X̄ᵀX̄ and X̄ᵀLX̄ with a dense Laplacian (isolated nodes' rows and
// columns zero for the normalized one).
func denseReference(x *tensor.Tensor, g *Graph, normalize bool, kind LaplacianKind) (c, gl *mat.Dense, mean []float64) {
	n, D := x.Rows()-1, x.Cols()
	xb := mat.NewDense(n, D, nil)
	mean = make([]float64, D)
	for i := range n {
		r := x.Row(i + 1)
		s := 1.0
		if normalize {
			var q float64
			for _, v := range r {
				q += float64(v) * float64(v)
			}
			s = 1 / math.Sqrt(q)
		}
		for j, v := range r {
			xb.Set(i, j, float64(v)*s)
			mean[j] += float64(v) * s / float64(n)
		}
	}
	for i := range n {
		for j := range D {
			xb.Set(i, j, xb.At(i, j)-mean[j])
		}
	}
	c = &mat.Dense{}
	c.Mul(xb.T(), xb)
	lap := mat.NewDense(n, n, nil)
	deg := g.Degree()
	for i := 1; i < g.N; i++ {
		for j := 1; j < g.N; j++ {
			a := g.Weight(i, j)
			switch {
			case kind == Combinatorial && i == j:
				lap.Set(i-1, j-1, deg[i])
			case kind == Combinatorial:
				lap.Set(i-1, j-1, -a)
			case i == j && deg[i] > 0:
				lap.Set(i-1, j-1, 1)
			case a > 0:
				lap.Set(i-1, j-1, -a/math.Sqrt(deg[i]*deg[j]))
			}
		}
	}
	var lx mat.Dense
	lx.Mul(lap, xb)
	gl = &mat.Dense{}
	gl.Mul(xb.T(), &lx)
	return c, gl, mean
}

// offsetProblem returns 60 items in 7 dimensions with a common offset of
// 50 (the case where sums of uncentred products lose digits) and a random
// weighted graph in which items 56..60 are isolated.
func offsetProblem(tb testing.TB, r *rand.Rand) (*tensor.Tensor, *Graph) {
	tb.Helper()
	n, D := 60, 7
	x := randomItems(r, n, D, 50, func(j int) float64 { return float64(j + 1) })
	var edges []Edge
	for range 150 {
		i, j := 1+r.IntN(n-5), 1+r.IntN(n-5)
		edges = append(edges, Edge{I: i, J: j, W: float64(1 + r.IntN(3))})
	}
	g, err := NewGraph(n, edges)
	require.NoError(tb, err)
	return x, g
}

func maxRelDiff(a []float64, b *mat.Dense) float64 {
	var worst, scale float64
	raw := b.RawMatrix().Data
	for i, v := range raw {
		scale = math.Max(scale, math.Abs(v))
		worst = math.Max(worst, math.Abs(a[i]-v))
	}
	return worst / scale
}

// A small synthetic problem with a large common offset (the case where sums
// of uncentred products lose digits): the merged statistics equal the dense
// definitions for every sharding, Laplacian kind and row normalization.
func TestAccumulatorMatchesDefinitions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x, g := offsetProblem(t, r)
	n, D := x.Rows()-1, x.Cols()
	for _, kind := range []LaplacianKind{SymNormalized, Combinatorial} {
		for _, norm := range []bool{false, true} {
			wantC, wantG, wantMean := denseReference(x, g, norm, kind)
			opt := AccumulatorOptions{NormalizeInput: norm, Laplacian: kind}
			for _, shards := range []int{1, 3, 7} {
				accs := accumulateShards(t, x, g, opt, shards,
					func(i int) int { return (i * 5) % shards },
					func(i, j int) int { return (i + 2*j) % shards })
				order := r.Perm(shards)
				for name, a := range map[string]*Accumulator{"sequential": mergeAll(t, accs, order), "tree": mergeTree(t, accs)} {
					require.Equal(t, n, a.NumItems())
					require.Equal(t, g.NumEdges(), a.NumEdges())
					mu := a.Mean()
					for j := range D {
						assert.InDelta(t, wantMean[j], mu[j], 1e-12*math.Abs(wantMean[j]))
					}
					c := a.items.at(mu)
					gl := a.edges.at(mu)
					assert.Less(t, maxRelDiff(c, wantC), 1e-12, "C %v norm=%v shards=%d %s", kind, norm, shards, name)
					assert.Less(t, maxRelDiff(gl, wantG), 1e-12, "G %v norm=%v shards=%d %s", kind, norm, shards, name)
				}
			}
		}
	}
}

// FitStats gives Fit's projection on a synthetic problem for every option
// that applies, including NoCenter and Whiten; the reference is Fit's exact
// solver with float64 Gram matrices (Fit's default float32 GEMMs differ by
// ~1e-5 rad with NoCenter, where the offset dominates the Gram).
func TestFitStatsMatchesFitSynthetic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n, D := 300, 12
	x := randomItems(r, n, D, 1, func(j int) float64 { return 1 / float64(j+1) })
	var seqs [][]int
	for range 100 {
		s := make([]int, 6)
		for k := range s {
			s[k] = 1 + r.IntN(n)
		}
		seqs = append(seqs, s)
	}
	g, err := BuildGraph(seqs, n, GraphOptions{Window: 2})
	require.NoError(t, err)
	for _, opt := range []Options{
		{Dim: 4},
		{Dim: 4, Lambda: 0.5},
		{Dim: 4, Lambda: 0.5, Laplacian: Combinatorial},
		{Dim: 4, Lambda: 0.5, NormalizeInput: true},
		{Dim: 4, Lambda: 0.5, Standardize: true},
		{Dim: 4, Lambda: 0.5, NormalizeInput: true, Standardize: true},
		{Dim: 4, TargetVariance: 0.9},
		{Dim: 4, Lambda: 0.5, NoCenter: true},
		{Dim: 4, Lambda: 0.5, Whiten: true},
		{Dim: 4, Beta: 0.3},
	} {
		want, err := Fit(x, g, opt)
		require.NoError(t, err)
		accs := accumulateShards(t, x, g, AccumulatorOptions{NormalizeInput: opt.NormalizeInput, Laplacian: opt.Laplacian}, 2,
			func(i int) int { return i % 2 }, func(i, j int) int { return j % 2 })
		got, err := FitStats(mergeAll(t, accs, []int{1, 0}), opt)
		require.NoError(t, err, "%+v", opt)
		ang := principalAngles(want.W, got.W)
		tol := 1e-9
		if opt.Standardize {
			tol = 1e-6 // Fit standardizes into a float32 copy of the items
		}
		assert.Less(t, ang[len(ang)-1], tol, "%+v", opt)
		assert.InDelta(t, want.Stats.Lambda, got.Stats.Lambda, 1e-9*(1+want.Stats.Lambda), "%+v", opt)
		assert.InDelta(t, want.Stats.RetainedVariance, got.Stats.RetainedVariance, 1e-7, "%+v", opt)
		assert.InDelta(t, want.Stats.PCARetainedVariance, got.Stats.PCARetainedVariance, 1e-7, "%+v", opt)
		assert.InDelta(t, want.Stats.TraceRatio, got.Stats.TraceRatio, 1e-7*want.Stats.TraceRatio, "%+v", opt)
		if opt.Laplacian == Combinatorial {
			assert.InDelta(t, want.Stats.GraphTV, got.Stats.GraphTV, 1e-6*want.Stats.GraphTV)
		}
		// Same map on the items (Mean and the scale of W included).
		zw, zg := want.Transform(nil, x, false), got.Transform(nil, x, false)
		var diff, norm float64
		for k, v := range zw.Data {
			diff = math.Max(diff, math.Abs(float64(v-zg.Data[k])))
			norm = math.Max(norm, math.Abs(float64(v)))
		}
		assert.Less(t, diff, 1e-4*norm, "%+v", opt)
	}
}

// Standardize in Fit equals fitting StandardizeColumns's output, with the
// scaling folded into the projection.
func TestFitStandardizeOption(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n, D := 200, 6
	x := randomItems(r, n, D, 3, func(j int) float64 { return float64(j*j + 1) })
	a, err := Fit(x, nil, Options{Dim: 3, Standardize: true})
	require.NoError(t, err)
	xs := StandardizeColumns(nil, x)
	b, err := Fit(xs, nil, Options{Dim: 3})
	require.NoError(t, err)
	za, zb := a.Transform(nil, x, false), b.Transform(nil, xs, false)
	for k, v := range za.Data {
		assert.InDelta(t, zb.Data[k], v, 1e-5)
	}
}

func TestAccumulatorErrors(t *testing.T) {
	_, err := NewAccumulator(0, AccumulatorOptions{})
	assert.ErrorIs(t, err, ErrBadAccumulator)
	a, err := NewAccumulator(3, AccumulatorOptions{})
	require.NoError(t, err)
	assert.Error(t, a.AddItem([]float32{1, 2}))
	assert.Error(t, a.AddItem([]float32{1, float32(math.NaN()), 2}))
	assert.Error(t, a.AddEdge([]float32{1, 2, 3}, []float32{1, 2, 3}, -1, 1, 1))
	assert.Error(t, a.AddEdge([]float32{1, 2, 3}, []float32{1, 2, 3}, 2, 1, 5), "degree below the weight")
	assert.Equal(t, 0, a.NumItems())
	assert.Equal(t, 0, a.NumEdges())
	_, err = FitStats(a, Options{Dim: 1})
	assert.Error(t, err, "no items")
	require.NoError(t, a.AddItem([]float32{1, 2, 3}))
	require.NoError(t, a.AddItem([]float32{2, 2, 5}))
	_, err = FitStats(a, Options{Dim: 1, Lambda: 1})
	assert.ErrorIs(t, err, ErrEmptyGraph)
	_, err = FitStats(a, Options{Dim: 1, NormalizeInput: true})
	assert.Error(t, err, "options differ")
	_, err = FitStats(a, Options{Dim: 3})
	assert.Error(t, err, "d > NumItems")

	b, err := NewAccumulator(3, AccumulatorOptions{Laplacian: Combinatorial})
	require.NoError(t, err)
	assert.ErrorIs(t, a.Merge(b), ErrBadAccumulator)
	c, err := NewAccumulator(4, AccumulatorOptions{})
	require.NoError(t, err)
	assert.ErrorIs(t, a.Merge(c), ErrBadAccumulator)
}

// MarshalBinary round-trips exactly (pending rows included), and corrupt
// encodings are errors that leave the receiver unchanged.
func TestAccumulatorMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a, err := NewAccumulator(5, AccumulatorOptions{NormalizeInput: true})
	require.NoError(t, err)
	row := func() []float32 {
		v := make([]float32, 5)
		for k := range v {
			v[k] = float32(r.NormFloat64())
		}
		return v
	}
	for range 300 {
		require.NoError(t, a.AddItem(row()))
	}
	for range 20 {
		require.NoError(t, a.AddEdge(row(), row(), 1.5, 3, 4))
	}
	b, err := a.MarshalBinary()
	require.NoError(t, err)
	var back Accumulator
	require.NoError(t, back.UnmarshalBinary(b))
	assert.Equal(t, a.Options(), back.Options())
	assert.Equal(t, 300, back.NumItems())
	assert.Equal(t, 20, back.NumEdges())
	assert.Equal(t, a.items.ref, back.items.ref)
	assert.Equal(t, a.edges.s, back.edges.s)
	wantC := a.items.at(a.items.ref)
	gotC := back.items.at(back.items.ref)
	assert.Equal(t, wantC, gotC)
	b2, err := back.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, b, b2)

	for name, bad := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXXXXXXX"), b[8:]...),
		"truncated": b[:len(b)-1],
		"long":      append(append([]byte{}, b...), 0),
		"nan":       withFloat(b, len(b)-8, math.NaN()),
		"count":     withFloat(b, 24, 2.5),
	} {
		err := back.UnmarshalBinary(bad)
		assert.ErrorIs(t, err, ErrBadAccumulator, name)
		assert.Equal(t, 300, back.NumItems(), name)
	}
}

func withFloat(b []byte, off int, v float64) []byte {
	out := append([]byte{}, b...)
	u := math.Float64bits(v)
	for k := range 8 {
		out[off+k] = byte(u >> (8 * k))
	}
	return out
}

func FuzzAccumulatorUnmarshal(f *testing.F) {
	a, _ := NewAccumulator(2, AccumulatorOptions{})
	_ = a.AddItem([]float32{1, 2})
	_ = a.AddEdge([]float32{1, 2}, []float32{0, 1}, 1, 1, 1)
	b, _ := a.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var x Accumulator
		if err := x.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrBadAccumulator) {
				t.Fatalf("error %v does not wrap ErrBadAccumulator", err)
			}
			return
		}
		if _, err := x.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}
