package moe

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// padMixture builds PAD's phase-3 model at toy size with the real PAD
// tables: ID expert, aligned expert (align.FusedTable over an ID copy and a
// text projection) sharing nothing, and a text expert (fresh projection),
// the first two sharing one encoder when share is set.
func padMixture(t testing.TB, n, d int, share bool, r *rand.Rand) *Mixture {
	t.Helper()
	llm := tensor.New(n+1, 10)
	for i := 10; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads, cfg.Dropout, cfg.Style, cfg.OutProj = d, 6, 1, 1, 0, nn.StylePostLN, true
	enc := func() backbone.Encoder {
		e, err := backbone.NewSASRec(r, cfg)
		require.NoError(t, err)
		return e
	}
	tp, err := align.NewTextProjection(r, llm, d, 2, 0)
	require.NoError(t, err)
	fused, err := align.NewFusedTable(r, backbone.NewIDTable(r, n, d), tp, d, 0)
	require.NoError(t, err)
	text, err := align.NewTextProjection(r, llm, d, 2, 0)
	require.NoError(t, err)
	bins := make([]int, n+1)
	for i := 1; i <= n; i++ {
		bins[i] = 1 + (i-1)*4/n
	}
	gate, err := NewFreqGate(bins, PADInit(4, PADGamma2))
	require.NoError(t, err)
	e0, e1 := enc(), enc()
	if share {
		e1 = e0
	}
	m, err := NewMixture([]Expert{
		{Name: "id", Enc: e0, Items: backbone.NewIDTable(r, n, d)},
		{Name: "aligned", Enc: e1, Items: fused},
		{Name: "text", Enc: enc(), Items: text},
	}, gate, 1)
	require.NoError(t, err)
	return m
}

// TestMixtureSaveLoadServes trains a PAD mixture briefly, saves it, loads
// it and checks that the reloaded Scorer gives bit-identical scores and the
// same top-k, for separate and shared encoders.
func TestMixtureSaveLoadServes(t *testing.T) {
	for _, share := range []bool{false, true} {
		r := rand.New(rand.NewPCG(21, 22))
		const n = 30
		m := padMixture(t, n, 8, share, r)
		tc := backbone.DefaultTrainConfig()
		tc.Epochs, tc.BatchSize = 2, 8
		_, err := backbone.Train(context.Background(), m, synthSeqs(r, 40, n), tc, backbone.TrainOptions{KeepLast: true})
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "pad.safetensors")
		require.NoError(t, m.Save(path))
		_, err = os.Stat(backbone.JSONPath(path))
		require.NoError(t, err)
		got, err := Load(path)
		require.NoError(t, err)
		assert.Equal(t, nn.SortedNames(m.Params()), nn.SortedNames(got.Params()))
		if share {
			assert.Same(t, got.Experts[0].Enc, got.Experts[1].Enc)
		} else {
			assert.NotSame(t, got.Experts[0].Enc, got.Experts[1].Enc)
		}
		s1, err := m.NewScorer()
		require.NoError(t, err)
		s2, err := LoadScorer(path)
		require.NoError(t, err)
		inputs := [][]int{{1, 2, 3}, {30, 4}, {5, 6, 7, 8, 9, 10, 11}}
		a := make([]float32, 3*(n+1))
		b := make([]float32, 3*(n+1))
		require.NoError(t, s1.ScoreAll(inputs, a))
		require.NoError(t, s2.ScoreAll(inputs, b))
		assert.Equal(t, a, b, "share=%v", share)
		top1, err := s1.TopK(inputs[2], 5, inputs[2])
		require.NoError(t, err)
		top2, err := s2.TopK(inputs[2], 5, inputs[2])
		require.NoError(t, err)
		assert.Equal(t, top1, top2)
	}
}

// TestScorerTopKAndScore checks TopK against a sort of ScoreAll done here,
// and Score against ScoreAll.
func TestScorerTopKAndScore(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	const n = 25
	s, err := padMixture(t, n, 8, false, r).NewScorer()
	require.NoError(t, err)
	hist := []int{3, 9, 9, 12}
	all := make([]float32, n+1)
	require.NoError(t, s.ScoreAll([][]int{hist}, all))
	// naive: repeatedly pick the best remaining non-excluded item
	taken := map[int]bool{0: true, 3: true, 9: true, 12: true}
	var want []int
	for range 6 {
		best := -1
		for it := 1; it <= n; it++ {
			if !taken[it] && (best < 0 || all[it] > all[best]) {
				best = it
			}
		}
		taken[best] = true
		want = append(want, best)
	}
	top, err := s.TopK(hist, 6, hist)
	require.NoError(t, err)
	require.Len(t, top, 6)
	for i, sc := range top {
		assert.Equal(t, want[i], sc.Item)
		assert.Equal(t, all[sc.Item], sc.Score)
	}
	got, err := s.Score(nil, hist, []int{1, 25, 7})
	require.NoError(t, err)
	for i, it := range []int{1, 25, 7} {
		assert.InDelta(t, all[it], got[i], 1e-5)
	}
	_, err = s.Score(nil, hist, []int{26})
	assert.ErrorContains(t, err, "outside 1..25")
	all20, err := s.TopK(hist, 100, nil)
	require.NoError(t, err)
	assert.Len(t, all20, n)
}

func TestLoadErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	m := padMixture(t, 12, 8, false, r)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	require.NoError(t, m.Save(path))
	// a NaN weight is refused
	m.Experts[0].Items.Params()[0].Value.Data.Data[8] = float32(math.NaN())
	bad := filepath.Join(dir, "bad.safetensors")
	require.ErrorIs(t, m.Save(bad), ErrNonFinite)
	assert.NoFileExists(t, bad)
	cfg, err := m.Config()
	require.NoError(t, err)
	var ts []safetensors.Named
	for _, p := range m.savedParams() {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	require.NoError(t, backbone.WriteCheckpoint(bad, metaKey, cfg, nil, ts))
	_, err = Load(bad)
	assert.ErrorContains(t, err, "non-finite")
	assert.ErrorIs(t, err, ErrNonFinite)
	assert.ErrorIs(t, err, ErrBadCheckpoint)
	_, err = Load(filepath.Join(dir, "missing.safetensors"))
	assert.Error(t, err)
	// a mixture whose gate cannot be saved
	m.Gate = gateFunc(func(tp *autograd.Tape, items []int) *autograd.Value { return nil })
	assert.ErrorContains(t, m.Save(path), "cannot save a gate")
}

type gateFunc func(t *autograd.Tape, items []int) *autograd.Value

func (g gateFunc) Weights(t *autograd.Tape, items []int) *autograd.Value { return g(t, items) }
