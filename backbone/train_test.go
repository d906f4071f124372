package backbone

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// fakeModel has one parameter w; its loss is (w-target)², and it counts
// calls. losses, when set, overrides the returned loss per call.
type fakeModel struct {
	w      *autograd.Value
	target float32
	calls  int
	losses map[int]float64
	users  int
}

func newFake() *fakeModel {
	return &fakeModel{w: autograd.NewParam(tensor.New(1)), target: 3}
}

func (f *fakeModel) Params() []nn.Param { return []nn.Param{{Name: "w", Value: f.w}} }

func (f *fakeModel) LossGrad(seqs [][]int, rng *rand.Rand) (float64, error) {
	f.calls++
	f.users += len(seqs)
	d := f.w.Data.Data[0] - f.target
	f.w.Grad.Data[0] += 2 * d
	if l, ok := f.losses[f.calls]; ok {
		return l, nil
	}
	return float64(d * d), nil
}

func fakeTrain(n int) [][]int {
	out := make([][]int, n)
	for i := range out {
		out[i] = []int{1, 2, 3}
	}
	out[0] = []int{1} // too short: skipped
	return out
}

func TestTrainEarlyStoppingRestoresBest(t *testing.T) {
	m := newFake()
	// validation peaks at epoch 3, then declines
	vals := []float64{0.1, 0.2, 0.5, 0.4, 0.3, 0.3, 0.2, 0.1, 0.1, 0.1}
	var seen []int
	var wAtBest float32
	h, err := Train(context.Background(), m, fakeTrain(11), TrainConfig{Epochs: 10, BatchSize: 4, LR: 0.1, Patience: 3},
		TrainOptions{
			Validate: func(ctx context.Context, epoch int) (map[string]float64, error) {
				if epoch == 3 {
					wAtBest = m.w.Data.Data[0]
				}
				return map[string]float64{"ndcg@10": vals[epoch-1]}, nil
			},
			OnEpoch: func(e EpochStats) { seen = append(seen, e.Epoch) },
		})
	require.NoError(t, err)
	require.Equal(t, StopPatience, h.StopReason)
	require.Equal(t, 3, h.BestEpoch)
	require.Equal(t, []int{1, 2, 3, 4, 5, 6}, seen, "stops 3 epochs after the best")
	require.Len(t, h.Epochs, 6)
	require.True(t, h.Epochs[2].Improved)
	require.False(t, h.Epochs[3].Improved)
	require.Equal(t, 0.5, h.Best["ndcg@10"])
	// 10 users with >= 2 items, batches of 4: 3 steps per epoch
	require.Equal(t, 3, h.Epochs[0].Steps)
	require.Equal(t, 18, m.calls)
	require.Equal(t, 60, m.users)
	// best weights restored
	require.Equal(t, wAtBest, m.w.Data.Data[0])
	require.Len(t, h.EpochSeconds(), 6)
}

func TestTrainConvergesWithAdam(t *testing.T) {
	m := newFake()
	h, err := Train(context.Background(), m, fakeTrain(9), TrainConfig{Epochs: 300, BatchSize: 8, LR: 0.05}, TrainOptions{KeepLast: true})
	require.NoError(t, err)
	require.Equal(t, StopEpochs, h.StopReason)
	require.InDelta(t, 3, m.w.Data.Data[0], 0.05)
}

func TestTrainNonFiniteLoss(t *testing.T) {
	m := newFake()
	m.losses = map[int]float64{6: math.NaN()} // epoch 2, step 3 with 3 steps per epoch
	_, err := Train(context.Background(), m, fakeTrain(11), TrainConfig{Epochs: 5, BatchSize: 4}, TrainOptions{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "epoch 2 step 3")
	require.Contains(t, err.Error(), "non-finite loss")
}

func TestTrainCanceled(t *testing.T) {
	m := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	h, err := Train(ctx, m, fakeTrain(11), TrainConfig{Epochs: 100, BatchSize: 4},
		TrainOptions{OnEpoch: func(e EpochStats) {
			if e.Epoch == 2 {
				cancel()
			}
		}})
	require.True(t, errors.Is(err, context.Canceled))
	require.Equal(t, StopCanceled, h.StopReason)
	require.Len(t, h.Epochs, 2)
	require.Equal(t, 6, m.calls)
}

func TestTrainValidationErrors(t *testing.T) {
	m := newFake()
	_, err := Train(context.Background(), m, fakeTrain(11), TrainConfig{Epochs: 2, BatchSize: 4},
		TrainOptions{Validate: func(ctx context.Context, epoch int) (map[string]float64, error) {
			return map[string]float64{"hr@10": 1}, nil
		}})
	require.ErrorContains(t, err, `no "ndcg@10"`)
	_, err = Train(context.Background(), m, [][]int{{1}, {2}}, TrainConfig{}, TrainOptions{})
	require.ErrorContains(t, err, "no user has 2 or more")
}

func TestTrainSeeded(t *testing.T) {
	run := func() []float32 {
		rng := rand.New(rand.NewPCG(1, 1))
		cfg, cerr := DefaultEncoderConfig("sasrec")
		require.NoError(t, cerr)
		cfg.Dim, cfg.MaxLen, cfg.Blocks = 8, 5, 1
		enc, err := NewSASRec(rng, cfg)
		require.NoError(t, err)
		m, err := NewSeqModel(enc, NewIDTable(rng, 30, 8), ModelConfig{})
		require.NoError(t, err)
		_, err = Train(context.Background(), m, synthSeqs(rand.New(rand.NewPCG(2, 2)), 40, 30, 2, 8),
			TrainConfig{Epochs: 2, BatchSize: 8, Seed: 5}, TrainOptions{})
		require.NoError(t, err)
		return append([]float32(nil), enc.pos.Data.Data...)
	}
	require.Equal(t, run(), run(), "same seed, same weights")
}

func TestTrainCanceledDuringValidation(t *testing.T) {
	m := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	h, err := Train(ctx, m, fakeTrain(11), TrainConfig{Epochs: 10, BatchSize: 4},
		TrainOptions{Validate: func(ctx context.Context, epoch int) (map[string]float64, error) {
			if epoch == 3 {
				cancel()
				return nil, ctx.Err()
			}
			return map[string]float64{"ndcg@10": float64(epoch)}, nil
		}})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "epoch 3")
	require.Equal(t, StopCanceled, h.StopReason)
	require.Equal(t, 2, h.BestEpoch)
}

// StopReason is a typed string whose JSON is the plain string History files
// have always held: a history written before the type existed reads back
// with the constants, and one written now reads as before.
func TestStopReasonJSON(t *testing.T) {
	var h History
	require.NoError(t, json.Unmarshal([]byte(`{"curve":[],"best_epoch":0,"best":null,"stop_reason":"non-finite"}`), &h))
	require.Equal(t, StopNonFinite, h.StopReason)
	for r, s := range map[StopReason]string{StopEpochs: "epochs", StopPatience: "patience", StopCanceled: "canceled", StopNonFinite: "non-finite"} {
		b, err := json.Marshal(History{StopReason: r})
		require.NoError(t, err)
		require.Contains(t, string(b), `"stop_reason":"`+s+`"`)
		var old struct {
			StopReason string `json:"stop_reason"`
		}
		require.NoError(t, json.Unmarshal(b, &old))
		require.Equal(t, s, old.StopReason)
	}
}
