package moe

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// fixedGate is a user's gate kind: the same expert weights for every item,
// kept in its Custom config (no parameters).
type fixedGate struct{ w []float32 }

func (g *fixedGate) Weights(t *autograd.Tape, items []int) *autograd.Value {
	k := len(g.w)
	out := tensor.New(len(items), k)
	for n := range items {
		copy(out.Data[n*k:], g.w)
	}
	return t.Const(out)
}

func (g *fixedGate) SavedGate() SavedGate {
	raw, _ := json.Marshal(g.w)
	return SavedGate{Kind: "test-fixed", Experts: len(g.w), Custom: raw}
}

var registerFixed = sync.OnceFunc(func() {
	RegisterGate("test-fixed", func(_ *rand.Rand, cfg SavedGate, _ int) (Gate, error) {
		g := &fixedGate{}
		if err := json.Unmarshal(cfg.Custom, &g.w); err != nil {
			return nil, err
		}
		if len(g.w) != cfg.Experts {
			return nil, errors.New("fixed gate: wrong number of weights")
		}
		return g, nil
	})
})

func TestRegisteredGateRoundTrip(t *testing.T) {
	registerFixed()
	r := rand.New(rand.NewPCG(7, 8))
	const n = 20
	m := padMixture(t, n, 8, false, r)
	m.Gate = &fixedGate{w: []float32{0.5, 0.3, 0.2}}
	m2, err := NewMixture(m.Experts, m.Gate, 1)
	require.NoError(t, err)
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 1, 8
	_, err = backbone.Train(context.Background(), m2, synthSeqs(r, 30, n), tc, backbone.TrainOptions{KeepLast: true})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, m2.Save(path))
	got, err := Load(path)
	require.NoError(t, err)
	require.IsType(t, &fixedGate{}, got.Gate)
	assert.Equal(t, []float32{0.5, 0.3, 0.2}, got.Gate.(*fixedGate).w)
	rec, err := LoadRecommender(path)
	require.NoError(t, err)
	s1, err := m2.NewScorer()
	require.NoError(t, err)
	a, err := s1.Score(nil, []int{1, 2, 3}, []int{4, 5})
	require.NoError(t, err)
	b, err := rec.Score(nil, []int{1, 2, 3}, []int{4, 5})
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestUnknownGateKind(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	m := padMixture(t, 10, 8, false, r)
	cfg, err := m.Config()
	require.NoError(t, err)
	cfg.Gate.Kind = "nope"
	_, err = Build(cfg)
	assert.True(t, errors.Is(err, backbone.ErrUnknownKind))
	assert.True(t, errors.Is(err, backbone.ErrBadConfig))
	assert.ErrorContains(t, err, `moe.RegisterGate("nope"`)
	cfg.Gate.Kind = "freq"
	cfg.Experts[1].Items.Kind = "nope-table"
	_, err = Build(cfg)
	assert.True(t, errors.Is(err, backbone.ErrUnknownKind))
	assert.Panics(t, func() { RegisterGate("freq", buildFreqGate) })
	assert.Subset(t, GateKinds(), []string{"feature", "freq"})
}
