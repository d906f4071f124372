package backbone

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
	"github.com/stretchr/testify/require"
)

// Four epochs of SASRec (the reference's settings) on Amazon Beauty must
// already beat the popularity baseline by a wide margin on the reference's
// sampled-100 protocol (valid stage, all users). The reference reaches valid
// NDCG@10 0.180 after one epoch and 0.300 after ten.
func TestBeautySASRecBeatsPopularity(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on real data")
	}
	split := beauty(t)
	ev, err := eval.NewEvaluator(split, eval.Config{Protocol: eval.Sampled, Seed: 42, Ks: []int{10}})
	require.NoError(t, err)
	pop, err := ev.Evaluate(context.Background(), eval.NewPopularity(data.ItemFrequency(split)), eval.Valid)
	require.NoError(t, err)
	popNDCG, _ := pop.Overall.Get("ndcg@10")

	m := newBeautySASRec(t, split, 42)
	tc := DefaultTrainConfig()
	tc.Epochs = 4
	h, err := Train(context.Background(), m, split.Train, tc, TrainOptions{KeepLast: true})
	require.NoError(t, err)
	require.Len(t, h.Epochs, 4)
	require.Less(t, h.Epochs[3].Loss, h.Epochs[0].Loss)
	res, err := ev.Evaluate(context.Background(), NewRecommender(m), eval.Valid)
	require.NoError(t, err)
	got, _ := res.Overall.Get("ndcg@10")
	t.Logf("valid NDCG@10 after 4 epochs: %.4f (popularity %.4f)", got, popNDCG)
	require.Greater(t, got, 0.22)
	require.Greater(t, got, popNDCG+0.04)
}

// BenchmarkTopK measures one user's top-10 over all 12,101 Beauty items
// (encode a history of 8 items with the reference-sized SASRec, score every
// item, bounded heap, history excluded).
func BenchmarkTopK(b *testing.B) {
	split := beauty(b)
	r := NewRecommender(newBeautySASRec(b, split, 1))
	rng := rand.New(rand.NewPCG(1, 1))
	var hists [][]int
	for len(hists) < 64 {
		u := rng.IntN(len(split.Train))
		if h := split.TestInput(u); len(h) >= 5 {
			hists = append(hists, h)
		}
	}
	buf := make([]Scored, 0, 10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := hists[i%len(hists)]
		buf, _ = r.AppendTopK(buf[:0], h, 10, h)
		i++
	}
}

// BenchmarkTopKAlloc is TopK returning a fresh slice (one allocation: the result).
func BenchmarkTopKAlloc(b *testing.B) {
	split := beauty(b)
	r := NewRecommender(newBeautySASRec(b, split, 1))
	h := split.TestInput(0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.TopK(h, 10, h); err != nil {
			b.Fatal(err)
		}
	}
}
