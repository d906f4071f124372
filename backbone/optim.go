package backbone

import (
	"fmt"
	"math"
	"strings"

	"github.com/llmrec/llmrec/nn"
)

// OptimizerKind names an optimizer of package nn for TrainConfig.
type OptimizerKind string

const (
	// OptAdam is nn.NewAdam (L2 weight decay in the gradient).
	OptAdam OptimizerKind = "adam"
	// OptAdamW is nn.NewAdamW (decoupled weight decay).
	OptAdamW OptimizerKind = "adamw"
	// OptSGD is nn.NewSGD with TrainConfig.Momentum.
	OptSGD OptimizerKind = "sgd"
)

// NewOptimizer returns the nn optimizer cfg names (Optimizer, LR, betas,
// Eps, WeightDecay, Momentum; empty fields filled as Train does) over
// params in two groups: the parameters noDecay accepts get no weight
// decay, the others cfg.WeightDecay. A nil noDecay decays every parameter.
// Bad settings are errors wrapping ErrBadConfig.
func NewOptimizer(params []nn.Param, cfg TrainConfig, noDecay func(name string) bool) (nn.Optimizer, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	decay, keep := params, []nn.Param(nil)
	if noDecay != nil && cfg.WeightDecay > 0 {
		decay = nil
		for _, p := range params {
			if noDecay(p.Name) {
				keep = append(keep, p)
			} else {
				decay = append(decay, p)
			}
		}
	}
	wrap := func(err error) error { return fmt.Errorf("backbone: %w: optimizer: %w", ErrBadConfig, err) }
	if cfg.Optimizer == OptSGD {
		sc := nn.SGDConfig{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}
		o, err := nn.NewSGD(decay, sc)
		if err == nil && len(keep) > 0 {
			sc.WeightDecay = 0
			err = o.AddGroup(keep, sc)
		}
		if err != nil {
			return nil, wrap(err)
		}
		return o, nil
	}
	ac := nn.AdamConfig{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay}
	newAdam := nn.NewAdam
	if cfg.Optimizer == OptAdamW {
		newAdam = nn.NewAdamW
	}
	o, err := newAdam(decay, ac)
	if err == nil && len(keep) > 0 {
		ac.WeightDecay = 0
		err = o.AddGroup(keep, ac)
	}
	if err != nil {
		return nil, wrap(err)
	}
	return o, nil
}

// NoDecayNormBiasEmbedding is the usual weight-decay exemption for
// TrainOptions.NoDecay: biases (a name ending in "bias"), normalization
// layers (a dotted part starting with "ln" or containing "norm" or "_ln")
// and embeddings (a part containing "emb": item_emb, pos_emb, mask_emb).
func NoDecayNormBiasEmbedding(name string) bool {
	parts := strings.Split(name, ".")
	if strings.HasSuffix(parts[len(parts)-1], "bias") {
		return true
	}
	for _, p := range parts {
		if strings.HasPrefix(p, "ln") || strings.Contains(p, "norm") || strings.Contains(p, "_ln") || strings.Contains(p, "emb") {
			return true
		}
	}
	return false
}

// Schedule shapes the learning rate: at optimizer step step (0-based) of
// total (Epochs x steps per epoch; early stopping may end sooner) Train
// sets the rate to TrainConfig.LR x Factor(step, total). Implementations
// must be safe for concurrent use (the built-in ones are plain values).
type Schedule interface {
	Factor(step, total int) float64
}

// ScheduleKind names a built-in schedule for TrainConfig.
type ScheduleKind string

const (
	// SchedConstant keeps the learning rate (ConstantSchedule).
	SchedConstant ScheduleKind = "constant"
	// SchedWarmup warms up linearly over WarmupSteps, then stays
	// (WarmupSchedule).
	SchedWarmup ScheduleKind = "warmup"
	// SchedCosine warms up linearly over WarmupSteps, then decays along a
	// half cosine to MinLR at the last step (CosineSchedule).
	SchedCosine ScheduleKind = "cosine"
)

// schedule returns the Schedule cfg (filled) names.
func (c TrainConfig) schedule() Schedule {
	switch c.Schedule {
	case SchedWarmup:
		return WarmupSchedule{Steps: c.WarmupSteps}
	case SchedCosine:
		return CosineSchedule{Warmup: c.WarmupSteps, Min: c.MinLR / c.LR}
	}
	return ConstantSchedule{}
}

// ConstantSchedule keeps the learning rate: Factor is 1.
type ConstantSchedule struct{}

// Factor returns 1.
func (ConstantSchedule) Factor(step, total int) float64 { return 1 }

// WarmupSchedule raises the rate linearly over Steps steps ((step+1)/Steps
// of it), then keeps it.
type WarmupSchedule struct {
	// Steps is the length of the warm-up.
	Steps int
}

// Factor returns min(1, (step+1)/Steps).
func (w WarmupSchedule) Factor(step, total int) float64 {
	if step+1 >= w.Steps {
		return 1
	}
	return float64(step+1) / float64(w.Steps)
}

// CosineSchedule warms up linearly over Warmup steps, then decays along a
// half cosine from 1 to Min (a fraction of the rate) at step total-1.
type CosineSchedule struct {
	// Warmup is the length of the linear warm-up (0 = none).
	Warmup int
	// Min is the final factor, in [0, 1]: a fraction of the rate, where
	// TrainConfig.MinLR is an absolute rate (Train passes MinLR / LR here).
	Min float64
}

// Factor returns the warm-up ramp, then Min + (1-Min)(1+cos(πp))/2 with p
// the fraction of the decay steps done.
func (c CosineSchedule) Factor(step, total int) float64 {
	if step < c.Warmup {
		return float64(step+1) / float64(c.Warmup)
	}
	n := total - 1 - c.Warmup
	if n <= 0 {
		return 1
	}
	p := min(float64(step-c.Warmup)/float64(n), 1)
	return c.Min + (1-c.Min)*(1+math.Cos(math.Pi*p))/2
}
