package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// SASRec is the self-attentive sequential encoder (Kang & McAuley, ICDM
// 2018), as in the SASRec PyTorch reference: input = item vector · sqrt(d) +
// a learned position vector, dropout, N blocks (Q/K/V linear with bias, h
// heads, scaled dot-product attention with dropout on the weights, no output
// projection unless OutProj; FFN W2·Dropout(ReLU(W1·x))+b2 then dropout),
// then a final LayerNorm. With EncoderConfig.Kind "bert4rec" it is the
// BERT4Rec encoder: bidirectional, with a trainable mask vector that
// replaces the input of masked tokens.
//
// Batches are packed (see Batch): the causal and key-padding masks of the
// padded formulation hold by construction, since a token only attends to
// earlier tokens of its own sequence. Parameter names follow the PyTorch
// reference ("pos_emb.weight", "blocks.0.attn.q.weight", "ln_final.bias",
// ...). See Encoder for concurrency.
type SASRec struct {
	cfg    EncoderConfig
	pos    *autograd.Value
	mask   *autograd.Value
	blocks []*saBlock
	lnF    *nn.LayerNorm
	embLN  *nn.LayerNorm
	causal bool
	// gemmMin is the sequence length from which attention uses matrix
	// products (gemmAttnMin; tests lower it to check both paths).
	gemmMin int
}

type saBlock struct {
	ln1, ln2   *nn.LayerNorm
	q, k, v, o *nn.Linear
	w1, w2     *nn.Linear
}

// NewSASRec returns a SASRec (or BERT4Rec, by cfg.Kind) encoder initialized
// as the reference: xavier_normal on every matrix, PyTorch's default
// U(±1/sqrt(fan_in)) on Linear biases, LayerNorm weight 1 and bias 0.
func NewSASRec(rng *rand.Rand, cfg EncoderConfig) (*SASRec, error) {
	m, err := buildSASRec(cfg)
	if err != nil {
		return nil, err
	}
	nn.XavierNormal(rng, m.pos.Data)
	if m.mask != nil {
		nn.XavierNormal(rng, m.mask.Data)
	}
	for _, b := range m.blocks {
		for _, l := range []*nn.Linear{b.q, b.k, b.v, b.o, b.w1, b.w2} {
			if l != nil {
				l.Init(rng)
			}
		}
	}
	return m, nil
}

func buildSASRec(cfg EncoderConfig) (*SASRec, error) {
	if cfg.Kind == "" {
		cfg.Kind = KindSASRec
	}
	if cfg.Kind != KindSASRec && cfg.Kind != KindBERT4Rec {
		return nil, fmt.Errorf("backbone: %w: SASRec encoder kind %q", ErrBadConfig, cfg.Kind)
	}
	if cfg.Dim < 1 || cfg.MaxLen < 1 || cfg.Blocks < 0 {
		return nil, fmt.Errorf("backbone: %w: SASRec: dim %d, max_len %d, blocks %d must be positive", ErrBadConfig, cfg.Dim, cfg.MaxLen, cfg.Blocks)
	}
	if cfg.Heads < 1 || cfg.Dim%cfg.Heads != 0 {
		return nil, fmt.Errorf("backbone: %w: SASRec: dim %d is not divisible by heads %d", ErrBadConfig, cfg.Dim, cfg.Heads)
	}
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return nil, fmt.Errorf("backbone: %w: SASRec: dropout %g not in [0, 1)", ErrBadConfig, cfg.Dropout)
	}
	if err := cfg.validateEnums(); err != nil {
		return nil, err
	}
	if cfg.LNEps <= 0 {
		cfg.LNEps = 1e-8
	}
	if cfg.Inner <= 0 {
		cfg.Inner = cfg.Dim
	}
	if cfg.Kind == KindBERT4Rec {
		cfg.NoCausal = true
	}
	d := cfg.Dim
	m := &SASRec{cfg: cfg, pos: param(cfg.MaxLen, d), lnF: nn.NewLayerNorm(d, float32(cfg.LNEps)), causal: !cfg.NoCausal,
		gemmMin: gemmAttnMin}
	if cfg.Kind == KindBERT4Rec {
		m.mask = param(1, d)
	}
	if cfg.EmbLayerNorm {
		m.embLN = nn.NewLayerNorm(d, float32(cfg.LNEps))
	}
	for i := 0; i < cfg.Blocks; i++ {
		b := &saBlock{ln1: nn.NewLayerNorm(d, float32(cfg.LNEps)), ln2: nn.NewLayerNorm(d, float32(cfg.LNEps)),
			q: nn.ZeroLinear(d, d, true), k: nn.ZeroLinear(d, d, true), v: nn.ZeroLinear(d, d, true),
			w1: nn.ZeroLinear(d, cfg.Inner, true), w2: nn.ZeroLinear(cfg.Inner, d, true)}
		if cfg.OutProj {
			b.o = nn.ZeroLinear(d, d, true)
		}
		m.blocks = append(m.blocks, b)
	}
	return m, nil
}

// Params returns the parameters with the reference's names.
func (m *SASRec) Params() []nn.Param {
	ps := []nn.Param{{Name: "pos_emb.weight", Value: m.pos}}
	if m.mask != nil {
		ps = append(ps, nn.Param{Name: "mask_emb", Value: m.mask})
	}
	if m.embLN != nil {
		ps = append(ps, nn.Prefix("emb_ln", m.embLN.Params())...)
	}
	for i, b := range m.blocks {
		p := fmt.Sprintf("blocks.%d.", i)
		ps = append(ps, nn.Prefix(p+"ln_attn", b.ln1.Params())...)
		ps = append(ps, nn.Prefix(p+"attn.q", b.q.Params())...)
		ps = append(ps, nn.Prefix(p+"attn.k", b.k.Params())...)
		ps = append(ps, nn.Prefix(p+"attn.v", b.v.Params())...)
		if b.o != nil {
			ps = append(ps, nn.Prefix(p+"attn.o", b.o.Params())...)
		}
		ps = append(ps, nn.Prefix(p+"ln_ffn", b.ln2.Params())...)
		ps = append(ps, nn.Prefix(p+"ffn.w1", b.w1.Params())...)
		ps = append(ps, nn.Prefix(p+"ffn.w2", b.w2.Params())...)
	}
	return append(ps, nn.Prefix("ln_final", m.lnF.Params())...)
}

// Dim returns d.
func (m *SASRec) Dim() int { return m.cfg.Dim }

// MaxLen returns the window width.
func (m *SASRec) MaxLen() int { return m.cfg.MaxLen }

// Config returns the configuration (with defaults filled in).
func (m *SASRec) Config() EncoderConfig { return m.cfg }

type saBlockCache struct {
	in          *tensor.Tensor
	ln1, ln2    nn.LayerNormCache
	qin, kvin   *tensor.Tensor
	Q, K, V     tensor.Tensor
	A, Am       []float32
	O, P        tensor.Tensor
	s1, s2      tensor.Tensor
	x1          *tensor.Tensor
	fin         *tensor.Tensor
	f1, a1, f2  tensor.Tensor
	m1, m2      []float32 // active dropout masks (nil when not training)
	m1b, m2b    []float32
	out         *tensor.Tensor
	attnOffsets []int
}

type saScratch struct {
	b      *Batch
	train  bool
	e      tensor.Tensor
	eLN    nn.LayerNormCache
	in     *tensor.Tensor // input of the first block (after dropout)
	m0     []float32      // active embedding dropout mask (nil when not training)
	m0b    []float32
	abuf   [][]float32
	blocks []saBlockCache
	lnF    nn.LayerNormCache
	// backward buffers
	dx, dcur, dnext, dP, dO, dQ, dK, dV, dqin, dtmp, dF, da, df1 tensor.Tensor
	da1                                                          tensor.Tensor
}

// NewScratch returns working memory for one goroutine.
func (m *SASRec) NewScratch() Scratch {
	return &saScratch{blocks: make([]saBlockCache, len(m.blocks))}
}

// dropout draws a mask of n elements into *buf and returns it, or returns
// nil when there is no dropout.
func (m *SASRec) dropout(buf *[]float32, n int, train bool, rng *rand.Rand) []float32 {
	if !train || m.cfg.Dropout == 0 {
		return nil
	}
	*buf = growF(*buf, n)
	tensor.DropoutMask(rng, *buf, m.cfg.Dropout)
	return *buf
}

func applyMask(x []float32, mask []float32) {
	if mask == nil {
		return
	}
	for i, v := range mask {
		x[i] *= v
	}
}

func addInto(dst, a, b *tensor.Tensor) *tensor.Tensor {
	resize(dst, a.Rows(), a.Cols())
	for i, v := range a.Data {
		dst.Data[i] = v + b.Data[i]
	}
	return dst
}

// Forward encodes b (see Encoder).
func (m *SASRec) Forward(s Scratch, b *Batch, x *tensor.Tensor, train bool, rng *rand.Rand) *tensor.Tensor {
	st := s.(*saScratch)
	st.b, st.train = b, train
	d, T := m.cfg.Dim, b.NumTokens()
	if x.Rows() != T || x.Cols() != d {
		panic(fmt.Errorf("%w: SASRec.Forward: x %v for %d tokens of width %d", tensor.ErrShape, x.Shape, T, d))
	}
	scale := m.embScale()
	e := resize(&st.e, T, d)
	pos := m.pos.Data.Data
	for t := 0; t < T; t++ {
		src := x.Data[t*d : (t+1)*d]
		if m.mask != nil && len(b.Masked) > t && b.Masked[t] {
			src = m.mask.Data.Data
		}
		p := b.Pos[t]
		if p < 0 || p >= m.cfg.MaxLen {
			panic(fmt.Errorf("%w: SASRec.Forward: position %d outside window %d", tensor.ErrShape, p, m.cfg.MaxLen))
		}
		pr, dst := pos[p*d:(p+1)*d], e.Data[t*d:(t+1)*d]
		for j, v := range src {
			dst[j] = v*scale + pr[j]
		}
	}
	in := e
	if m.embLN != nil {
		in = m.embLN.Apply(&st.eLN, e)
	}
	st.m0 = m.dropout(&st.m0b, T*d, train, rng)
	applyMask(in.Data, st.m0)
	st.in = in
	cur := in
	for i, blk := range m.blocks {
		cur = m.blockForward(st, blk, &st.blocks[i], b, cur, train, rng)
	}
	return m.lnF.Apply(&st.lnF, cur)
}

func (m *SASRec) blockForward(st *saScratch, blk *saBlock, c *saBlockCache, b *Batch, in *tensor.Tensor, train bool, rng *rand.Rand) *tensor.Tensor {
	c.in = in
	switch m.cfg.Style {
	case nn.StyleTF:
		qn := blk.ln1.Apply(&c.ln1, in)
		c.qin, c.kvin = qn, in
	case nn.StylePreLN:
		qn := blk.ln1.Apply(&c.ln1, in)
		c.qin, c.kvin = qn, qn
	default:
		c.qin, c.kvin = in, in
	}
	blk.q.Apply(&c.Q, c.qin)
	blk.k.Apply(&c.K, c.kvin)
	blk.v.Apply(&c.V, c.kvin)
	m.attnForward(c, b, train, rng, m.attnBufs(st, b))
	P := &c.O
	if blk.o != nil {
		P = blk.o.Apply(&c.P, &c.O)
	}
	switch m.cfg.Style {
	case nn.StyleTF:
		addInto(&c.s1, c.qin, P)
		c.x1 = &c.s1
		c.fin = blk.ln2.Apply(&c.ln2, c.x1)
	case nn.StylePreLN:
		addInto(&c.s1, in, P)
		c.x1 = &c.s1
		c.fin = blk.ln2.Apply(&c.ln2, c.x1)
	default:
		addInto(&c.s1, in, P)
		c.x1 = blk.ln1.Apply(&c.ln1, &c.s1)
		c.fin = c.x1
	}
	// FFN
	blk.w1.Apply(&c.f1, c.fin)
	a1 := resize(&c.a1, c.f1.Rows(), c.f1.Cols())
	if m.cfg.Activation == nn.GELU {
		tensor.GELU(a1, &c.f1)
	} else {
		for i, v := range c.f1.Data {
			a1.Data[i] = max(v, 0)
		}
	}
	c.m1 = m.dropout(&c.m1b, len(a1.Data), train, rng)
	applyMask(a1.Data, c.m1)
	blk.w2.Apply(&c.f2, a1)
	c.m2 = m.dropout(&c.m2b, len(c.f2.Data), train, rng)
	applyMask(c.f2.Data, c.m2)
	switch m.cfg.Style {
	case nn.StyleTF:
		c.out = addInto(&c.s2, c.fin, &c.f2)
	case nn.StylePreLN:
		c.out = addInto(&c.s2, c.x1, &c.f2)
	default:
		addInto(&c.s2, c.x1, &c.f2)
		c.out = blk.ln2.Apply(&c.ln2, &c.s2)
	}
	return c.out
}

func (m *SASRec) embScale() float32 {
	if m.cfg.NoEmbScale {
		return 1
	}
	return float32(math.Sqrt(float64(m.cfg.Dim)))
}

// parallel reports whether attention over b is worth splitting.
func (m *SASRec) parallel(b *Batch) bool {
	return m.workers() > 1 && b.NumTokens() >= 256 && b.NumSeqs() >= 2
}

func (m *SASRec) workers() int {
	if m.cfg.Threads <= 0 {
		return 2
	}
	return m.cfg.Threads
}

// Backward propagates dh (see Encoder).
func (m *SASRec) Backward(s Scratch, dh *tensor.Tensor) (*tensor.Tensor, error) {
	st := s.(*saScratch)
	b := st.b
	d, T := m.cfg.Dim, b.NumTokens()
	last := st.in
	if n := len(m.blocks); n > 0 {
		last = st.blocks[n-1].out
	}
	cur := &st.dcur
	m.lnF.Backprop(cur, dh, last, &st.lnF, false)
	for i := len(m.blocks) - 1; i >= 0; i-- {
		next := &st.dnext
		m.blockBackward(m.blocks[i], &st.blocks[i], st, cur, next)
		st.dcur, st.dnext = st.dnext, st.dcur
		cur = &st.dcur
	}
	// embedding dropout, layer norm, positions, scale
	applyMask(cur.Data, st.m0)
	if m.embLN != nil {
		m.embLN.Backprop(&st.dnext, cur, &st.e, &st.eLN, false)
		st.dcur, st.dnext = st.dnext, st.dcur
		cur = &st.dcur
	}
	scale := m.embScale()
	dx := resize(&st.dx, T, d)
	var gpos, gmask []float32
	if m.pos.RequiresGrad() {
		gpos = m.pos.Grad.Data
	}
	if m.mask != nil && m.mask.RequiresGrad() {
		gmask = m.mask.Grad.Data
	}
	for t := 0; t < T; t++ {
		g := cur.Data[t*d : (t+1)*d]
		if gpos != nil {
			tensor.Axpy(1, g, gpos[b.Pos[t]*d:(b.Pos[t]+1)*d])
		}
		out := dx.Data[t*d : (t+1)*d]
		if m.mask != nil && len(b.Masked) > t && b.Masked[t] {
			if gmask != nil {
				tensor.Axpy(scale, g, gmask)
			}
			clear(out)
			continue
		}
		for j, v := range g {
			out[j] = v * scale
		}
	}
	return dx, nil
}

// blockBackward writes into din the gradient wrt the block input, given dout.
func (m *SASRec) blockBackward(blk *saBlock, c *saBlockCache, st *saScratch, dout, din *tensor.Tensor) {
	b := st.b
	T, d := b.NumTokens(), m.cfg.Dim
	style := m.cfg.Style
	// d wrt s2 / out
	var ds2 *tensor.Tensor
	if style == nn.StylePostLN {
		ds2 = &st.dtmp
		blk.ln2.Backprop(ds2, dout, &c.s2, &c.ln2, false)
	} else {
		ds2 = dout
	}
	// FFN backward: dF = ds2
	dF := resize(&st.dF, T, d)
	copy(dF.Data, ds2.Data)
	applyMask(dF.Data, c.m2)
	da := &st.da1
	blk.w2.Backprop(da, dF, &c.a1, false)
	applyMask(da.Data, c.m1)
	df1 := resize(&st.df1, da.Rows(), da.Cols())
	if m.cfg.Activation == nn.GELU {
		tensor.GELUBackward(df1, da, &c.f1)
	} else {
		for i, v := range c.f1.Data {
			if v > 0 {
				df1.Data[i] = da.Data[i]
			} else {
				df1.Data[i] = 0
			}
		}
	}
	// dfin = W1 backward (+ residual for tf)
	dfin := &st.dqin
	blk.w1.Backprop(dfin, df1, c.fin, false)
	dx1 := &st.dP // reuse as d x1
	switch style {
	case nn.StyleTF:
		// s2 = fin + F, fin = LN2(x1)
		tensor.Axpy(1, ds2.Data, dfin.Data)
		blk.ln2.Backprop(dx1, dfin, c.x1, &c.ln2, false)
	case nn.StylePreLN:
		// s2 = x1 + F, fin = LN2(x1)
		blk.ln2.Backprop(dx1, dfin, c.x1, &c.ln2, false)
		tensor.Axpy(1, ds2.Data, dx1.Data)
	default:
		// s2 = x1 + F, fin = x1
		resize(dx1, T, d)
		copy(dx1.Data, dfin.Data)
		tensor.Axpy(1, ds2.Data, dx1.Data)
	}
	// ds1
	var ds1 *tensor.Tensor
	if style == nn.StylePostLN {
		ds1 = &st.dtmp
		blk.ln1.Backprop(ds1, dx1, &c.s1, &c.ln1, false)
	} else {
		ds1 = dx1
	}
	// attention output projection
	dO := ds1
	if blk.o != nil {
		dO = &st.dO
		blk.o.Backprop(dO, ds1, &c.O, false)
	}
	dQ, dK, dV := zeros(&st.dQ, T, d), zeros(&st.dK, T, d), zeros(&st.dV, T, d)
	drop := st.train && m.cfg.Dropout > 0
	m.attnBufs(st, b)
	if !m.parallel(b) {
		for s := 0; s < b.NumSeqs(); s++ {
			m.attnSeqBackward(c, b, s, dO.Data, dQ.Data, dK.Data, dV.Data, drop, st.abuf[0])
		}
		m.finishBlockBackward(blk, c, st, ds1, dQ, dK, dV, din)
		return
	}
	m.parallelSeqs(b, func(w, s0, s1 int) {
		for s := s0; s < s1; s++ {
			m.attnSeqBackward(c, b, s, dO.Data, dQ.Data, dK.Data, dV.Data, drop, st.abuf[w])
		}
	})
	m.finishBlockBackward(blk, c, st, ds1, dQ, dK, dV, din)
}

// finishBlockBackward propagates the Q/K/V gradients to the block input.
func (m *SASRec) finishBlockBackward(blk *saBlock, c *saBlockCache, st *saScratch, ds1, dQ, dK, dV, din *tensor.Tensor) {
	T, d := st.b.NumTokens(), m.cfg.Dim
	style := m.cfg.Style
	dqin := &st.dqin
	blk.q.Backprop(dqin, dQ, c.qin, false)
	resize(din, T, d)
	switch style {
	case nn.StyleTF:
		// s1 = qn + P, qn = LN1(in); kv = in
		tensor.Axpy(1, ds1.Data, dqin.Data)
		blk.k.Backprop(din, dK, c.kvin, false)
		blk.v.Backprop(din, dV, c.kvin, true)
		blk.ln1.Backprop(din, dqin, c.in, &c.ln1, true)
	case nn.StylePreLN:
		// s1 = in + P, qn = LN1(in) feeds q, k, v
		blk.k.Backprop(dqin, dK, c.kvin, true)
		blk.v.Backprop(dqin, dV, c.kvin, true)
		blk.ln1.Backprop(din, dqin, c.in, &c.ln1, false)
		tensor.Axpy(1, ds1.Data, din.Data)
	default:
		// s1 = in + P, q/k/v from in
		blk.k.Backprop(dqin, dK, c.kvin, true)
		blk.v.Backprop(dqin, dV, c.kvin, true)
		copy(din.Data, dqin.Data)
		tensor.Axpy(1, ds1.Data, din.Data)
	}
}
