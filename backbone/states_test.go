package backbone

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

func TestLastStatesScoreLikeRecommender(t *testing.T) {
	const items = 40
	m := smallModel(t, "sasrec", items)
	rng := rand.New(rand.NewPCG(5, 6))
	seqs := synthSeqs(rng, 7, items, 1, 25) // some longer than MaxLen 10
	h, err := m.LastStates(seqs)
	require.NoError(t, err)
	require.Equal(t, []int{len(seqs), m.Enc.Dim()}, h.Shape)

	// the Recommender scores with the same states: ⟨h_u, e_i⟩ in float64
	// must match its ScoreAll.
	r := NewRecommender(m)
	out := make([]float32, len(seqs)*(items+1))
	require.NoError(t, r.ScoreAll(seqs, out))
	table := m.Items.Materialize(&tensor.Tensor{})
	d := m.Enc.Dim()
	for u := range seqs {
		for i := 1; i <= items; i++ {
			var s float64
			for k := range d {
				s += float64(h.Data[u*d+k]) * float64(table.Data[i*d+k])
			}
			require.InDelta(t, s, float64(out[u*(items+1)+i]), 1e-4*math.Max(1, math.Abs(s)), "user %d item %d", u, i)
		}
	}
}

func TestHiddenStatesRowsPerPosition(t *testing.T) {
	const items = 40
	m := smallModel(t, "sasrec", items)
	rng := rand.New(rand.NewPCG(7, 8))
	seqs := synthSeqs(rng, 5, items, 1, 25)
	all, err := m.HiddenStates(seqs)
	require.NoError(t, err)
	L, d := m.Enc.MaxLen(), m.Enc.Dim()
	want := 0
	for _, s := range seqs {
		want += min(len(s), L)
	}
	require.Equal(t, []int{want, d}, all.Shape)

	// each sequence alone gives the same rows as inside the batch, and its
	// last row is LastStates' row
	last, err := m.LastStates(seqs)
	require.NoError(t, err)
	row := 0
	for u, s := range seqs {
		one, err := m.HiddenStates([][]int{s})
		require.NoError(t, err)
		n := min(len(s), L)
		require.Equal(t, n, one.Shape[0])
		for k := range n * d {
			require.InDelta(t, one.Data[k], all.Data[row*d+k], 1e-5, "seq %d", u)
		}
		for k := range d {
			require.InDelta(t, last.Data[u*d+k], one.Data[(n-1)*d+k], 1e-6)
		}
		row += n
	}
}

func TestStatesRejectBadIDs(t *testing.T) {
	m := smallModel(t, "sasrec", 40)
	_, err := m.HiddenStates([][]int{{1, 2}, {3, 41}})
	require.ErrorContains(t, err, "item id 41 outside 1..40")
	_, err = m.LastStates([][]int{{0}})
	require.ErrorContains(t, err, "item id 0")
	h, err := m.LastStates([][]int{{}, {1}})
	require.NoError(t, err)
	for k := range m.Enc.Dim() {
		require.Zero(t, h.Data[k], "empty sequence gives a zero row")
	}
}
