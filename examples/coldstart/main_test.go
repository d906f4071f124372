package main

import (
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// The fold holds out the seeded share of items entirely: warm items keep
// ids 1..W and cold ones W+1..N (with their LLM rows moved along), no
// training sequence of the warm model contains a cold item, and users are
// told apart by their test target.
func TestMakeFold(t *testing.T) {
	const n = 40
	rng := rand.New(rand.NewPCG(1, 1))
	ds := &data.Dataset{NumItems: n}
	for range 60 {
		s := make([]int, 3+rng.IntN(6))
		for j := range s {
			s[j] = 1 + rng.IntN(n)
		}
		ds.Seqs = append(ds.Seqs, s)
	}
	ds.Seqs = append(ds.Seqs, []int{1, 2}) // too short to test
	x := tensor.New(n+1, 3)
	for i := 1; i <= n; i++ {
		x.Row(i)[0] = float32(i) // row i remembers its original id
	}
	f := makeFold(ds, x, 0.1, rand.New(rand.NewPCG(7, 1)))
	require.Equal(t, n, f.numItems)
	require.Equal(t, n-4, f.numWarm)
	// the remapping is a permutation that keeps warm before cold
	orig := map[int]int{}
	for id := 1; id <= n; id++ {
		o := int(f.x.Row(id)[0])
		require.NotZero(t, o)
		orig[o] = id
	}
	require.Len(t, orig, n)
	for _, s := range f.trainWarm {
		for _, it := range s {
			require.LessOrEqual(t, it, f.numWarm)
		}
	}
	require.Len(t, f.trainAll, len(ds.Seqs))
	for u, s := range ds.Seqs[:60] {
		want := make([]int, len(s)-2)
		for j, it := range s[:len(s)-2] {
			want[j] = orig[it]
		}
		require.Equal(t, want, f.trainAll[u])
	}
	require.Equal(t, 60, len(f.cold)+len(f.warm))
	for _, u := range f.cold {
		require.Greater(t, u.target, f.numWarm)
	}
	for _, u := range f.warm {
		require.LessOrEqual(t, u.target, f.numWarm)
	}
	// the validation step: the training part predicts the item before the
	// test target, split by that item's kind
	require.Equal(t, 60, len(f.validCold)+len(f.validWarm))
	for _, v := range f.validCold {
		require.Greater(t, v.target, f.numWarm)
	}
	for _, v := range f.validWarm {
		require.LessOrEqual(t, v.target, f.numWarm)
	}
	for u, s := range ds.Seqs[:60] {
		v := orig[s[len(s)-2]]
		require.True(t, slices.ContainsFunc(append(slices.Clip(f.validCold), f.validWarm...), func(tu testUser) bool {
			return tu.target == v && slices.Equal(tu.hist, f.trainAll[u])
		}), "user %d", u)
	}
	// the same seed draws the same cold items
	g := makeFold(ds, x, 0.1, rand.New(rand.NewPCG(7, 1)))
	require.True(t, slices.Equal(f.x.Data, g.x.Data))
}

func TestParseErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-data", "d", "-seeds", "0"},
		{"-data", "d", "-cold", "1"},
		{"-data", "d", "-kinds", "id,nope"},
		{"-data", "d", "extra"},
		{"-data", "d", "-patience", "-1"},
		{"-data", "d", "-loss", "nope"},
		{"-data", "d", "-eval-every", "0"},
	} {
		_, err := parse(args, io.Discard)
		require.Error(t, err, "%q", args)
	}
	o, err := parse([]string{"-data", "d", "-kinds", "dual, id,dual"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"dual", "id"}, o.kinds)
}

// Random rows follow the table's per-dimension moments (row 0, the padding,
// is ignored): columns with means 3 and -1 and standard deviations 0.5 and
// 2 give samples with those moments.
func TestRandomRowsMoments(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	const n = 4000
	table := tensor.New(n+1, 2)
	table.Row(0)[0], table.Row(0)[1] = 1e6, 1e6
	for r := 1; r <= n; r++ {
		table.Row(r)[0] = float32(3 + 0.5*rng.NormFloat64())
		table.Row(r)[1] = float32(-1 + 2*rng.NormFloat64())
	}
	out := randomRows(table, n, rand.New(rand.NewPCG(3, 3)))
	require.Equal(t, []int{n, 2}, out.Shape)
	for j, want := range [][2]float64{{3, 0.5}, {-1, 2}} {
		var m, ss float64
		for r := range n {
			m += float64(out.Row(r)[j])
		}
		m /= n
		for r := range n {
			d := float64(out.Row(r)[j]) - m
			ss += d * d
		}
		sd := math.Sqrt(ss / (n - 1))
		// 4000 draws: the sample mean is within ~4 standard errors, the std within 10%
		require.InDelta(t, want[0], m, 4*want[1]/math.Sqrt(n), "column %d mean", j)
		require.InDelta(t, want[1], sd, 0.1*want[1], "column %d std", j)
	}
}
