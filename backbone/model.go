package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// Model is what Train trains: anything with parameters that can compute the
// loss of a batch of users and its gradient. A model built on the autograd
// package records its forward pass on a tape and calls Backward inside
// LossGrad; the models of this package differentiate by hand.
//
// Train calls LossGrad from one goroutine; a Model need not be safe for
// concurrent use.
type Model interface {
	nn.Module
	// LossGrad computes the mean loss over the training sequences seqs (one
	// per user, chronological, item ids 1..NumItems) and adds its gradient
	// into the Grad of every trainable parameter. Randomness (negatives,
	// masks, dropout) comes from rng.
	LossGrad(seqs [][]int, rng *rand.Rand) (float64, error)
}

// Loss is SeqModel's training loss. It is JSON-encoded by name ("bce",
// "sampled", "ce") in a saved model's config; the zero value is LossBCE.
type Loss int

const (
	// LossBCE is SASRec's loss: binary cross-entropy of the positive item
	// against 1 and of NumNeg uniform negatives against 0, each averaged
	// over the predicted positions (nn.BCELoss).
	LossBCE Loss = iota
	// LossSampledSoftmax is the cross-entropy of the positive among itself
	// and NumNeg uniform negatives, with logits divided by Temperature
	// (nn.SampledSoftmaxLoss).
	LossSampledSoftmax
	// LossCrossEntropy is the cross-entropy of the positive over every item
	// 1..NumItems (the loss RecBole trains SASRec with), logits divided by
	// Temperature (the loss of nn.FullCrossEntropyLoss). The logits are
	// computed in chunks of rows (ModelConfig.LogitsBudget), so memory stays
	// bounded for large catalogs, and forward and backward are fused: every
	// step costs three GEMMs against the whole table and one exponential per
	// predicted position and item.
	LossCrossEntropy
)

var lossNames = [...]string{LossBCE: "bce", LossSampledSoftmax: "sampled", LossCrossEntropy: "ce"}

// String returns the loss's name: "bce", "sampled" or "ce".
func (l Loss) String() string {
	if l >= 0 && int(l) < len(lossNames) {
		return lossNames[l]
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

// ParseLoss returns the loss named s ("bce", "sampled" or "ce"); another
// name is an error wrapping ErrBadConfig.
func ParseLoss(s string) (Loss, error) {
	for i, n := range lossNames {
		if s == n {
			return Loss(i), nil
		}
	}
	return 0, fmt.Errorf("backbone: %w: loss %q (want bce, sampled or ce)", ErrBadConfig, s)
}

// MarshalText encodes the loss by name.
func (l Loss) MarshalText() ([]byte, error) {
	if l < 0 || int(l) >= len(lossNames) {
		return nil, fmt.Errorf("backbone: %w: unknown loss %d", ErrBadConfig, int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText decodes a loss name (see ParseLoss).
func (l *Loss) UnmarshalText(b []byte) error {
	v, err := ParseLoss(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ModelConfig is the part of a SeqModel's configuration that is not the
// encoder's or the item table's. It is a plain value, safe for concurrent
// reads.
type ModelConfig struct {
	// Task is TaskNext (predict the next item at every position: SASRec,
	// GRU4Rec) or TaskMasked (predict masked items: BERT4Rec).
	Task Task `json:"task"`
	// Loss is the training loss (default LossBCE).
	Loss Loss `json:"loss,omitempty"`
	// NumNeg is the number of uniform negatives per predicted position for
	// LossBCE and LossSampledSoftmax (0 means 1, as in SASRec); unused by
	// LossCrossEntropy.
	NumNeg int `json:"num_neg"`
	// Temperature divides the logits of the softmax losses (0 means 1); it
	// must be 0 for LossBCE.
	Temperature float64 `json:"temperature,omitempty"`
	// MaskProb is the masking probability of the "masked" task.
	MaskProb float64 `json:"mask_prob,omitempty"`
	// LogitsBudget bounds the bytes of logits LossCrossEntropy holds at
	// once (one float32 buffer of rows x NumItems per chunk of rows; 0
	// means 12 MiB). It does not change the result beyond float32
	// rounding.
	LogitsBudget int `json:"-"`
}

// SeqModel is a sequential recommender: an Encoder over the vectors of an
// ItemTable, scored by dot products with the same table, trained with
// ModelConfig.Loss. Negatives (LossBCE, LossSampledSoftmax) are drawn by
// data.NegativeSampler's rule: uniform over the items, redrawn while they
// are in the user's training sequence, as in SASRec.
//
// LossGrad keeps its working memory in the model: one training goroutine at
// a time. For serving, build a Recommender, which is safe for concurrent use.
type SeqModel struct {
	// Enc encodes the sequences.
	Enc Encoder
	// Items holds the item vectors, for input and scoring.
	Items ItemTable
	// Cfg holds the task and loss settings.
	Cfg ModelConfig

	scratch Scratch
	batch   Batch
	ids     []int
	rows    []int // token rows that predict something
	vecs    tensor.Tensor
	x       tensor.Tensor
	dvecs   tensor.Tensor
	dh      tensor.Tensor
	// loss on a tape: logits (or hidden states and item vectors) enter as
	// leaves whose Data and Grad point into the buffers below.
	tape           *autograd.Tape
	leafA, leafB   *autograd.Value
	za, zb, ga, gb tensor.Tensor
	// full cross-entropy's buffers
	ce ceWork
}

// NewSeqModel joins an encoder and an item table; their widths must agree.
// A zero cfg.NumNeg means 1; an empty Task means "masked" for a bert4rec
// encoder and "next" otherwise; MaskProb defaults to 0.2; a zero
// Temperature means 1. A configuration that cannot work (unknown task or
// loss, negative NumNeg, a Temperature that is negative, not finite or set
// for LossBCE, MaskProb not below 1) is an error wrapping ErrBadConfig.
func NewSeqModel(enc Encoder, items ItemTable, cfg ModelConfig) (*SeqModel, error) {
	if enc.Dim() != items.Dim() {
		return nil, fmt.Errorf("backbone: %w: encoder width %d != item table width %d", ErrBadConfig, enc.Dim(), items.Dim())
	}
	bad := func(format string, a ...any) (*SeqModel, error) {
		return nil, fmt.Errorf("backbone: %w: "+format, append([]any{ErrBadConfig}, a...)...)
	}
	if cfg.NumNeg < 0 {
		return bad("negative NumNeg %d", cfg.NumNeg)
	}
	if cfg.NumNeg == 0 {
		cfg.NumNeg = 1
	}
	if cfg.Loss < 0 || int(cfg.Loss) >= len(lossNames) {
		return bad("unknown loss %d", int(cfg.Loss))
	}
	if t := cfg.Temperature; math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
		return bad("temperature %v (want a positive number, or 0 for 1)", t)
	}
	if cfg.Loss == LossBCE && cfg.Temperature != 0 {
		return bad("temperature %v with the bce loss (it applies to sampled and ce)", cfg.Temperature)
	}
	if cfg.LogitsBudget < 0 {
		return bad("negative LogitsBudget %d", cfg.LogitsBudget)
	}
	if cfg.Task == "" {
		cfg.Task = TaskNext
		if enc.Config().Kind == KindBERT4Rec {
			cfg.Task = TaskMasked
		}
	}
	if cfg.Task != TaskNext && cfg.Task != TaskMasked {
		return bad("task %q (want next or masked)", cfg.Task)
	}
	if cfg.Task == TaskMasked && enc.Config().Kind != KindBERT4Rec {
		return bad("task masked needs a bert4rec encoder, got %q", enc.Config().Kind)
	}
	if math.IsNaN(cfg.MaskProb) || cfg.MaskProb >= 1 {
		return bad("mask probability %g not below 1", cfg.MaskProb)
	}
	if cfg.MaskProb <= 0 {
		cfg.MaskProb = 0.2
	}
	return &SeqModel{Enc: enc, Items: items, Cfg: cfg, scratch: enc.NewScratch(), tape: autograd.NewTape(),
		leafA: autograd.NewParam(tensor.New(1)), leafB: autograd.NewParam(tensor.New(1))}, nil
}

// Params returns the item table's parameters under "item_emb." and the
// encoder's as they are (for an ID table: "item_emb.weight", as the
// PyTorch reference).
func (m *SeqModel) Params() []nn.Param {
	return append(nn.Prefix("item_emb", m.Items.Params()), m.Enc.Params()...)
}

// NumItems returns the number of items.
func (m *SeqModel) NumItems() int { return m.Items.NumItems() }

// buildBatch fills m.batch with the training inputs and targets of seqs.
func (m *SeqModel) buildBatch(seqs [][]int, rng *rand.Rand) error {
	b := &m.batch
	b.Reset(m.Enc.MaxLen())
	b.NumNeg = m.Cfg.NumNeg
	if m.Cfg.Loss == LossCrossEntropy {
		b.NumNeg = 0 // every item is a negative
	}
	n := m.Items.NumItems()
	for u, s := range seqs {
		var err error
		if m.Cfg.Task == TaskMasked {
			err = b.AddMasked(s, n, m.Cfg.MaskProb, rng)
		} else {
			err = b.AddNextItem(s, n, rng)
		}
		if err != nil {
			return fmt.Errorf("%w (sequence %d)", err, u)
		}
	}
	return nil
}

// LossGrad computes the loss of seqs and its gradient (see Model).
func (m *SeqModel) LossGrad(seqs [][]int, rng *rand.Rand) (float64, error) {
	if err := m.buildBatch(seqs, rng); err != nil {
		return 0, err
	}
	b := &m.batch
	T, k, d, n := b.NumTokens(), b.NumNeg, m.Enc.Dim(), m.Items.NumItems()
	m.rows = m.rows[:0]
	for t, tg := range b.Targets {
		if tg != 0 {
			m.rows = append(m.rows, t)
		}
	}
	R := len(m.rows)
	if R == 0 {
		return 0, nil
	}
	// one table lookup: the inputs, then the positives and negatives, or
	// (full cross-entropy) every item 1..n
	m.ids = append(m.ids[:0], b.Items...)
	if m.Cfg.Loss == LossCrossEntropy {
		for i := 1; i <= n; i++ {
			m.ids = append(m.ids, i)
		}
	} else {
		for _, t := range m.rows {
			m.ids = append(m.ids, b.Targets[t])
		}
		for _, t := range m.rows {
			m.ids = append(m.ids, b.Negs[t*k:(t+1)*k]...)
		}
	}
	vecs := m.Items.Lookup(&m.vecs, m.ids)
	x := resize(&m.x, T, d)
	copy(x.Data, vecs.Data[:T*d])
	h := m.Enc.Forward(m.scratch, b, x, true, rng)

	dvecs := zeros(&m.dvecs, len(m.ids), d)
	dh := zeros(&m.dh, T, d)
	var (
		loss float64
		err  error
	)
	if m.Cfg.Loss == LossCrossEntropy {
		loss = m.fullCE(h, vecs, dh, dvecs)
	} else {
		loss, err = m.sampledLoss(h, vecs, dh, dvecs)
	}
	if err != nil || math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, err
	}
	dx, err := m.Enc.Backward(m.scratch, dh)
	if err != nil {
		return loss, err
	}
	copy(dvecs.Data[:T*d], dx.Data)
	return loss, m.Items.Backward(dvecs)
}

// invTemp returns 1/Temperature (1 when unset).
func (m *SeqModel) invTemp() float32 {
	if m.Cfg.Temperature == 0 {
		return 1
	}
	return float32(1 / m.Cfg.Temperature)
}

// leaf points a reusable leaf at data and its gradient buffer g (zeroed,
// same shape) for one use on the model's tape.
func leaf(v *autograd.Value, data, g *tensor.Tensor, rows, cols int) *autograd.Value {
	v.Data = resize(data, rows, cols)
	v.Grad = zeros(g, rows, cols)
	return v
}

// sampledLoss scores every predicted position against its positive and its
// negatives (rows T.. of vecs), evaluates the BCE or sampled-softmax loss of
// package nn on those logits, and adds the gradients into dh and dvecs.
func (m *SeqModel) sampledLoss(h, vecs, dh, dvecs *tensor.Tensor) (float64, error) {
	T, k, d, R := m.batch.NumTokens(), m.batch.NumNeg, m.Enc.Dim(), len(m.rows)
	inv := m.invTemp()
	pos := leaf(m.leafA, &m.za, &m.ga, R, 1)
	neg := leaf(m.leafB, &m.zb, &m.gb, R, k)
	for r, t := range m.rows {
		ht := h.Data[t*d : (t+1)*d]
		pr := T + r
		pos.Data.Data[r] = tensor.Dot(ht, vecs.Data[pr*d:(pr+1)*d]) * inv
		for j := 0; j < k; j++ {
			nr := T + R + r*k + j
			neg.Data.Data[r*k+j] = tensor.Dot(ht, vecs.Data[nr*d:(nr+1)*d]) * inv
		}
	}
	tp := m.tape
	tp.Reset()
	var l *autograd.Value
	if m.Cfg.Loss == LossBCE {
		l = nn.BCELoss(tp, pos, neg, nil)
	} else {
		l = nn.SampledSoftmaxLoss(tp, pos, neg, nil)
	}
	loss := float64(l.Data.Data[0])
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, nil
	}
	if err := tp.Backward(l); err != nil {
		return loss, fmt.Errorf("backbone: loss: %w", err)
	}
	for r, t := range m.rows {
		ht := h.Data[t*d : (t+1)*d]
		dht := dh.Data[t*d : (t+1)*d]
		pr := T + r
		g := pos.Grad.Data[r] * inv
		tensor.Axpy(g, vecs.Data[pr*d:(pr+1)*d], dht)
		tensor.Axpy(g, ht, dvecs.Data[pr*d:(pr+1)*d])
		for j := 0; j < k; j++ {
			nr := T + R + r*k + j
			g := neg.Grad.Data[r*k+j] * inv
			tensor.Axpy(g, vecs.Data[nr*d:(nr+1)*d], dht)
			tensor.Axpy(g, ht, dvecs.Data[nr*d:(nr+1)*d])
		}
	}
	return loss, nil
}

// defaultLogitsBudget is LossCrossEntropy's default memory bound: 12 MiB is
// about 256 rows of logits on Beauty (12,101 items), a chunk that stays in
// the last-level cache; larger chunks were slower there, smaller ones repack
// the item table more often.
const defaultLogitsBudget = 12 << 20

// fullCE evaluates the full cross-entropy of the predicted positions' hidden
// states against every item vector (rows T..T+n-1 of vecs = items 1..n),
// fused and in chunks of rows so that the logits stay within the budget (see
// ceWork.crossEntropy), and adds the gradients into dh and dvecs.
func (m *SeqModel) fullCE(h, vecs, dh, dvecs *tensor.Tensor) float64 {
	T, d, n := m.batch.NumTokens(), m.Enc.Dim(), m.Items.NumItems()
	budget := m.Cfg.LogitsBudget
	if budget == 0 {
		budget = defaultLogitsBudget
	}
	return m.ce.crossEntropy(h.Data, d, m.batch.Targets, vecs.Data[T*d:(T+n)*d], n, m.invTemp(),
		max(1, budget/(4*n)), dh.Data, dvecs.Data[T*d:(T+n)*d])
}

func sigmoid(z float32) float32 { return float32(1 / (1 + math.Exp(-float64(z)))) }
