package recpca

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
)

// beautyShards accumulates Beauty (items and window-1 graph edges) into 5
// shards, items and edges assigned by different rules.
func beautyShards(tb testing.TB, b beautyData, opt AccumulatorOptions) []*Accumulator {
	return accumulateShards(tb, b.x, b.g, opt, 5,
		func(i int) int { return (i * 7) % 5 },
		func(i, j int) int { return (i ^ j) % 5 })
}

// FitStats on merged shard statistics gives Fit's projection on Beauty
// (12,101 x 512 -> 64, window-1 graph) to within 1e-5 rad for every option
// that applies, and the merge order and grouping do not matter. Long
// (LLMREC_LONG=1): two accumulations of 12,101 items and 111,649 edges,
// O((n + E)·D²) each.
func TestFitStatsBeauty(t *testing.T) {
	longTests(t)
	b := loadBeauty(t)
	shards := beautyShards(t, b, AccumulatorOptions{})
	seq := mergeAll(t, shards, []int{3, 0, 4, 1, 2})
	tree := mergeTree(t, shards)

	// Merge order and grouping: the same statistics to float64 rounding.
	c1, c2 := seq.items.at(seq.items.ref), tree.items.at(tree.items.ref)
	g1, g2 := seq.edges.at(seq.items.ref), tree.edges.at(tree.items.ref)
	assert.Less(t, relDiff(c1, c2), 1e-13, "centred Gram")
	assert.Less(t, relDiff(g1, g2), 1e-13, "graph Gram")

	normShards := beautyShards(t, b, AccumulatorOptions{NormalizeInput: true})
	norm := mergeTree(t, normShards)
	for _, c := range []struct {
		acc *Accumulator
		opt Options
	}{
		{seq, Options{Dim: 64}},
		{seq, Options{Dim: 64, Lambda: 0.9}}, // edge of the useful band: M nearly cancels
		{tree, Options{Dim: 64, Lambda: 0.3}},
		{seq, Options{Dim: 64, TargetVariance: 0.9}},
		{seq, Options{Dim: 64, Lambda: 0.9, Standardize: true}},
		{norm, Options{Dim: 64, Lambda: 0.9, NormalizeInput: true}},
		{norm, Options{Dim: 64, TargetVariance: 0.8, NormalizeInput: true, Standardize: true}},
	} {
		want, err := Fit(b.x, b.g, c.opt)
		require.NoError(t, err)
		got, err := FitStats(c.acc, c.opt)
		require.NoError(t, err)
		ang := principalAngles(want.W, got.W)
		t.Logf("%+v: largest principal angle %.3g rad; λ %.6f vs %.6f; retained %.10f vs %.10f",
			c.opt, ang[len(ang)-1], got.Stats.Lambda, want.Stats.Lambda, got.Stats.RetainedVariance, want.Stats.RetainedVariance)
		assert.Less(t, ang[len(ang)-1], 1e-5, "%+v", c.opt)
		assert.InDelta(t, want.Stats.Lambda, got.Stats.Lambda, 1e-6*(1+want.Stats.Lambda))
		assert.InDelta(t, want.Stats.RetainedVariance, got.Stats.RetainedVariance, 1e-7)
		assert.InDelta(t, want.Stats.TraceRatio, got.Stats.TraceRatio, 1e-6*want.Stats.TraceRatio)
		for j, v := range want.Eigenvalues {
			assert.InDelta(t, v, got.Eigenvalues[j], 1e-5*want.Eigenvalues[0], "eigenvalue %d", j)
		}
	}
}

func relDiff(a, b []float64) float64 {
	var worst, scale float64
	for i, v := range a {
		scale = math.Max(scale, math.Abs(v))
		worst = math.Max(worst, math.Abs(v-b[i]))
	}
	return worst / scale
}

// Partial graphs counted on shards of the training sequences, merged in
// either order, give BuildGraph's graph on ml-100k and Beauty, for windows,
// decay, user-level pairs and TopK.
func TestPartialGraphMatchesBuildGraph(t *testing.T) {
	b := loadBeauty(t)
	ml, err := data.Load(sharedtest.File(t, "ml-100k/ml-100k_seq.txt"), data.Options{Format: data.FormatSeq})
	require.NoError(t, err)
	mlSeqs := data.LeaveOneOut(ml).Train
	for _, ds := range []struct {
		name     string
		seqs     [][]int
		numItems int
	}{
		{"ml-100k", mlSeqs, ml.NumItems},
		{"beauty", b.seqs, b.x.Rows() - 1},
	} {
		for _, opt := range []GraphOptions{{}, {Window: 3, Decay: true}, {Window: UserLevel}, {Window: 2, TopK: 10}} {
			if opt.Window == UserLevel && ds.name == "ml-100k" {
				continue // ~10⁷ pairs: too long for a unit test
			}
			want, err := BuildGraph(ds.seqs, ds.numItems, opt)
			require.NoError(t, err)
			parts := make([]*PartialGraph, 3)
			for k := range parts {
				parts[k], err = NewPartialGraph(ds.numItems, opt)
				require.NoError(t, err)
			}
			for u, s := range ds.seqs {
				require.NoError(t, parts[(u*7)%3].Add(s))
			}
			// Through the encoding, as a distributed job would ship them.
			enc, err := parts[1].MarshalBinary()
			require.NoError(t, err)
			var p1 PartialGraph
			require.NoError(t, p1.UnmarshalBinary(enc))
			require.NoError(t, parts[2].Merge(&p1))
			require.NoError(t, parts[2].Merge(parts[0]))
			got, err := parts[2].Graph()
			require.NoError(t, err)
			require.Equal(t, want.N, got.N)
			require.Equal(t, want.RowPtr, got.RowPtr, "%s %+v", ds.name, opt)
			require.Equal(t, want.Col, got.Col)
			if opt.Decay {
				for k, v := range want.Val {
					require.InDelta(t, v, got.Val[k], 1e-12*v)
				}
			} else {
				require.Equal(t, want.Val, got.Val, "unit weights sum exactly")
			}
			t.Logf("%s %+v: %d edges", ds.name, opt, got.NumEdges())
		}
	}
}
