package backbone

import (
	"math"
	"sync"

	"github.com/llmrec/llmrec/nn"
)

// adam is Adam / AdamW as in torch.optim (bias-corrected moments, eps added
// to the corrected second-moment root; AdamW decays the weights by lr·wd
// before the update). Frozen parameters (RequiresGrad false) are skipped.
//
// TODO(nn): replace with nn's Adam when it exists.
type adam struct {
	lr, b1, b2, eps, wd float64
	decoupled           bool
	t                   int
	params              []nn.Param
	m, v                [][]float32
}

func newAdam(params []nn.Param, lr, b1, b2, eps, wd float64, decoupled bool) *adam {
	a := &adam{lr: lr, b1: b1, b2: b2, eps: eps, wd: wd, decoupled: decoupled}
	for _, p := range params {
		if !p.Value.RequiresGrad() {
			continue
		}
		a.params = append(a.params, p)
		n := p.Value.Data.Len()
		a.m = append(a.m, make([]float32, n))
		a.v = append(a.v, make([]float32, n))
	}
	return a
}

func (a *adam) zeroGrad() {
	for _, p := range a.params {
		clear(p.Value.Grad.Data)
	}
}

// gradNorm returns the global L2 norm of the gradients.
func (a *adam) gradNorm() float64 {
	var s float64
	for _, p := range a.params {
		for _, g := range p.Value.Grad.Data {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// clip scales the gradients so that their global norm is at most maxNorm.
func (a *adam) clip(maxNorm float64) {
	n := a.gradNorm()
	if n <= maxNorm || n == 0 {
		return
	}
	s := float32(maxNorm / (n + 1e-6))
	for _, p := range a.params {
		g := p.Value.Grad.Data
		for i := range g {
			g[i] *= s
		}
	}
}

func (a *adam) step() {
	a.t++
	bc1 := 1 - math.Pow(a.b1, float64(a.t))
	bc2 := 1 - math.Pow(a.b2, float64(a.t))
	stepSize := float32(a.lr / bc1)
	rbc2 := float32(1 / math.Sqrt(bc2))
	b1, b2 := float32(a.b1), float32(a.b2)
	eps, wd := float32(a.eps), float32(a.wd)
	decay := float32(1 - a.lr*a.wd)
	c1, c2 := 1-b1, 1-b2
	upd := func(w, g, m, v []float32) {
		n := len(w)
		g, m, v = g[:n], m[:n], v[:n]
		for i := 0; i < n; i++ {
			gi := g[i]
			if wd != 0 {
				if a.decoupled {
					w[i] *= decay
				} else {
					gi += wd * w[i]
				}
			}
			mi := b1*m[i] + c1*gi
			vi := b2*v[i] + c2*gi*gi
			m[i], v[i] = mi, vi
			w[i] -= stepSize * mi / (float32(math.Sqrt(float64(vi)))*rbc2 + eps)
		}
	}
	var wg sync.WaitGroup
	for k, p := range a.params {
		w, g := p.Value.Data.Data, p.Value.Grad.Data
		if len(w) >= 1<<16 {
			h := len(w) / 2
			wg.Go(func() { upd(w[:h], g[:h], a.m[k][:h], a.v[k][:h]) })
			upd(w[h:], g[h:], a.m[k][h:], a.v[k][h:])
			continue
		}
		upd(w, g, a.m[k], a.v[k])
	}
	wg.Wait()
}
