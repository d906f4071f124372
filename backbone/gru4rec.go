package backbone

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// GRU4Rec is a one-layer GRU encoder (Hidasi et al., ICLR 2016, in its
// sequential-recommendation form): dropout on the input item vectors, then
// a GRU with PyTorch's gate equations, run over each sequence's real items
// from its first; the state after item t predicts item t+1. See Encoder for
// concurrency.
type GRU4Rec struct {
	cfg      EncoderConfig
	wih, whh *nn.Linear // 3d x d each, gate order r, z, n (torch.nn.GRU)
}

// NewGRU4Rec returns a GRU4Rec encoder with xavier_normal weights and
// PyTorch-default biases.
func NewGRU4Rec(rng *rand.Rand, cfg EncoderConfig) (*GRU4Rec, error) {
	if cfg.Dim < 1 || cfg.MaxLen < 1 {
		return nil, fmt.Errorf("backbone: %w: GRU4Rec: dim %d and max_len %d must be positive", ErrBadConfig, cfg.Dim, cfg.MaxLen)
	}
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return nil, fmt.Errorf("backbone: %w: GRU4Rec: dropout %g not in [0, 1)", ErrBadConfig, cfg.Dropout)
	}
	if cfg.Kind != "" && cfg.Kind != KindGRU4Rec {
		return nil, fmt.Errorf("backbone: %w: GRU4Rec encoder kind %q", ErrBadConfig, cfg.Kind)
	}
	cfg.Kind = KindGRU4Rec
	d := cfg.Dim
	g := &GRU4Rec{cfg: cfg, wih: nn.ZeroLinear(d, 3*d, true), whh: nn.ZeroLinear(d, 3*d, true)}
	g.wih.Init(rng)
	g.whh.Init(rng)
	return g, nil
}

// Params returns "gru.weight_ih_l0", "gru.weight_hh_l0" and their biases
// (torch.nn.GRU's names).
func (g *GRU4Rec) Params() []nn.Param {
	return []nn.Param{{Name: "gru.weight_ih_l0", Value: g.wih.Weight}, {Name: "gru.bias_ih_l0", Value: g.wih.Bias},
		{Name: "gru.weight_hh_l0", Value: g.whh.Weight}, {Name: "gru.bias_hh_l0", Value: g.whh.Bias}}
}

// Dim returns d.
func (g *GRU4Rec) Dim() int { return g.cfg.Dim }

// MaxLen returns the window width.
func (g *GRU4Rec) MaxLen() int { return g.cfg.MaxLen }

// Config returns the configuration.
func (g *GRU4Rec) Config() EncoderConfig { return g.cfg }

type gruScratch struct {
	b        *Batch
	m0       []float32
	m0b      []float32
	xin      tensor.Tensor // dropped-out inputs (T x d)
	gx       tensor.Tensor // x W_ihᵀ + b_ih (T x 3d)
	h        tensor.Tensor // states (T x d)
	r, z, n  tensor.Tensor // gates (T x d)
	ghn      tensor.Tensor // W_hn h + b_hn (T x d)
	rows     [][]int       // rows active at each step
	hp, gh   tensor.Tensor // step buffers
	dh, dgx  tensor.Tensor
	dgh, dhp tensor.Tensor
	hprevAll tensor.Tensor // previous state of every token (T x d)
	dx       tensor.Tensor
	dgAll    tensor.Tensor // dGh of every token (T x 3d)
	maxSteps int
}

// NewScratch returns working memory for one goroutine.
func (g *GRU4Rec) NewScratch() Scratch { return &gruScratch{} }

// Forward runs the GRU (see Encoder).
func (g *GRU4Rec) Forward(s Scratch, b *Batch, x *tensor.Tensor, train bool, rng *rand.Rand) *tensor.Tensor {
	st := s.(*gruScratch)
	st.b = b
	d, T := g.cfg.Dim, b.NumTokens()
	if x.Rows() != T || x.Cols() != d {
		panic(fmt.Errorf("%w: GRU4Rec.Forward: x %v for %d tokens of width %d", tensor.ErrShape, x.Shape, T, d))
	}
	xin := resize(&st.xin, T, d)
	copy(xin.Data, x.Data)
	st.m0 = nil
	if train && g.cfg.Dropout > 0 {
		st.m0b = growF(st.m0b, T*d)
		tensor.DropoutMask(rng, st.m0b, g.cfg.Dropout)
		st.m0 = st.m0b
		applyMask(xin.Data, st.m0)
	}
	g.wih.Apply(&st.gx, xin)
	// rows active at each step t: token t of every sequence longer than t
	steps := b.LongestSeq()
	for len(st.rows) < steps {
		st.rows = append(st.rows, nil)
	}
	st.maxSteps = steps
	for t := 0; t < steps; t++ {
		st.rows[t] = st.rows[t][:0]
	}
	for s := 0; s < b.NumSeqs(); s++ {
		for t := 0; t < b.SeqLen(s); t++ {
			st.rows[t] = append(st.rows[t], b.Offsets[s]+t)
		}
	}
	h := resize(&st.h, T, d)
	r, z, n, ghn := resize(&st.r, T, d), resize(&st.z, T, d), resize(&st.n, T, d), resize(&st.ghn, T, d)
	hpa := zeros(&st.hprevAll, T, d)
	for t := 0; t < steps; t++ {
		rows := st.rows[t]
		B := len(rows)
		hp := resize(&st.hp, B, d)
		if t == 0 {
			clear(hp.Data)
		} else {
			for i, row := range rows {
				copy(hp.Data[i*d:(i+1)*d], h.Data[(row-1)*d:row*d])
			}
		}
		for i, row := range rows {
			copy(hpa.Data[row*d:(row+1)*d], hp.Data[i*d:(i+1)*d])
		}
		gh := g.whh.Apply(&st.gh, hp)
		for i, row := range rows {
			gxr := st.gx.Data[row*3*d : (row+1)*3*d]
			ghr := gh.Data[i*3*d : (i+1)*3*d]
			hpr := hp.Data[i*d : (i+1)*d]
			for j := 0; j < d; j++ {
				rv := sigmoid(gxr[j] + ghr[j])
				zv := sigmoid(gxr[d+j] + ghr[d+j])
				hn := ghr[2*d+j]
				nv := tanh32(gxr[2*d+j] + rv*hn)
				r.Data[row*d+j], z.Data[row*d+j], n.Data[row*d+j], ghn.Data[row*d+j] = rv, zv, nv, hn
				h.Data[row*d+j] = (1-zv)*nv + zv*hpr[j]
			}
		}
	}
	return h
}

// Backward runs back-propagation through time (see Encoder).
func (g *GRU4Rec) Backward(s Scratch, dOut *tensor.Tensor) (*tensor.Tensor, error) {
	st := s.(*gruScratch)
	b := st.b
	d, T := g.cfg.Dim, b.NumTokens()
	dh := resize(&st.dh, T, d)
	copy(dh.Data, dOut.Data)
	dgx := zeros(&st.dgx, T, 3*d)
	dgAll := zeros(&st.dgAll, T, 3*d)
	for t := st.maxSteps - 1; t >= 0; t-- {
		rows := st.rows[t]
		B := len(rows)
		dgh := resize(&st.dgh, B, 3*d)
		for i, row := range rows {
			dhr := dh.Data[row*d : (row+1)*d]
			hpr := st.hprevAll.Data[row*d : (row+1)*d]
			for j := 0; j < d; j++ {
				rv, zv, nv, hn := st.r.Data[row*d+j], st.z.Data[row*d+j], st.n.Data[row*d+j], st.ghn.Data[row*d+j]
				g := dhr[j]
				dn := g * (1 - zv)
				dz := g * (hpr[j] - nv)
				dan := dn * (1 - nv*nv)
				dr := dan * hn
				dar := dr * rv * (1 - rv)
				daz := dz * zv * (1 - zv)
				dgx.Data[row*3*d+j], dgx.Data[row*3*d+d+j], dgx.Data[row*3*d+2*d+j] = dar, daz, dan
				dgh.Data[i*3*d+j], dgh.Data[i*3*d+d+j], dgh.Data[i*3*d+2*d+j] = dar, daz, dan*rv
			}
		}
		// gradient wrt the previous state: direct (z ⊙ dh) + through W_hh
		dhp := resize(&st.dhp, B, d)
		tensor.Gemm(false, false, B, d, 3*d, 1, dgh.Data, 3*d, g.whh.Weight.Data.Data, d, 0, dhp.Data, d)
		for i, row := range rows {
			copy(dgAll.Data[row*3*d:(row+1)*3*d], dgh.Data[i*3*d:(i+1)*3*d])
			if t == 0 {
				continue
			}
			prev := dh.Data[(row-1)*d : row*d]
			for j := 0; j < d; j++ {
				prev[j] += dhp.Data[i*d+j] + dh.Data[row*d+j]*st.z.Data[row*d+j]
			}
		}
	}
	// parameter gradients for the whole batch at once
	g.whh.Backprop(nil, dgAll, &st.hprevAll, false)
	dx := &st.dx
	g.wih.Backprop(dx, dgx, &st.xin, false)
	applyMask(dx.Data, st.m0)
	return dx, nil
}

func tanh32(x float32) float32 {
	return 2*sigmoid(2*x) - 1
}
