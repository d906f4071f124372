package moe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// A served mixture adds items from their LLM embedding: each expert scores
// the new item with its own text-path vector, the gate gives it the
// coldest bin's weights, the mixed score is their weighted sum, and the
// snapshot served before the addition is unchanged.
func TestMixtureAddItemsFromText(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const n, d = 30, 8
	m := tinyMixture(t, n, d, r)
	llm := tensor.New(n+1, 12)
	for i := 12; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	opt := backbone.ItemEncoderOptions{LLM: llm}
	s, err := m.NewScorerWithText(opt)
	require.NoError(t, err)
	require.Equal(t, 12, s.LLMDim())
	old := s.Model()
	fresh := tensor.New(3, 12)
	for i := range fresh.Data {
		fresh.Data[i] = float32(r.NormFloat64())
	}
	first, err := s.AddItems(fresh)
	require.NoError(t, err)
	require.Equal(t, n+1, first)
	require.Equal(t, n+3, s.NumItems())
	require.Equal(t, n, old.NumItems()) // the old snapshot is untouched
	require.NoError(t, old.ScoreItems([][]int{{1, 2}}, nil, make([]float32, n+1)))

	// expected: Σ_k w_k(coldest bin) · ⟨h_k, v_k⟩ with v_k the expert's
	// text-path vector of the new item
	g := m.Gate.(*FreqGate)
	coldItem := 0
	for i := 1; i <= n; i++ {
		if g.Bin(i) == g.NumBins() {
			coldItem = i
			break
		}
	}
	w := s.GateWeights()
	hist := []int{3, 1, 4}
	got, err := s.Score(nil, hist, []int{n + 1, n + 2, n + 3})
	require.NoError(t, err)
	want := make([]float64, 3)
	for k, e := range m.Experts {
		sm, err := backbone.NewSeqModel(e.Enc, e.Items, backbone.ModelConfig{})
		require.NoError(t, err)
		er := backbone.NewRecommender(sm)
		enc, err := backbone.NewItemEncoder(e.Items, opt)
		require.NoError(t, err)
		v, err := enc.Encode(fresh)
		require.NoError(t, err)
		_, err = er.AddItemVectors(v)
		require.NoError(t, err)
		es, err := er.Score(nil, hist, []int{n + 1, n + 2, n + 3})
		require.NoError(t, err)
		for j := range want {
			want[j] += float64(w.Data[coldItem*3+k]) * float64(es[j])
		}
	}
	for j := range want {
		require.InDelta(t, want[j], float64(got[j]), 1e-5*math.Max(1, math.Abs(want[j])))
	}
	top, err := s.TopK(hist, n+3, hist)
	require.NoError(t, err)
	require.Len(t, top, n+3-3)

	// bad rows change nothing
	bad := tensor.New(1, 12)
	bad.Data[0] = float32(math.NaN())
	_, err = s.AddItems(bad)
	require.ErrorIs(t, err, backbone.ErrNonFinite)
	_, err = s.AddItems(tensor.New(1, 11))
	require.ErrorIs(t, err, backbone.ErrBadConfig)
	require.Equal(t, n+3, s.NumItems())
}
