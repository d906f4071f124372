package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"

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

// ModelConfig is the part of a SeqModel's configuration that is not the
// encoder's or the item table's. It is a plain value, safe for concurrent
// reads.
type ModelConfig struct {
	// Task is TaskNext (predict the next item at every position: SASRec,
	// GRU4Rec) or TaskMasked (predict masked items: BERT4Rec).
	Task Task `json:"task"`
	// NumNeg is the number of uniform negatives per predicted position for
	// the BCE loss (1 in SASRec).
	NumNeg int `json:"num_neg"`
	// MaskProb is the masking probability of the "masked" task.
	MaskProb float64 `json:"mask_prob,omitempty"`
}

// SeqModel is a sequential recommender: an Encoder over the vectors of an
// ItemTable, scored by dot products with the same table, trained with
// binary cross-entropy on the positive item and NumNeg uniform negatives
// per position (negatives are redrawn while they are in the user's training
// sequence), each term averaged over the predicted positions, as in SASRec.
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
	hsel    tensor.Tensor
	dvecs   tensor.Tensor
	dh      tensor.Tensor
}

// NewSeqModel joins an encoder and an item table; their widths must agree.
// A zero cfg.NumNeg means 1; an empty Task means "masked" for a bert4rec
// encoder and "next" otherwise; MaskProb defaults to 0.2.
func NewSeqModel(enc Encoder, items ItemTable, cfg ModelConfig) (*SeqModel, error) {
	if enc.Dim() != items.Dim() {
		return nil, fmt.Errorf("backbone: encoder width %d != item table width %d", enc.Dim(), items.Dim())
	}
	if cfg.NumNeg <= 0 {
		cfg.NumNeg = 1
	}
	if cfg.Task == "" {
		cfg.Task = TaskNext
		if enc.Config().Kind == KindBERT4Rec {
			cfg.Task = TaskMasked
		}
	}
	if cfg.Task != TaskNext && cfg.Task != TaskMasked {
		return nil, fmt.Errorf("backbone: %w: task %q (want next or masked)", ErrBadConfig, cfg.Task)
	}
	if cfg.Task == TaskMasked && enc.Config().Kind != KindBERT4Rec {
		return nil, fmt.Errorf("backbone: %w: task masked needs a bert4rec encoder, got %q", ErrBadConfig, enc.Config().Kind)
	}
	if cfg.MaskProb <= 0 {
		cfg.MaskProb = 0.2
	}
	if cfg.MaskProb >= 1 {
		return nil, fmt.Errorf("backbone: %w: mask probability %g not below 1", ErrBadConfig, cfg.MaskProb)
	}
	return &SeqModel{Enc: enc, Items: items, Cfg: cfg, scratch: enc.NewScratch()}, nil
}

// Params returns the item table's parameters under "item_emb." and the
// encoder's as they are (for an ID table: "item_emb.weight", as the
// PyTorch reference).
func (m *SeqModel) Params() []nn.Param {
	return append(nn.Prefix("item_emb", m.Items.Params()), m.Enc.Params()...)
}

// NumItems returns the number of items.
func (m *SeqModel) NumItems() int { return m.Items.NumItems() }

func contains(seq []int, it int) bool {
	for _, v := range seq {
		if v == it {
			return true
		}
	}
	return false
}

// SampleNegative draws a negative for next-item training: an item in 1..n,
// uniformly, redrawn while it is in seq (the user's training sequence), as the
// SASRec reference does. It returns an error when no such item turns up in
// 10,000 draws (a user who has nearly every item). Models built outside this
// package (moe.Mixture) use it so that all of them sample alike.
func SampleNegative(rng *rand.Rand, seq []int, n int) (int, error) {
	for try := 0; try < 10000; try++ {
		c := 1 + rng.IntN(n)
		if !contains(seq, c) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("backbone: negative sampling failed: a user has %d of %d items", len(seq), n)
}

// buildBatch fills m.batch with the training inputs and targets of seqs.
func (m *SeqModel) buildBatch(seqs [][]int, rng *rand.Rand) error {
	b := &m.batch
	L, n := m.Enc.MaxLen(), m.Items.NumItems()
	b.Reset(L)
	b.NumNeg = m.Cfg.NumNeg
	for u, s := range seqs {
		for _, it := range s {
			if it < 1 || it > n {
				return fmt.Errorf("backbone: sequence %d: item id %d outside 1..%d", u, it, n)
			}
		}
		switch m.Cfg.Task {
		case TaskNext:
			if err := b.AddNextItem(s, n, rng); err != nil {
				return fmt.Errorf("%w (sequence %d)", err, u)
			}
			continue
		case TaskMasked:
			if len(s) == 0 {
				continue
			}
			start := len(b.Items)
			b.AddSeq(s)
			toks := b.Items[start:]
			any := false
			for _, it := range toks {
				mk := rng.Float64() < m.Cfg.MaskProb
				b.Masked = append(b.Masked, mk)
				if mk {
					b.Targets = append(b.Targets, it)
					any = true
				} else {
					b.Targets = append(b.Targets, 0)
				}
			}
			if !any { // mask one position so every user contributes
				j := start + rng.IntN(len(toks))
				b.Masked[j] = true
				b.Targets[j] = b.Items[j]
			}
		}
		// negatives for this user's masked positions
		for t := len(b.Negs) / b.NumNeg; t < len(b.Targets); t++ {
			for k := 0; k < b.NumNeg; k++ {
				if b.Targets[t] == 0 {
					b.Negs = append(b.Negs, 0)
					continue
				}
				c, err := SampleNegative(rng, s, n)
				if err != nil {
					return fmt.Errorf("%w (sequence %d)", err, u)
				}
				b.Negs = append(b.Negs, c)
			}
		}
	}
	return nil
}

// LossGrad computes the BCE loss of seqs and its gradient (see Model).
func (m *SeqModel) LossGrad(seqs [][]int, rng *rand.Rand) (float64, error) {
	if err := m.buildBatch(seqs, rng); err != nil {
		return 0, err
	}
	b := &m.batch
	T, k, d := b.NumTokens(), b.NumNeg, m.Enc.Dim()
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
	// one table lookup: inputs, positives, negatives
	m.ids = append(m.ids[:0], b.Items...)
	for _, t := range m.rows {
		m.ids = append(m.ids, b.Targets[t])
	}
	for _, t := range m.rows {
		m.ids = append(m.ids, b.Negs[t*k:(t+1)*k]...)
	}
	vecs := m.Items.Lookup(&m.vecs, m.ids)
	x := resize(&m.x, T, d)
	copy(x.Data, vecs.Data[:T*d])
	h := m.Enc.Forward(m.scratch, b, x, true, rng)

	dvecs := zeros(&m.dvecs, len(m.ids), d)
	dh := zeros(&m.dh, T, d)
	var lp, ln float64
	invP, invN := 1/float32(R), 1/float32(R*k)
	for r, t := range m.rows {
		ht := h.Data[t*d : (t+1)*d]
		dht := dh.Data[t*d : (t+1)*d]
		pr := T + r
		pv := vecs.Data[pr*d : (pr+1)*d]
		z := dot(ht, pv)
		lp += softplus(-float64(z))
		g := (sigmoid(z) - 1) * invP
		axpy(g, pv, dht)
		axpy(g, ht, dvecs.Data[pr*d:(pr+1)*d])
		for j := 0; j < k; j++ {
			nr := T + R + r*k + j
			nv := vecs.Data[nr*d : (nr+1)*d]
			z := dot(ht, nv)
			ln += softplus(float64(z))
			g := sigmoid(z) * invN
			axpy(g, nv, dht)
			axpy(g, ht, dvecs.Data[nr*d:(nr+1)*d])
		}
	}
	loss := lp/float64(R) + ln/float64(R*k)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, nil
	}
	dx, err := m.Enc.Backward(m.scratch, dh)
	if err != nil {
		return loss, err
	}
	copy(dvecs.Data[:T*d], dx.Data)
	return loss, m.Items.Backward(dvecs)
}

func sigmoid(z float32) float32 { return float32(1 / (1 + math.Exp(-float64(z)))) }

// softplus(x) = log(1+e^x), stable.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}
