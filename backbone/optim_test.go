package backbone

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScheduleFactors(t *testing.T) {
	w := WarmupSchedule{Steps: 4}
	var got []float64
	for s := range 6 {
		got = append(got, w.Factor(s, 100))
	}
	assert.Equal(t, []float64{0.25, 0.5, 0.75, 1, 1, 1}, got)

	c := CosineSchedule{Warmup: 2, Min: 0.1}
	const total = 12 // decay over steps 2..11
	assert.InDelta(t, 0.5, c.Factor(0, total), 1e-12)
	assert.InDelta(t, 1, c.Factor(1, total), 1e-12)
	assert.InDelta(t, 1, c.Factor(2, total), 1e-12)
	assert.InDelta(t, 0.1, c.Factor(11, total), 1e-12)
	assert.InDelta(t, 0.1, c.Factor(20, total), 1e-12) // past the end: stays at Min
	// p = 3/9 at step 5: 0.1 + 0.9(1+cos(π/3))/2 = 0.1 + 0.9·0.75
	assert.InDelta(t, 0.775, c.Factor(5, total), 1e-12)
	for s := 3; s < total; s++ {
		assert.Less(t, c.Factor(s, total), c.Factor(s-1, total))
	}
	assert.Equal(t, 1.0, ConstantSchedule{}.Factor(7, 9))
}

// lrRecorder is a user's optimizer: plain gradient descent that records
// every learning rate Train sets.
type lrRecorder struct {
	params []nn.Param
	lr     float64
	lrs    []float64
	steps  int
}

func (o *lrRecorder) Step() {
	o.steps++
	for _, p := range o.params {
		for i, g := range p.Value.Grad.Data {
			p.Value.Data.Data[i] -= float32(o.lr) * g
		}
	}
}
func (o *lrRecorder) ZeroGrad()        { nn.ZeroGrad(o.params) }
func (o *lrRecorder) SetLR(lr float64) { o.lr = lr; o.lrs = append(o.lrs, lr) }

func TestTrainScheduleAndCustomOptimizer(t *testing.T) {
	m := newFake()
	o := &lrRecorder{params: m.Params(), lr: 0.1}
	// 10 users, batches of 4: 3 steps per epoch, 4 epochs: 12 steps
	cfg := TrainConfig{Epochs: 4, BatchSize: 4, LR: 0.2, Schedule: SchedCosine, WarmupSteps: 2, MinLR: 0.02}
	_, err := Train(context.Background(), m, fakeTrain(11), cfg, TrainOptions{Optimizer: o, KeepLast: true})
	require.NoError(t, err)
	require.Equal(t, 12, o.steps)
	require.Len(t, o.lrs, 12)
	want := CosineSchedule{Warmup: 2, Min: 0.1}
	for s, lr := range o.lrs {
		assert.InDelta(t, 0.2*want.Factor(s, 12), lr, 1e-12, "step %d", s)
	}
	assert.InDelta(t, 0.02, o.lrs[11], 1e-12)

	// with a constant schedule Train leaves a user's learning rate alone
	o2 := &lrRecorder{params: m.Params(), lr: 0.1}
	_, err = Train(context.Background(), m, fakeTrain(11), TrainConfig{Epochs: 2, BatchSize: 4}, TrainOptions{Optimizer: o2})
	require.NoError(t, err)
	assert.Empty(t, o2.lrs)
	assert.Equal(t, 6, o2.steps)
}

func TestTrainSGDConverges(t *testing.T) {
	m := newFake()
	_, err := Train(context.Background(), m, fakeTrain(9), TrainConfig{Epochs: 100, BatchSize: 8, LR: 0.1, Optimizer: OptSGD, Momentum: 0.5}, TrainOptions{KeepLast: true})
	require.NoError(t, err)
	require.InDelta(t, 3, m.w.Data.Data[0], 1e-3)
}

// TestWeightDecayGroups steps AdamW and SGD once with zero gradients: the
// decayed parameters shrink by the decay alone, the exempt ones stay.
func TestWeightDecayGroups(t *testing.T) {
	names := []string{"item_emb.weight", "pos_emb.weight", "blocks.0.ln_attn.weight", "blocks.0.ln_attn.bias",
		"blocks.0.attn.q.weight", "blocks.0.attn.q.bias", "blocks.0.ffn.w1.weight", "ln_final.weight", "norm1.weight"}
	exempt := map[string]bool{"item_emb.weight": true, "pos_emb.weight": true, "blocks.0.ln_attn.weight": true,
		"blocks.0.ln_attn.bias": true, "blocks.0.attn.q.bias": true, "ln_final.weight": true, "norm1.weight": true}
	for _, n := range names {
		assert.Equal(t, exempt[n], NoDecayNormBiasEmbedding(n), n)
	}
	for _, tc := range []struct {
		cfg    TrainConfig
		shrink float32
	}{
		{TrainConfig{LR: 0.1, WeightDecay: 0.5}, 1 - 0.1*0.5},                           // AdamW: p *= 1 - lr·wd
		{TrainConfig{LR: 0.1, WeightDecay: 0.5, Optimizer: OptSGD}, 1 - 0.1*0.5},        // SGD: p -= lr·wd·p
		{TrainConfig{LR: 0.1, WeightDecay: 0.5, Optimizer: OptAdamW, Beta2: 0.9}, 0.95}, // explicit kind
	} {
		var params []nn.Param
		for _, n := range names {
			params = append(params, nn.Param{Name: n, Value: autograd.NewParam(tensor.FromSlice([]float32{2}, 1))})
		}
		o, err := NewOptimizer(params, tc.cfg, NoDecayNormBiasEmbedding)
		require.NoError(t, err)
		o.ZeroGrad()
		o.Step()
		for _, p := range params {
			want := float32(2)
			if !exempt[p.Name] {
				want *= tc.shrink
			}
			assert.InDelta(t, want, p.Value.Data.Data[0], 1e-6, "%s %+v", p.Name, tc.cfg)
		}
	}
}

func TestTrainConfigErrors(t *testing.T) {
	for _, cfg := range []TrainConfig{
		{Optimizer: "rmsprop"},
		{Schedule: "step"},
		{Schedule: SchedWarmup},
		{WarmupSteps: -1, Schedule: SchedCosine},
		{Momentum: 0.9},
		{LR: 1e-3, MinLR: 1e-2, Schedule: SchedCosine},
		{LR: math.NaN()},
		{WeightDecay: -1},
	} {
		_, err := Train(context.Background(), newFake(), fakeTrain(5), cfg, TrainOptions{})
		assert.True(t, errors.Is(err, ErrBadConfig), "%+v: %v", cfg, err)
		_, err = NewOptimizer(newFake().Params(), cfg, nil)
		assert.True(t, errors.Is(err, ErrBadConfig), "%+v: %v", cfg, err)
	}
}
