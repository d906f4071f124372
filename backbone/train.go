package backbone

import (
	"context"
	"fmt"
	"github.com/llmrec/llmrec/nn"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// TrainConfig holds the optimization settings of Train. Zero fields take the
// SASRec reference's values (see DefaultTrainConfig). It is a plain value,
// safe for concurrent reads.
type TrainConfig struct {
	// Epochs is the maximum number of epochs.
	Epochs int `json:"epochs"`
	// BatchSize is the number of users per step.
	BatchSize int `json:"batch_size"`
	// LR, Beta1, Beta2 and Eps configure Adam.
	LR float64 `json:"lr"`
	// Beta1 is Adam's first-moment decay (0.9).
	Beta1 float64 `json:"beta1"`
	// Beta2 is Adam's second-moment decay (0.98 in SASRec).
	Beta2 float64 `json:"beta2"`
	// Eps is added to the root of Adam's second moment (1e-8).
	Eps float64 `json:"eps"`
	// Optimizer is OptAdam, OptAdamW or OptSGD. Empty means OptAdamW when
	// WeightDecay > 0 (PAD's setting) and OptAdam otherwise (SASRec's).
	Optimizer OptimizerKind `json:"optimizer,omitempty"`
	// WeightDecay is the weight decay: decoupled for AdamW, an L2 term in
	// the gradient for Adam and SGD (as in PyTorch). TrainOptions.NoDecay
	// exempts parameters from it.
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// Momentum is SGD's momentum (0 = none).
	Momentum float64 `json:"momentum,omitempty"`
	// Schedule shapes the learning rate over the steps: SchedConstant
	// (default), SchedWarmup or SchedCosine; TrainOptions.Schedule
	// overrides it with any Schedule.
	Schedule ScheduleKind `json:"schedule,omitempty"`
	// WarmupSteps is the number of optimizer steps of the linear warm-up
	// of SchedWarmup and SchedCosine.
	WarmupSteps int `json:"warmup_steps,omitempty"`
	// MinLR is the learning rate SchedCosine decays to at the last step of
	// Epochs (0 = zero). It is an absolute rate, like LR (not a fraction of
	// it): Train builds CosineSchedule{Min: MinLR / LR}, whose Min is the
	// fraction. Validation requires 0 <= MinLR <= LR.
	MinLR float64 `json:"min_lr,omitempty"`
	// ClipNorm clips the global gradient norm when positive.
	ClipNorm float64 `json:"clip_norm,omitempty"`
	// Patience stops training after this many epochs without a better
	// validation metric (0 = never).
	Patience int `json:"patience"`
	// EvalEvery validates every k epochs (and at the last one).
	EvalEvery int `json:"eval_every"`
	// Seed seeds batching, negatives, masks and dropout.
	Seed uint64 `json:"seed"`
	// BucketPool > 1 groups users of similar length into the same batch
	// (pools of BucketPool batches are sorted by length; see BucketBatches).
	// Packed batches do not need it for speed; it is off by default.
	BucketPool int `json:"bucket_pool,omitempty"`
}

// DefaultTrainConfig returns the SASRec reference's settings: 200 epochs,
// batch 128, Adam lr 1e-3 with betas (0.9, 0.98) and eps 1e-8, patience 20,
// validation every epoch, seed 42.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 200, BatchSize: 128, LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8,
		Patience: 20, EvalEvery: 1, Seed: 42}
}

func (c *TrainConfig) fill() error {
	d := DefaultTrainConfig()
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.LR == 0 {
		c.LR = d.LR
	}
	if c.Beta1 == 0 {
		c.Beta1 = d.Beta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = d.Beta2
	}
	if c.Eps == 0 {
		c.Eps = d.Eps
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = 1
	}
	// each setting by its field name, so the error says which one is wrong
	// (the whole config printed does not)
	for _, f := range []struct {
		name string
		v    int
	}{{"Epochs", c.Epochs}, {"BatchSize", c.BatchSize}, {"Patience", c.Patience},
		{"EvalEvery", c.EvalEvery}, {"WarmupSteps", c.WarmupSteps}} {
		if f.v < 0 {
			return fmt.Errorf("backbone: %w: TrainConfig.%s is %d, want >= 0", ErrBadConfig, f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"LR", c.LR}, {"Beta1", c.Beta1}, {"Beta2", c.Beta2}, {"Eps", c.Eps}, {"WeightDecay", c.WeightDecay},
		{"ClipNorm", c.ClipNorm}, {"Momentum", c.Momentum}, {"MinLR", c.MinLR}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("backbone: %w: TrainConfig.%s is %v, want a finite value", ErrBadConfig, f.name, f.v)
		}
		if f.v < 0 && f.name != "Beta1" && f.name != "Beta2" && f.name != "Eps" {
			return fmt.Errorf("backbone: %w: TrainConfig.%s is %v, want >= 0", ErrBadConfig, f.name, f.v)
		}
	}
	if c.MinLR > c.LR {
		return fmt.Errorf("backbone: %w: MinLR %v above LR %v", ErrBadConfig, c.MinLR, c.LR)
	}
	if c.Optimizer == "" {
		c.Optimizer = OptAdam
		if c.WeightDecay > 0 {
			c.Optimizer = OptAdamW
		}
	}
	switch c.Optimizer {
	case OptAdam, OptAdamW, OptSGD:
	default:
		return fmt.Errorf("backbone: %w: optimizer %q (want adam, adamw or sgd)", ErrBadConfig, c.Optimizer)
	}
	if c.Momentum != 0 && c.Optimizer != OptSGD {
		return fmt.Errorf("backbone: %w: momentum %v applies to sgd, not %s", ErrBadConfig, c.Momentum, c.Optimizer)
	}
	if c.Schedule == "" {
		c.Schedule = SchedConstant
	}
	switch c.Schedule {
	case SchedConstant, SchedWarmup, SchedCosine:
	default:
		return fmt.Errorf("backbone: %w: schedule %q (want constant, warmup or cosine)", ErrBadConfig, c.Schedule)
	}
	if c.Schedule == SchedWarmup && c.WarmupSteps == 0 {
		return fmt.Errorf("backbone: %w: warmup schedule with 0 warm-up steps", ErrBadConfig)
	}
	return nil
}

// EpochStats records one epoch of training. It is a plain value, safe for
// concurrent reads.
type EpochStats struct {
	// Epoch counts from 1.
	Epoch int `json:"epoch"`
	// Loss is the mean step loss.
	Loss float64 `json:"loss"`
	// Steps is the number of optimizer steps.
	Steps int `json:"steps"`
	// Seconds is the training time of the epoch, without validation.
	Seconds float64 `json:"train_s"`
	// EvalSeconds is the validation time (0 when not validated).
	EvalSeconds float64 `json:"eval_s,omitempty"`
	// Metrics are the validation metrics (nil when not validated).
	Metrics map[string]float64 `json:"valid,omitempty"`
	// Improved is true when the monitored metric reached a new best.
	Improved bool `json:"improved,omitempty"`
}

// History is the result of Train. Train returns it complete; it is then
// safe for concurrent reads.
type History struct {
	// Epochs holds one entry per finished epoch.
	Epochs []EpochStats `json:"curve"`
	// BestEpoch is the epoch with the best validation metric (0 if none).
	BestEpoch int `json:"best_epoch"`
	// Best holds the validation metrics of BestEpoch.
	Best map[string]float64 `json:"best"`
	// StopReason says why training stopped: StopEpochs, StopPatience,
	// StopCanceled or StopNonFinite.
	StopReason StopReason `json:"stop_reason"`
}

// StopReason says why Train stopped. It is string-backed because it is
// written where people and programs read it (History's JSON, logs); the
// values are the strings History files have always held.
type StopReason string

// The reasons Train stops.
const (
	// StopEpochs: every epoch of TrainConfig.Epochs ran.
	StopEpochs StopReason = "epochs"
	// StopPatience: Patience epochs passed without a better validation
	// metric.
	StopPatience StopReason = "patience"
	// StopCanceled: the context was canceled (during a step or a
	// validation).
	StopCanceled StopReason = "canceled"
	// StopNonFinite: a step's loss was NaN or infinite.
	StopNonFinite StopReason = "non-finite"
)

// EpochSeconds returns the training seconds of every epoch.
func (h *History) EpochSeconds() []float64 {
	out := make([]float64, len(h.Epochs))
	for i, e := range h.Epochs {
		out[i] = e.Seconds
	}
	return out
}

// TrainOptions are Train's hooks; all are optional. Train calls the hooks
// from its own goroutine, one at a time.
type TrainOptions struct {
	// Validate returns validation metrics after an epoch; nil disables
	// validation and early stopping.
	Validate func(ctx context.Context, epoch int) (map[string]float64, error)
	// Metric is the key of the metric to maximize (default "ndcg@10").
	Metric string
	// OnEpoch is called after every epoch (after validation).
	OnEpoch func(EpochStats)
	// Logger receives one Info record per epoch.
	Logger *slog.Logger
	// KeepLast keeps the final weights; by default Train restores the
	// weights of the best validation epoch before returning.
	KeepLast bool
	// Optimizer, when set, is stepped instead of the one TrainConfig
	// describes (any nn.Optimizer: nn.NewAdam, nn.NewAdamW, nn.NewSGD over
	// the model's Params, or a user's). Its learning rate is set every step
	// when a schedule other than SchedConstant is in use.
	Optimizer nn.Optimizer
	// Schedule, when set, replaces TrainConfig.Schedule.
	Schedule Schedule
	// NoDecay exempts from TrainConfig.WeightDecay the parameters whose
	// name it accepts (e.g. NoDecayNormBiasEmbedding); nil decays every
	// parameter. Unused with Optimizer.
	NoDecay func(name string) bool
}

// Train trains m on the users' training sequences (after m.Prepare(train)
// when m is a Preparer) with the optimizer and
// learning-rate schedule that cfg names (Adam and a constant rate by
// default) or that opt supplies: every epoch
// visits the users with at least 2 items in a random order (or length
// buckets), BatchSize users per step. After every EvalEvery epochs it calls
// Validate, keeps the best weights by opt.Metric and stops after Patience
// epochs without improvement. It returns the history, also on error.
//
// A non-finite loss stops training with an error (wrapping ErrNonFinite)
// naming the epoch and the step, and leaves m at its last finite state: the
// weights of the best validation epoch when there is one (even with
// KeepLast), otherwise those at the end of the last epoch whose loss and
// weights were finite (or the initial weights); the error says which. A
// canceled ctx stops it at the next step with ctx's error (the
// history and the best weights so far are kept). Train is not safe for
// concurrent use with anything else that touches m.
func Train(ctx context.Context, m Model, train [][]int, cfg TrainConfig, opt TrainOptions) (*History, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if opt.Metric == "" {
		opt.Metric = "ndcg@10"
	}
	t, err := newTrainer(m, train, cfg, opt)
	if err != nil {
		return nil, err
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		es, err := t.epoch(ctx, epoch)
		if err != nil {
			return t.h, err
		}
		if opt.Validate != nil && (epoch%cfg.EvalEvery == 0 || epoch == cfg.Epochs) {
			if err := t.validate(ctx, &es); err != nil {
				return t.h, err
			}
		}
		t.endEpoch(es)
		if cfg.Patience > 0 && t.h.BestEpoch > 0 && epoch-t.h.BestEpoch >= cfg.Patience {
			t.h.StopReason = StopPatience
			break
		}
	}
	restore(t.params, t.best, opt.KeepLast)
	return t.h, nil
}

// trainer is one Train call's state between epochs and steps.
type trainer struct {
	m      Model
	train  [][]int
	cfg    TrainConfig
	opt    TrainOptions
	params []nn.Param
	// users are the indices of the users with at least 2 training items,
	// lengths their sequence lengths (for the batches).
	users, lengths []int
	rng            *rand.Rand
	opti           nn.Optimizer
	sched          Schedule
	// constant is set for a constant schedule (the rate is never reset);
	// done counts the optimizer steps so far, of totalSteps.
	constant         bool
	done, totalSteps int
	h                *History
	// lastGood holds the weights at the end of the last finite epoch (the
	// initial ones at first), restored when the loss becomes non-finite;
	// best those of the best validation epoch, with its metric bestVal.
	lastGood  [][]float32
	lastEpoch int
	best      [][]float32
	bestVal   float64
	seqs      [][]int
}

// newTrainer selects the users that can train, prepares m (a Preparer),
// and sets up the generator, the optimizer and the schedule.
func newTrainer(m Model, train [][]int, cfg TrainConfig, opt TrainOptions) (*trainer, error) {
	t := &trainer{m: m, train: train, cfg: cfg, opt: opt}
	for u, s := range train {
		if len(s) >= 2 {
			t.users = append(t.users, u)
			t.lengths = append(t.lengths, len(s))
		}
	}
	if len(t.users) == 0 {
		return nil, fmt.Errorf("backbone: no user has 2 or more training items")
	}
	if p, ok := m.(Preparer); ok {
		if err := p.Prepare(train); err != nil {
			return nil, err
		}
	}
	t.rng = rand.New(rand.NewPCG(cfg.Seed, 0x5a5e))
	t.params = m.Params()
	t.opti = opt.Optimizer
	if t.opti == nil {
		var err error
		if t.opti, err = NewOptimizer(t.params, cfg, opt.NoDecay); err != nil {
			return nil, err
		}
	}
	t.sched = opt.Schedule
	if t.sched == nil {
		t.sched = cfg.schedule()
	}
	_, t.constant = t.sched.(ConstantSchedule)
	t.totalSteps = cfg.Epochs * ((len(t.users) + cfg.BatchSize - 1) / cfg.BatchSize)
	t.h = &History{StopReason: StopEpochs}
	t.lastGood = snapshot(t.params, nil)
	t.bestVal = math.Inf(-1)
	t.seqs = make([][]int, 0, cfg.BatchSize)
	return t, nil
}

// epoch runs one epoch's optimizer steps over freshly drawn batches and
// returns its statistics (without validation). On error (canceled ctx, a
// failed or non-finite step) it sets the stop reason, restores the weights
// Train documents and returns the error.
func (t *trainer) epoch(ctx context.Context, epoch int) (EpochStats, error) {
	t0 := time.Now()
	batches := BucketBatches(t.rng, t.lengths, t.cfg.BatchSize, t.cfg.BucketPool)
	var sum float64
	for step, bi := range batches {
		if err := ctx.Err(); err != nil {
			t.h.StopReason = StopCanceled
			restore(t.params, t.best, t.opt.KeepLast)
			return EpochStats{}, err
		}
		loss, err := t.step(bi)
		if err != nil {
			restore(t.params, t.best, t.opt.KeepLast)
			return EpochStats{}, fmt.Errorf("backbone: epoch %d step %d: %w", epoch, step+1, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			t.h.StopReason = StopNonFinite
			return EpochStats{}, fmt.Errorf("backbone: epoch %d step %d: non-finite loss %v; %s: %w", epoch, step+1, loss,
				restoreFinite(t.params, t.best, t.h.BestEpoch, t.lastGood, t.lastEpoch), ErrNonFinite)
		}
		sum += loss
	}
	return EpochStats{Epoch: epoch, Loss: sum / float64(len(batches)), Steps: len(batches), Seconds: time.Since(t0).Seconds()}, nil
}

// step trains on the batch of users bi (indices into t.users) and returns
// the loss; a non-finite loss is returned before any update.
func (t *trainer) step(bi []int) (float64, error) {
	t.seqs = t.seqs[:0]
	for _, i := range bi {
		t.seqs = append(t.seqs, t.train[t.users[i]])
	}
	t.opti.ZeroGrad()
	loss, err := t.m.LossGrad(t.seqs, t.rng)
	if err != nil || math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, err
	}
	if t.cfg.ClipNorm > 0 {
		nn.ClipGradNorm(t.params, t.cfg.ClipNorm)
	}
	if !t.constant {
		t.opti.SetLR(t.cfg.LR * t.sched.Factor(t.done, t.totalSteps))
	}
	t.opti.Step()
	t.done++
	return loss, nil
}

// validate calls TrainOptions.Validate after es's epoch, records the
// metrics in es and keeps the weights when the monitored metric improved.
// On error it restores the weights Train documents and returns the error.
func (t *trainer) validate(ctx context.Context, es *EpochStats) error {
	t1 := time.Now()
	met, err := t.opt.Validate(ctx, es.Epoch)
	if err != nil {
		t.h.Epochs = append(t.h.Epochs, *es)
		restore(t.params, t.best, t.opt.KeepLast)
		if ctx.Err() != nil {
			t.h.StopReason = StopCanceled
		}
		return fmt.Errorf("backbone: epoch %d: validation: %w", es.Epoch, err)
	}
	es.EvalSeconds, es.Metrics = time.Since(t1).Seconds(), met
	v, ok := met[t.opt.Metric]
	if !ok {
		restore(t.params, t.best, t.opt.KeepLast)
		return fmt.Errorf("backbone: validation returned no %q", t.opt.Metric)
	}
	if v > t.bestVal {
		t.bestVal, t.h.BestEpoch, t.h.Best, es.Improved = v, es.Epoch, met, true
		t.best = snapshot(t.params, t.best)
	}
	return nil
}

// endEpoch records es in the history, keeps the weights when they are
// finite, and reports the epoch to the logger and the OnEpoch hook.
func (t *trainer) endEpoch(es EpochStats) {
	t.h.Epochs = append(t.h.Epochs, es)
	if nn.CheckFinite(t.params) == nil {
		t.lastGood, t.lastEpoch = snapshot(t.params, t.lastGood), es.Epoch
	}
	if t.opt.Logger != nil {
		t.opt.Logger.Info("epoch", "epoch", es.Epoch, "loss", es.Loss, "train_s", es.Seconds,
			"eval_s", es.EvalSeconds, t.opt.Metric, es.Metrics[t.opt.Metric], "improved", es.Improved)
	}
	if t.opt.OnEpoch != nil {
		t.opt.OnEpoch(es)
	}
}

// restoreFinite puts back the best validated weights (when there are) or
// the last finite ones, and says which, for Train's non-finite-loss error.
func restoreFinite(params []nn.Param, best [][]float32, bestEpoch int, lastGood [][]float32, lastEpoch int) string {
	if best != nil {
		restore(params, best, false)
		return fmt.Sprintf("the model holds the weights of epoch %d, the best validated", bestEpoch)
	}
	restore(params, lastGood, false)
	if lastEpoch == 0 {
		return "the model holds its initial weights"
	}
	return fmt.Sprintf("the model holds the weights of epoch %d, the last finite one", lastEpoch)
}

func snapshot(params []nn.Param, dst [][]float32) [][]float32 {
	if dst == nil {
		dst = make([][]float32, len(params))
	}
	for i, p := range params {
		if p.Value.RequiresGrad() { // frozen weights do not change
			dst[i] = append(dst[i][:0], p.Value.Data.Data...)
		}
	}
	return dst
}

func restore(params []nn.Param, best [][]float32, keepLast bool) {
	if keepLast || best == nil {
		return
	}
	for i, p := range params {
		if best[i] != nil {
			copy(p.Value.Data.Data, best[i])
		}
	}
}
