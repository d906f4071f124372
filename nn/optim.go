package nn

import (
	"fmt"
	"math"
	"sync"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// Optimizer updates parameters from their accumulated gradients.
//
// Step applies one update to every trainable parameter (frozen ones, whose
// RequiresGrad is false, are skipped and keep no state); ZeroGrad clears the
// gradients for the next backward pass; SetLR changes the learning rate of
// every parameter group (for schedules). Implementations are not safe for
// concurrent use; they run in the training goroutine.
type Optimizer interface {
	Step()
	ZeroGrad()
	SetLR(lr float64)
}

// trainable reports whether an optimizer should update v.
func trainable(v *autograd.Value) bool {
	return v != nil && v.RequiresGrad() && v.Grad != nil && v.Data != nil
}

// groupSet tracks which Values already belong to a group, so that a
// parameter cannot be updated twice per step.
type groupSet map[*autograd.Value]string

func (s groupSet) add(opt string, params []Param) error {
	local := make(map[*autograd.Value]string, len(params))
	for _, p := range params {
		if p.Value == nil {
			return fmt.Errorf("nn: %s: parameter %q has a nil Value", opt, p.Name)
		}
		if prev, ok := s[p.Value]; ok {
			return fmt.Errorf("nn: %s: parameter %q is already in a group (as %q)", opt, p.Name, prev)
		}
		if prev, ok := local[p.Value]; ok {
			return fmt.Errorf("nn: %s: parameter %q appears twice (also as %q)", opt, p.Name, prev)
		}
		local[p.Value] = p.Name
	}
	for v, n := range local {
		s[v] = n
	}
	return nil
}

func checkFinite(opt, field string, x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("nn: %s: %s is %v", opt, field, x)
	}
	return nil
}

// SGDConfig holds the hyperparameters of one SGD parameter group, with
// PyTorch's meanings: WeightDecay adds WeightDecay*p to the gradient;
// Momentum keeps a buffer b = Momentum*b + (1-Dampening)*g (b = g on the first
// step); Nesterov uses g + Momentum*b instead of b. A plain value, safe to
// share.
type SGDConfig struct {
	LR          float64
	Momentum    float64
	Dampening   float64
	WeightDecay float64
	Nesterov    bool
}

func (c SGDConfig) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"LR", c.LR}, {"Momentum", c.Momentum}, {"Dampening", c.Dampening}, {"WeightDecay", c.WeightDecay}} {
		if err := checkFinite("SGD", f.name, f.v); err != nil {
			return err
		}
		if f.v < 0 {
			return fmt.Errorf("nn: SGD: %s = %v is negative", f.name, f.v)
		}
	}
	if c.Nesterov && (c.Momentum <= 0 || c.Dampening != 0) {
		return fmt.Errorf("nn: SGD: Nesterov needs Momentum > 0 and Dampening 0 (got %v, %v)", c.Momentum, c.Dampening)
	}
	return nil
}

type sgdGroup struct {
	cfg    SGDConfig
	params []Param
	buf    [][]float32 // momentum buffers, nil until the param's first step
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and L2 weight decay, matching torch.optim.SGD. Parameters can be
// split into groups with different settings (AddGroup).
//
// An SGD is not safe for concurrent use: call Step from the training
// goroutine, after backward and before the next forward.
type SGD struct {
	groups []sgdGroup
	seen   groupSet
}

// NewSGD returns an SGD optimizer over params. It returns an error for a
// negative or non-finite setting, or a parameter listed twice.
func NewSGD(params []Param, cfg SGDConfig) (*SGD, error) {
	o := &SGD{seen: groupSet{}}
	if err := o.AddGroup(params, cfg); err != nil {
		return nil, err
	}
	return o, nil
}

// AddGroup adds a parameter group with its own settings.
func (o *SGD) AddGroup(params []Param, cfg SGDConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := o.seen.add("SGD", params); err != nil {
		return err
	}
	o.groups = append(o.groups, sgdGroup{cfg: cfg, params: append([]Param(nil), params...), buf: make([][]float32, len(params))})
	return nil
}

// Step applies one SGD update to every trainable parameter.
func (o *SGD) Step() {
	for gi := range o.groups {
		g := &o.groups[gi]
		lr, mu, damp, wd := float32(g.cfg.LR), float32(g.cfg.Momentum), float32(g.cfg.Dampening), float32(g.cfg.WeightDecay)
		for pi, p := range g.params {
			if !trainable(p.Value) {
				continue
			}
			w, grad := p.Value.Data.Data, p.Value.Grad.Data
			checkState("SGD", p, grad)
			if mu == 0 {
				for i := range w {
					w[i] -= lr * (grad[i] + wd*w[i])
				}
				continue
			}
			buf := g.buf[pi]
			first := buf == nil
			if first {
				buf = make([]float32, len(w))
				g.buf[pi] = buf
			}
			checkState("SGD", p, buf)
			for i := range w {
				d := grad[i] + wd*w[i]
				if first {
					buf[i] = d
				} else {
					buf[i] = mu*buf[i] + (1-damp)*d
				}
				if g.cfg.Nesterov {
					d += mu * buf[i]
				} else {
					d = buf[i]
				}
				w[i] -= lr * d
			}
		}
	}
}

// ZeroGrad zeroes the gradients of every parameter in every group.
func (o *SGD) ZeroGrad() {
	for _, g := range o.groups {
		ZeroGrad(g.params)
	}
}

// SetLR sets the learning rate of every group.
func (o *SGD) SetLR(lr float64) {
	for i := range o.groups {
		o.groups[i].cfg.LR = lr
	}
}

func checkState(opt string, p Param, s []float32) {
	if len(s) != len(p.Value.Data.Data) {
		panic(fmt.Errorf("%w: %s: parameter %q has %d elements, its gradient/state %d",
			tensor.ErrShape, opt, p.Name, len(p.Value.Data.Data), len(s)))
	}
}

// AdamConfig holds the hyperparameters of one Adam/AdamW parameter group.
// DefaultAdam returns PyTorch's defaults. A plain value, safe to share.
type AdamConfig struct {
	// LR is the learning rate.
	LR float64
	// Beta1 and Beta2 are the decay rates of the first- and second-moment
	// estimates, in [0, 1).
	Beta1, Beta2 float64
	// Eps is added to the denominator for numerical stability.
	Eps float64
	// WeightDecay is an L2 term added to the gradient (Adam) or a decoupled
	// shrinkage p *= 1 - LR*WeightDecay (AdamW).
	WeightDecay float64
}

// DefaultAdam returns torch.optim.Adam's defaults: LR 1e-3, betas (0.9,
// 0.999), Eps 1e-8, no weight decay. (torch.optim.AdamW defaults to
// WeightDecay 0.01.)
func DefaultAdam() AdamConfig {
	return AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

func (c AdamConfig) validate(opt string) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"LR", c.LR}, {"Beta1", c.Beta1}, {"Beta2", c.Beta2}, {"Eps", c.Eps}, {"WeightDecay", c.WeightDecay}} {
		if err := checkFinite(opt, f.name, f.v); err != nil {
			return err
		}
		if f.v < 0 {
			return fmt.Errorf("nn: %s: %s = %v is negative", opt, f.name, f.v)
		}
	}
	if c.Beta1 >= 1 || c.Beta2 >= 1 {
		return fmt.Errorf("nn: %s: betas (%v, %v) must be in [0, 1)", opt, c.Beta1, c.Beta2)
	}
	return nil
}

type adamState struct {
	m, v []float32
	step int
}

type adamGroup struct {
	cfg    AdamConfig
	params []Param
	state  []adamState
}

// Adam is the Adam optimizer (Kingma and Ba) with PyTorch's bias correction:
// for each trainable parameter p with gradient g, at its step t,
//
//	g = g + wd*p                    (Adam only: L2 weight decay)
//	p = p * (1 - lr*wd)             (AdamW only: decoupled weight decay)
//	m = b1*m + (1-b1)*g
//	v = b2*v + (1-b2)*g²
//	p = p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//
// NewAdam and NewAdamW choose the weight-decay form. Moment buffers are
// allocated on a parameter's first step; later steps allocate nothing.
//
// An Adam is not safe for concurrent use: call Step from the training
// goroutine, after backward and before the next forward.
type Adam struct {
	decoupled bool
	groups    []adamGroup
	seen      groupSet
}

// NewAdam returns Adam with L2 weight decay added to the gradient
// (torch.optim.Adam). It returns an error for an invalid setting or a
// parameter listed twice.
func NewAdam(params []Param, cfg AdamConfig) (*Adam, error) {
	o := &Adam{seen: groupSet{}}
	if err := o.AddGroup(params, cfg); err != nil {
		return nil, err
	}
	return o, nil
}

// NewAdamW returns Adam with decoupled weight decay (torch.optim.AdamW,
// Loshchilov and Hutter).
func NewAdamW(params []Param, cfg AdamConfig) (*Adam, error) {
	o := &Adam{decoupled: true, seen: groupSet{}}
	if err := o.AddGroup(params, cfg); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Adam) name() string {
	if o.decoupled {
		return "AdamW"
	}
	return "Adam"
}

// AddGroup adds a parameter group with its own settings, e.g. gate logits
// with a smaller weight decay than the rest of the network.
func (o *Adam) AddGroup(params []Param, cfg AdamConfig) error {
	if err := cfg.validate(o.name()); err != nil {
		return err
	}
	if err := o.seen.add(o.name(), params); err != nil {
		return err
	}
	o.groups = append(o.groups, adamGroup{cfg: cfg, params: append([]Param(nil), params...), state: make([]adamState, len(params))})
	return nil
}

// Step applies one update to every trainable parameter.
func (o *Adam) Step() {
	for gi := range o.groups {
		g := &o.groups[gi]
		c := g.cfg
		b1, b2, eps := float32(c.Beta1), float32(c.Beta2), float32(c.Eps)
		for pi, p := range g.params {
			if !trainable(p.Value) {
				continue
			}
			w, grad := p.Value.Data.Data, p.Value.Grad.Data
			checkState(o.name(), p, grad)
			st := &g.state[pi]
			if st.m == nil {
				st.m = make([]float32, len(w))
				st.v = make([]float32, len(w))
			}
			checkState(o.name(), p, st.m)
			st.step++
			bc1 := 1 - math.Pow(c.Beta1, float64(st.step))
			bc2 := 1 - math.Pow(c.Beta2, float64(st.step))
			stepSize := float32(c.LR / bc1)
			bc2Sqrt := float32(math.Sqrt(bc2))
			l2 := float32(0)
			if o.decoupled {
				if c.WeightDecay != 0 {
					shrink := float32(1 - c.LR*c.WeightDecay)
					for i := range w {
						w[i] *= shrink
					}
				}
			} else {
				l2 = float32(c.WeightDecay)
			}
			k := adamCoef{b1: b1, b2: b2, eps: eps, step: stepSize, bc2Sqrt: bc2Sqrt, l2: l2}
			if len(w) < adamSplit {
				k.update(w, grad, st.m, st.v)
				continue
			}
			// A large table (an item embedding: 12k x 64) is memory-bound;
			// two halves on two cores update it about twice as fast (at the
			// cost of one goroutine: small parameters allocate nothing).
			h := len(w) / 2
			var wg sync.WaitGroup
			wg.Go(func() { k.update(w[:h], grad[:h], st.m[:h], st.v[:h]) })
			k.update(w[h:], grad[h:], st.m[h:], st.v[h:])
			wg.Wait()
		}
	}
}

// adamCoef holds one Adam step's coefficients for a parameter.
type adamCoef struct{ b1, b2, eps, step, bc2Sqrt, l2 float32 }

// update applies the step to w with gradient grad and moments m, v.
func (k adamCoef) update(w, grad, m, v []float32) {
	// Equal lengths let the compiler drop bounds checks.
	m, v, grad = m[:len(w)], v[:len(w)], grad[:len(w)]
	for i := range w {
		gg := grad[i] + k.l2*w[i]
		m[i] = k.b1*m[i] + (1-k.b1)*gg
		v[i] = k.b2*v[i] + (1-k.b2)*gg*gg
		w[i] -= k.step * m[i] / (float32(math.Sqrt(float64(v[i])))/k.bc2Sqrt + k.eps)
	}
}

// adamSplit is the parameter size from which Adam.Step updates the two
// halves of a parameter concurrently.
const adamSplit = 1 << 16

// ZeroGrad zeroes the gradients of every parameter in every group.
func (o *Adam) ZeroGrad() {
	for _, g := range o.groups {
		ZeroGrad(g.params)
	}
}

// SetLR sets the learning rate of every group.
func (o *Adam) SetLR(lr float64) {
	for i := range o.groups {
		o.groups[i].cfg.LR = lr
	}
}

// ClipGradNorm scales the gradients of the trainable params so that their
// global L2 norm (over all of them, as one vector) is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_ does: when the norm exceeds maxNorm, every
// gradient is multiplied by maxNorm / (norm + 1e-6). It returns the norm
// before clipping, computed in float64. A NaN or infinite norm is returned
// as is and the gradients are left unchanged, so the caller can skip the
// step.
func ClipGradNorm(params []Param, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if !trainable(p.Value) {
			continue
		}
		for _, g := range p.Value.Grad.Data {
			ss += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(ss)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		s := float32(coef)
		for _, p := range params {
			if !trainable(p.Value) {
				continue
			}
			g := p.Value.Grad.Data
			for i := range g {
				g[i] *= s
			}
		}
	}
	return norm
}
