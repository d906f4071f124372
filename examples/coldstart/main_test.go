package main

import (
	"io"
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
	} {
		_, err := parse(args, io.Discard)
		require.Error(t, err, "%q", args)
	}
	o, err := parse([]string{"-data", "d", "-kinds", "dual, id,dual"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"dual", "id"}, o.kinds)
}
