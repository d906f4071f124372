package moe

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/nn"
)

// pantryMixture builds a small PAD mixture on Amazon Prime Pantry: an ID
// expert, an aligned expert (ID ⊕ adapted text) and a text expert (adapted
// USE-lite title embeddings), each with a one-block post-LN SASRec of width
// d, and PAD's frequency gate over the 10 training-popularity bins.
func pantryMixture(t testing.TB, d int, r *rand.Rand) (*Mixture, *data.Split) {
	t.Helper()
	ds, err := data.Load(sharedtest.File(t, "amazon-pantry/pantry_seq.txt"), data.Options{IDs: data.IDKeep, NumItems: 8347})
	require.NoError(t, err)
	split := data.LeaveOneOut(ds)
	llm, err := data.LoadNPY(sharedtest.File(t, "amazon-pantry/item_emb_use_lite_512.npy"))
	require.NoError(t, err)
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads, cfg.Dropout, cfg.Style = d, 20, 1, 1, 0.2, nn.StylePostLN
	enc := func() backbone.Encoder {
		e, err := backbone.NewSASRec(r, cfg)
		require.NoError(t, err)
		return e
	}
	half, err := backbone.NewAdapterTable(r, llm, d/2, nil, nn.Identity)
	require.NoError(t, err)
	aligned, err := backbone.NewConcatTable(backbone.NewIDTable(r, 8347, d/2), half)
	require.NoError(t, err)
	text, err := backbone.NewAdapterTable(r, llm, d, nil, nn.Identity)
	require.NoError(t, err)
	gate, err := NewFreqGate(data.PopularityBins(data.ItemFrequency(split), 10), PADInit(10, PADGamma2))
	require.NoError(t, err)
	m, err := NewMixture([]Expert{
		{Name: "id", Enc: enc(), Items: backbone.NewIDTable(r, 8347, d)},
		{Name: "aligned", Enc: enc(), Items: aligned},
		{Name: "text", Enc: enc(), Items: text},
	}, gate, 1)
	require.NoError(t, err)
	return m, split
}

// TestMixtureTrainsOnPantry trains the mixture for a few epochs with
// backbone.Train and checks a quality floor on the test stage (full
// ranking, history removed, 3000 users), then saves, reloads and serves it
// through a backbone.Recommender with the same results.
func TestMixtureTrainsOnPantry(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on Pantry (about 10 s, minutes under -race); run without -short")
	}
	epochs := 2
	if os.Getenv("LLMREC_LONG") != "" {
		epochs = 20
	}
	r := rand.New(rand.NewPCG(1, 1))
	m, split := pantryMixture(t, 32, r)
	ev, err := eval.NewEvaluator(split, eval.Config{Users: 3000, Seed: 1})
	require.NoError(t, err)
	ctx := context.Background()
	score := func() float64 {
		s, err := m.NewScorer()
		require.NoError(t, err)
		res, err := ev.Evaluate(ctx, s, eval.Test)
		require.NoError(t, err)
		v, _ := res.Overall.Get("ndcg@10")
		return v
	}
	before := score()
	pop, err := ev.Evaluate(ctx, popScorer(data.ItemFrequency(split)), eval.Test)
	require.NoError(t, err)
	popNDCG, _ := pop.Overall.Get("ndcg@10")
	cfg := backbone.DefaultTrainConfig()
	cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Seed = epochs, 128, 1e-3, 1
	start := time.Now()
	hist, err := backbone.Train(ctx, m, split.Train, cfg, backbone.TrainOptions{KeepLast: true})
	require.NoError(t, err)
	after := score()
	t.Logf("Pantry mixture d=32, %d epochs in %v (final loss %.4f): test NDCG@10 (full ranking, 3000 users) untrained %.4f, trained %.4f, popularity %.4f",
		epochs, time.Since(start).Round(time.Millisecond), hist.Epochs[len(hist.Epochs)-1].Loss, before, after, popNDCG)
	s, err := m.NewScorer()
	require.NoError(t, err)
	w := s.GateWeights()
	for _, it := range []int{1, 2, 3} {
		t.Logf("gate weights of item %d: %.3f", it, w.Row(it))
	}
	assert.Greater(t, after, 2*before)
	assert.Greater(t, after, popNDCG)

	// saved, reloaded and served by a backbone.Recommender: the same test
	// NDCG and the same top 10 (scores bit for bit) as the trained mixture
	path := filepath.Join(t.TempDir(), "pantry-pad.safetensors")
	require.NoError(t, m.Save(path))
	var rec *backbone.Recommender
	rec, err = LoadRecommender(path)
	require.NoError(t, err)
	res, err := ev.Evaluate(ctx, rec, eval.Test)
	require.NoError(t, err)
	reloaded, _ := res.Overall.Get("ndcg@10")
	assert.Equal(t, after, reloaded)
	for u := range 20 {
		hist := split.TestInput(u)
		a, err := s.TopK(hist, 10, hist)
		require.NoError(t, err)
		b, err := rec.TopK(hist, 10, hist)
		require.NoError(t, err)
		require.Equal(t, a, b, "user %d", u)
	}
}

// popScorer scores every item by its training frequency.
type popScorer []int

func (p popScorer) ScoreAll(inputs [][]int, out []float32) error {
	n1 := len(p)
	for i := range inputs {
		for j, f := range p {
			out[i*n1+j] = float32(f)
		}
	}
	return nil
}
