package backbone

import (
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// resize makes t a rows x cols matrix, reusing its memory when it is large
// enough. The contents are unspecified (callers overwrite them).
func resize(t *tensor.Tensor, rows, cols int) *tensor.Tensor {
	n := rows * cols
	if cap(t.Data) < n {
		t.Data = make([]float32, n, n+n/4)
	}
	t.Data = t.Data[:n]
	if len(t.Shape) != 2 {
		t.Shape = make([]int, 2)
	}
	t.Shape[0], t.Shape[1] = rows, cols
	return t
}

// zeros is resize followed by clearing.
func zeros(t *tensor.Tensor, rows, cols int) *tensor.Tensor {
	resize(t, rows, cols)
	clear(t.Data)
	return t
}

func growF(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n, n+n/4)
	}
	return b[:n]
}

func growI(b []int, n int) []int {
	if cap(b) < n {
		return make([]int, n, n+n/4)
	}
	return b[:n]
}

// dropoutMask fills m with 0 (probability p) or 1/(1-p). Each decision
// uses the fewest random bits that represent p exactly (1 bit for p = 0.5,
// 2 for 0.25 or 0.75, ... up to 16; other values of p are rounded to a
// multiple of 2^-16), so one 64-bit draw serves up to 64 elements.
func dropoutMask(m []float32, p float64, rng *rand.Rand) {
	if p <= 0 {
		for i := range m {
			m[i] = 1
		}
		return
	}
	keep := float32(1 / (1 - p))
	bits := uint(16)
	for b := uint(1); b < 16; b++ {
		if x := p * float64(uint64(1)<<b); x == math.Trunc(x) {
			bits = b
			break
		}
	}
	thr := uint64(math.Round(p * float64(uint64(1)<<bits)))
	mask := uint64(1)<<bits - 1
	per := int(64 / bits)
	i := 0
	for ; i+per <= len(m); i += per {
		r := rng.Uint64()
		mm := m[i : i+per]
		for j := range mm {
			// branch-free: (r&mask - thr) wraps around exactly when r&mask < thr
			mm[j] = float32(1-((r&mask-thr)>>63)) * keep
			r >>= bits
		}
	}
	if i < len(m) {
		r := rng.Uint64()
		for ; i < len(m); i++ {
			if r&mask < thr {
				m[i] = 0
			} else {
				m[i] = keep
			}
			r >>= bits
		}
	}
}

func param(shape ...int) *autograd.Value { return autograd.NewParam(tensor.New(shape...)) }

// linear is y = x Wᵀ + b with PyTorch's layout (W is out x in), so that
// checkpoints map one-to-one to torch.nn.Linear state dicts.
type linear struct {
	w, b    *autograd.Value
	in, out int
}

func newLinear(in, out int, bias bool) *linear {
	l := &linear{w: param(out, in), in: in, out: out}
	if bias {
		l.b = param(out)
	}
	return l
}

// init applies xavier_normal to W and PyTorch's default U(±1/sqrt(in)) to b.
func (l *linear) init(rng *rand.Rand) {
	nn.XavierNormal(rng, l.w.Data)
	if l.b != nil {
		b := 1 / math.Sqrt(float64(l.in))
		nn.Uniform(rng, l.b.Data, -b, b)
	}
}

func (l *linear) params(prefix string) []nn.Param {
	ps := []nn.Param{{Name: prefix + ".weight", Value: l.w}}
	if l.b != nil {
		ps = append(ps, nn.Param{Name: prefix + ".bias", Value: l.b})
	}
	return ps
}

// forward writes y = x Wᵀ + b for the rows of x (n x in) into y (n x out).
func (l *linear) forward(y, x *tensor.Tensor) *tensor.Tensor {
	n := x.Rows()
	resize(y, n, l.out)
	tensor.Gemm(false, true, n, l.out, l.in, 1, x.Data, l.in, l.w.Data.Data, l.in, 0, y.Data, l.out)
	if l.b != nil {
		bd := l.b.Data.Data
		for r := 0; r < n; r++ {
			row := y.Data[r*l.out : (r+1)*l.out]
			for j := range row {
				row[j] += bd[j]
			}
		}
	}
	return y
}

// backward adds dW = dyᵀ x and db = Σ dy into the gradients (when the
// parameters require them) and writes dx = dy W (accumulating into dx when
// acc) unless dx is nil.
func (l *linear) backward(dx, dy, x *tensor.Tensor, acc bool) {
	n := dy.Rows()
	if l.w.RequiresGrad() {
		tensor.Gemm(true, false, l.out, l.in, n, 1, dy.Data, l.out, x.Data, l.in, 1, l.w.Grad.Data, l.in)
	}
	if l.b != nil && l.b.RequiresGrad() {
		g := l.b.Grad.Data
		for r := 0; r < n; r++ {
			row := dy.Data[r*l.out : (r+1)*l.out]
			for j, v := range row {
				g[j] += v
			}
		}
	}
	if dx == nil {
		return
	}
	beta := float32(0)
	if acc {
		beta = 1
	} else {
		resize(dx, n, l.in)
	}
	tensor.Gemm(false, false, n, l.in, l.out, 1, dy.Data, l.out, l.w.Data.Data, l.in, beta, dx.Data, l.in)
}

// layerNorm holds the affine parameters of a LayerNorm over the last dimension.
type layerNorm struct {
	g, b *autograd.Value
	eps  float32
}

func newLayerNorm(d int, eps float64) *layerNorm {
	ln := &layerNorm{g: param(d), b: param(d), eps: float32(eps)}
	ln.g.Data.Fill(1)
	return ln
}

func (ln *layerNorm) params(prefix string) []nn.Param {
	return []nn.Param{{Name: prefix + ".weight", Value: ln.g}, {Name: prefix + ".bias", Value: ln.b}}
}

// lnCache holds what the backward pass of one LayerNorm needs.
type lnCache struct {
	out        tensor.Tensor
	mean, rstd []float32
}

func (ln *layerNorm) forward(c *lnCache, x *tensor.Tensor) *tensor.Tensor {
	n := x.Rows()
	c.mean, c.rstd = growF(c.mean, n), growF(c.rstd, n)
	resize(&c.out, n, x.Cols())
	tensor.LayerNorm(&c.out, x, ln.g.Data.Data, ln.b.Data.Data, ln.eps, c.mean, c.rstd)
	return &c.out
}

// backward writes (or adds, when acc) dx for the cached forward on x.
func (ln *layerNorm) backward(dx, dy, x *tensor.Tensor, c *lnCache, acc bool) {
	if !acc {
		resize(dx, x.Rows(), x.Cols())
	}
	var dg, db []float32
	if ln.g.RequiresGrad() {
		dg, db = ln.g.Grad.Data, ln.b.Grad.Data
	}
	tensor.LayerNormBackward(dx, dy, x, ln.g.Data.Data, c.mean, c.rstd, dg, db, acc)
}
