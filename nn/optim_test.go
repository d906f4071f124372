package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// gradAt is a deterministic, step-dependent gradient used to drive both the
// optimizer under test and the float64 reference.
func gradAt(step, i int, p float64) float64 {
	return math.Sin(float64(3*step+7*i)) + 0.3*p
}

func newParam(name string, vals ...float32) Param {
	return Param{Name: name, Value: autograd.NewParam(tensor.FromSlice(append([]float32(nil), vals...), len(vals)))}
}

func setGrads(step int, params ...Param) {
	k := 0
	for _, p := range params {
		for i, w := range p.Value.Data.Data {
			p.Value.Grad.Data[i] = float32(gradAt(step, k, float64(w)))
			k++
		}
	}
}

// refAdam is torch.optim.Adam / AdamW written from the published update
// rule in float64: one parameter vector, its own step count.
type refAdam struct {
	lr, b1, b2, eps, wd float64
	decoupled           bool
	m, v                []float64
	t                   int
}

func (r *refAdam) step(p, g []float64) {
	if r.m == nil {
		r.m, r.v = make([]float64, len(p)), make([]float64, len(p))
	}
	r.t++
	for i := range p {
		gi := g[i]
		if r.decoupled {
			p[i] -= r.lr * r.wd * p[i]
		} else {
			gi += r.wd * p[i]
		}
		r.m[i] = r.b1*r.m[i] + (1-r.b1)*gi
		r.v[i] = r.b2*r.v[i] + (1-r.b2)*gi*gi
		mhat := r.m[i] / (1 - math.Pow(r.b1, float64(r.t)))
		vhat := r.v[i] / (1 - math.Pow(r.b2, float64(r.t)))
		p[i] -= r.lr * mhat / (math.Sqrt(vhat) + r.eps)
	}
}

// refSGD is torch.optim.SGD from its documented update rule, in float64.
type refSGD struct {
	lr, mu, damp, wd float64
	nesterov         bool
	buf              []float64
}

func (r *refSGD) step(p, g []float64) {
	first := r.buf == nil
	if first {
		r.buf = make([]float64, len(p))
	}
	for i := range p {
		d := g[i] + r.wd*p[i]
		if r.mu != 0 {
			if first {
				r.buf[i] = d
			} else {
				r.buf[i] = r.mu*r.buf[i] + (1-r.damp)*d
			}
			if r.nesterov {
				d += r.mu * r.buf[i]
			} else {
				d = r.buf[i]
			}
		}
		p[i] -= r.lr * d
	}
}

func toF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func assertClose(t *testing.T, want []float64, got []float32, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		assert.InDelta(t, want[i], float64(got[i]), tol*(1+math.Abs(want[i])), "%s[%d]", msg, i)
	}
}

func TestAdamMatchesReference(t *testing.T) {
	for _, decoupled := range []bool{false, true} {
		cfg := AdamConfig{LR: 0.01, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1}
		a := newParam("a", 0.5, -1.5, 2.0)
		b := newParam("b", 0.1, 0.2)
		var opt *Adam
		var err error
		if decoupled {
			opt, err = NewAdamW([]Param{a, b}, cfg)
		} else {
			opt, err = NewAdam([]Param{a, b}, cfg)
		}
		require.NoError(t, err)
		ref := &refAdam{lr: cfg.LR, b1: cfg.Beta1, b2: cfg.Beta2, eps: cfg.Eps, wd: cfg.WeightDecay, decoupled: decoupled}
		p := append(toF64(a.Value.Data.Data), toF64(b.Value.Data.Data)...)
		for step := range 20 {
			g := make([]float64, len(p))
			for i := range p {
				g[i] = gradAt(step, i, p[i])
			}
			setGrads(step, a, b)
			opt.Step()
			ref.step(p, g)
			// Gradients are computed from float32 params on one side and
			// float64 on the other, so a little drift is expected.
			assertClose(t, p[:3], a.Value.Data.Data, 2e-5, "a")
			assertClose(t, p[3:], b.Value.Data.Data, 2e-5, "b")
		}
	}
}

func TestAdamFirstStepByHand(t *testing.T) {
	// With bias correction the first Adam step is lr * g/(|g| + eps') for
	// every coordinate: m̂ = g, v̂ = g², so p moves by lr*sign(g) (eps tiny).
	p := newParam("p", 1, 1, 1)
	copy(p.Value.Grad.Data, []float32{0.001, -5, 300})
	opt, err := NewAdam([]Param{p}, DefaultAdam())
	require.NoError(t, err)
	opt.Step()
	assert.InDeltaSlice(t, []float64{1 - 1e-3, 1 + 1e-3, 1 - 1e-3}, toF64(p.Value.Data.Data), 1e-6)

	// AdamW with wd: p = p(1 - lr wd) - lr sign(g).
	q := newParam("q", 2)
	q.Value.Grad.Data[0] = 4
	cfg := AdamConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 0, WeightDecay: 0.5}
	w, err := NewAdamW([]Param{q}, cfg)
	require.NoError(t, err)
	w.Step()
	assert.InDelta(t, 2*(1-0.05)-0.1, q.Value.Data.Data[0], 1e-6)
}

func TestSGDMatchesReference(t *testing.T) {
	cfgs := []SGDConfig{
		{LR: 0.1},
		{LR: 0.05, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9, Nesterov: true},
	}
	for _, cfg := range cfgs {
		a := newParam("a", 0.5, -1.5, 2.0, 0)
		opt, err := NewSGD([]Param{a}, cfg)
		require.NoError(t, err)
		ref := &refSGD{lr: cfg.LR, mu: cfg.Momentum, damp: cfg.Dampening, wd: cfg.WeightDecay, nesterov: cfg.Nesterov}
		p := toF64(a.Value.Data.Data)
		for step := range 15 {
			g := make([]float64, len(p))
			for i := range p {
				g[i] = gradAt(step, i, p[i])
			}
			setGrads(step, a)
			opt.Step()
			ref.step(p, g)
			assertClose(t, p, a.Value.Data.Data, 1e-5, "sgd")
		}
	}
}

func TestParamGroups(t *testing.T) {
	// PAD-style: network with wd 0.1, gate logits with wd 0.01 (AdamW).
	net := newParam("net.w", 1, -1)
	gate := newParam("gate.logits", 1, -1)
	netCfg := AdamConfig{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}
	gateCfg := netCfg
	gateCfg.WeightDecay = 0.01
	opt, err := NewAdamW([]Param{net}, netCfg)
	require.NoError(t, err)
	require.NoError(t, opt.AddGroup([]Param{gate}, gateCfg))
	refNet := &refAdam{lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true}
	refGate := &refAdam{lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01, decoupled: true}
	pn, pg := []float64{1, -1}, []float64{1, -1}
	for step := range 5 {
		// Zero gradients isolate the weight decay: only decay moves p.
		opt.ZeroGrad()
		opt.Step()
		refNet.step(pn, []float64{0, 0})
		refGate.step(pg, []float64{0, 0})
		_ = step
	}
	assertClose(t, pn, net.Value.Data.Data, 1e-6, "net")
	assertClose(t, pg, gate.Value.Data.Data, 1e-6, "gate")
	// (1 - 0.01*0.1)^5 vs (1 - 0.01*0.01)^5
	assert.InDelta(t, math.Pow(0.999, 5), net.Value.Data.Data[0], 1e-6)
	assert.InDelta(t, math.Pow(0.9999, 5), gate.Value.Data.Data[0], 1e-6)

	opt.SetLR(0)
	before := gate.Value.Data.Data[0]
	opt.Step()
	assert.Equal(t, before, gate.Value.Data.Data[0], "SetLR reaches every group")

	assert.Error(t, opt.AddGroup([]Param{net}, netCfg), "a parameter in two groups")
}

func TestFrozenSkipped(t *testing.T) {
	for _, mk := range []func([]Param) (Optimizer, error){
		func(p []Param) (Optimizer, error) { return NewAdam(p, DefaultAdam()) },
		func(p []Param) (Optimizer, error) { return NewAdamW(p, DefaultAdam()) },
		func(p []Param) (Optimizer, error) { return NewSGD(p, SGDConfig{LR: 0.1, Momentum: 0.9}) },
	} {
		live := newParam("live", 1, 2)
		frozen := newParam("frozen", 3, 4)
		Freeze([]Param{frozen})
		setGrads(0, live, frozen)
		opt, err := mk([]Param{live, frozen})
		require.NoError(t, err)
		opt.Step()
		assert.Equal(t, []float32{3, 4}, frozen.Value.Data.Data)
		assert.NotEqual(t, []float32{1, 2}, live.Value.Data.Data)
		opt.ZeroGrad()
		assert.Equal(t, []float32{0, 0}, live.Value.Grad.Data)
	}
	a := newParam("a", 1)
	adam, err := NewAdam([]Param{a}, DefaultAdam())
	require.NoError(t, err)
	Freeze([]Param{a})
	adam.Step()
	assert.Nil(t, adam.groups[0].state[0].m, "no state for a frozen param")
}

func TestStepAllocatesNothing(t *testing.T) {
	params := []Param{newParam("a", 1, 2, 3), newParam("b", 4, 5)}
	setGrads(1, params...)
	adam, err := NewAdamW(params, AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	require.NoError(t, err)
	sgd, err := NewSGD(params, SGDConfig{LR: 1e-3, Momentum: 0.9})
	require.NoError(t, err)
	adam.Step()
	sgd.Step()
	assert.Zero(t, testing.AllocsPerRun(50, adam.Step), "Adam.Step")
	assert.Zero(t, testing.AllocsPerRun(50, sgd.Step), "SGD.Step")
	assert.Zero(t, testing.AllocsPerRun(50, func() { ClipGradNorm(params, 1) }), "ClipGradNorm")
}

func TestConvergenceQuadratic(t *testing.T) {
	// f(p) = ½ Σ a_i (p_i - c_i)², minimum at c, badly conditioned (a from
	// 0.1 to 10).
	a := []float64{0.1, 1, 10, 3}
	c := []float64{1, -2, 0.5, 3}
	run := func(opt Optimizer, p Param, steps int) float64 {
		for range steps {
			opt.ZeroGrad()
			for i, w := range p.Value.Data.Data {
				p.Value.Grad.Data[i] = float32(a[i] * (float64(w) - c[i]))
			}
			opt.Step()
		}
		var worst float64
		for i, w := range p.Value.Data.Data {
			worst = max(worst, math.Abs(float64(w)-c[i]))
		}
		return worst
	}
	p := newParam("p", 0, 0, 0, 0)
	adam, err := NewAdam([]Param{p}, AdamConfig{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	require.NoError(t, err)
	assert.Less(t, run(adam, p, 3000), 1e-3, "Adam")

	q := newParam("q", 0, 0, 0, 0)
	sgd, err := NewSGD([]Param{q}, SGDConfig{LR: 0.05, Momentum: 0.9})
	require.NoError(t, err)
	assert.Less(t, run(sgd, q, 3000), 1e-3, "SGD momentum")
}

func TestClipGradNorm(t *testing.T) {
	a := newParam("a", 0, 0)
	b := newParam("b", 0)
	f := newParam("frozen", 0)
	Freeze([]Param{f})
	copy(a.Value.Grad.Data, []float32{3, 4})
	b.Value.Grad.Data[0] = 12
	f.Value.Grad.Data[0] = 1000 // ignored: frozen
	params := []Param{a, b, f}

	norm := ClipGradNorm(params, 20)
	assert.InDelta(t, 13, norm, 1e-9) // sqrt(9+16+144)
	assert.Equal(t, []float32{3, 4}, a.Value.Grad.Data, "below max: unchanged")

	norm = ClipGradNorm(params, 6.5)
	assert.InDelta(t, 13, norm, 1e-9)
	s := 6.5 / (13 + 1e-6)
	assert.InDeltaSlice(t, []float64{3 * s, 4 * s}, toF64(a.Value.Grad.Data), 1e-6)
	assert.InDelta(t, 12*s, b.Value.Grad.Data[0], 1e-6)
	assert.Equal(t, float32(1000), f.Value.Grad.Data[0])

	b.Value.Grad.Data[0] = float32(math.NaN())
	assert.True(t, math.IsNaN(ClipGradNorm(params, 1)))
	assert.Equal(t, float32(3*s), a.Value.Grad.Data[0], "non-finite norm: untouched")
}

func TestOptimizerConfigErrors(t *testing.T) {
	p := []Param{newParam("a", 1)}
	bad := []AdamConfig{
		{LR: -1, Beta1: 0.9, Beta2: 0.999},
		{LR: 1, Beta1: 1, Beta2: 0.999},
		{LR: 1, Beta1: 0.9, Beta2: 1.5},
		{LR: math.NaN(), Beta1: 0.9, Beta2: 0.999},
		{LR: 1, Beta1: 0.9, Beta2: 0.999, Eps: -1},
		{LR: 1, Beta1: 0.9, Beta2: 0.999, WeightDecay: -0.1},
	}
	for _, c := range bad {
		_, err := NewAdam(p, c)
		assert.Error(t, err, "%+v", c)
	}
	for _, c := range []SGDConfig{{LR: -1}, {LR: 1, Momentum: -1}, {LR: 1, Nesterov: true}, {LR: math.Inf(1)}} {
		_, err := NewSGD(p, c)
		assert.Error(t, err, "%+v", c)
	}
	_, err := NewAdam([]Param{p[0], {Name: "alias", Value: p[0].Value}}, DefaultAdam())
	assert.ErrorContains(t, err, "twice")
	_, err = NewSGD([]Param{{Name: "nil"}}, SGDConfig{LR: 1})
	assert.ErrorContains(t, err, "nil")
}

// A parameter large enough to be updated in two concurrent halves follows
// the same reference as a small one, in both halves.
func TestAdamLargeParamMatchesReference(t *testing.T) {
	n := adamSplit + 3 // odd split point
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = float32(math.Cos(float64(i)))
	}
	a := newParam("big", vals...)
	cfg := AdamConfig{LR: 0.01, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1}
	opt, err := NewAdamW([]Param{a}, cfg)
	require.NoError(t, err)
	ref := &refAdam{lr: cfg.LR, b1: cfg.Beta1, b2: cfg.Beta2, eps: cfg.Eps, wd: cfg.WeightDecay, decoupled: true}
	p := toF64(a.Value.Data.Data)
	for step := range 3 {
		g := make([]float64, n)
		for i := range p {
			g[i] = gradAt(step, i, p[i])
		}
		setGrads(step, a)
		opt.Step()
		ref.step(p, g)
	}
	assertClose(t, p, a.Value.Data.Data, 2e-5, "big")
}
