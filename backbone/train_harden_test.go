package backbone

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trainNaN trains the fake model (one user, so one step per epoch) with a
// NaN loss at step nanAt and returns the weight after Train and the weight
// seen at the end of every epoch.
func trainNaN(t *testing.T, nanAt int, validate bool, keepLast bool) (float32, []float32, *History, error) {
	t.Helper()
	f := newFake()
	f.losses = map[int]float64{nanAt: math.NaN()}
	var seen []float32
	opt := TrainOptions{KeepLast: keepLast, OnEpoch: func(EpochStats) { seen = append(seen, f.w.Data.Data[0]) }}
	if validate {
		// the metric peaks at epoch 2
		opt.Validate = func(_ context.Context, epoch int) (map[string]float64, error) {
			return map[string]float64{"ndcg@10": -math.Abs(float64(epoch) - 2)}, nil
		}
	}
	cfg := TrainConfig{Epochs: 10, BatchSize: 1, LR: 0.1}
	h, err := Train(context.Background(), f, [][]int{{1, 2}}, cfg, opt)
	return f.w.Data.Data[0], seen, h, err
}

// Issue 12 row 5: Train stopping on a non-finite loss leaves the model at
// its last finite state and says so (before: the weights of the failing
// step stayed, and the error did not wrap ErrNonFinite).
func TestTrainNonFiniteLossRestores(t *testing.T) {
	// Without validation: the weights at the end of epoch 3.
	w, seen, h, err := trainNaN(t, 4, false, false)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.ErrorContains(t, err, "epoch 4 step 1")
	assert.ErrorContains(t, err, "weights of epoch 3, the last finite one")
	require.Len(t, seen, 3)
	assert.Equal(t, seen[2], w)
	assert.Equal(t, StopNonFinite, h.StopReason)

	// With validation, even with KeepLast: the best epoch (2).
	for _, keep := range []bool{false, true} {
		w, seen, _, err = trainNaN(t, 5, true, keep)
		require.ErrorIs(t, err, ErrNonFinite)
		assert.ErrorContains(t, err, "weights of epoch 2, the best validated")
		require.Len(t, seen, 4)
		assert.Equal(t, seen[1], w, "keepLast %v", keep)
	}

	// At the first step: the initial weights.
	w, _, _, err = trainNaN(t, 1, false, false)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.ErrorContains(t, err, "initial weights")
	assert.Equal(t, float32(0), w)
}

// Issue 12 row 11: a NaN, infinite or negative optimizer setting is a
// config error (before: ClipNorm NaN silently turned clipping off).
func TestTrainConfigRejectsNonFinite(t *testing.T) {
	for name, edit := range map[string]func(c *TrainConfig){
		"clip NaN":  func(c *TrainConfig) { c.ClipNorm = math.NaN() },
		"clip -1":   func(c *TrainConfig) { c.ClipNorm = -1 },
		"lr Inf":    func(c *TrainConfig) { c.LR = math.Inf(1) },
		"decay NaN": func(c *TrainConfig) { c.WeightDecay = math.NaN() },
		"beta2 NaN": func(c *TrainConfig) { c.Beta2 = math.NaN() },
		"epochs -1": func(c *TrainConfig) { c.Epochs = -1 },
		"eps -Inf":  func(c *TrainConfig) { c.Eps = math.Inf(-1) },
	} {
		c := TrainConfig{Epochs: 1, BatchSize: 1}
		edit(&c)
		_, err := Train(context.Background(), newFake(), [][]int{{1, 2}}, c, TrainOptions{})
		assert.ErrorIs(t, err, ErrBadConfig, name)
	}
}

// Issue 21, sharp edge: a bad training setting is named in the error (before:
// "negative training setting in {Epochs:1 BatchSize:1 LR:-0.001 ...}", the
// whole config, for the reader to search).
func TestTrainConfigNamesTheField(t *testing.T) {
	for field, edit := range map[string]func(c *TrainConfig){
		"TrainConfig.LR is -0.001":     func(c *TrainConfig) { c.LR = -1e-3 },
		"TrainConfig.MinLR is -1":      func(c *TrainConfig) { c.MinLR = -1 },
		"TrainConfig.BatchSize is -2":  func(c *TrainConfig) { c.BatchSize = -2 },
		"TrainConfig.ClipNorm is NaN":  func(c *TrainConfig) { c.ClipNorm = math.NaN() },
		"TrainConfig.Patience is -1":   func(c *TrainConfig) { c.Patience = -1 },
		"TrainConfig.Momentum is -0.5": func(c *TrainConfig) { c.Momentum = -0.5 },
	} {
		c := TrainConfig{Epochs: 1, BatchSize: 1}
		edit(&c)
		_, err := Train(context.Background(), newFake(), [][]int{{1, 2}}, c, TrainOptions{})
		require.ErrorIs(t, err, ErrBadConfig, field)
		require.ErrorContains(t, err, field)
		require.NotContains(t, err.Error(), "Beta1", "only the bad field is named")
	}
}
