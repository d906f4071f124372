package backbone

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/data"
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
// "sampled", "ce", "gbce"); the zero value, LossDefault, is resolved by
// NewSeqModel (see DefaultLoss). A saved config always names its loss; one
// saved before the loss was written (no "loss" key) trained with BCE and
// reads as LossBCE.
type Loss int

const (
	// LossDefault asks NewSeqModel for the library's default objective,
	// the most accurate one measured for the catalog's size (DefaultLoss).
	LossDefault Loss = iota
	// LossBCE is SASRec's loss: binary cross-entropy of the positive item
	// against 1 and of NumNeg negatives against 0, each averaged over the
	// predicted positions (nn.BCELoss).
	LossBCE
	// LossSampledSoftmax is the cross-entropy of the positive among itself
	// and NumNeg negatives, with logits divided by Temperature
	// (nn.SampledSoftmaxLoss); with LogQ each logit is corrected by the
	// log of its proposal probability (nn.LogQSampledSoftmaxLoss).
	LossSampledSoftmax
	// LossCrossEntropy is the cross-entropy of the positive over every item
	// 1..NumItems (the loss RecBole trains SASRec with; "SASRec+"), logits
	// divided by Temperature (the loss of nn.FullCrossEntropyLoss). The
	// logits are computed in chunks of rows (ModelConfig.LogitsBudget), so
	// memory stays bounded for large catalogs, and forward and backward
	// are fused: every step costs three GEMMs against the whole table and
	// one exponential per predicted position and item.
	LossCrossEntropy
	// LossGBCE is gSASRec's generalised BCE (nn.GBCELoss): BCE over the
	// positive and NumNeg uniform negatives with the positive's
	// probability raised to β = 1 − t·(1 − α), α = NumNeg/(NumItems − 1),
	// t = Calibration, which undoes the overconfidence that negative
	// sampling teaches.
	LossGBCE
)

var lossNames = [...]string{LossDefault: "default", LossBCE: "bce", LossSampledSoftmax: "sampled",
	LossCrossEntropy: "ce", LossGBCE: "gbce"}

// String returns the loss's name: "default", "bce", "sampled", "ce" or
// "gbce".
func (l Loss) String() string {
	if l >= 0 && int(l) < len(lossNames) {
		return lossNames[l]
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

// ParseLoss returns the loss named s (see Loss.String; "" is LossDefault);
// another name is an error wrapping ErrBadConfig.
func ParseLoss(s string) (Loss, error) {
	if s == "" {
		return LossDefault, nil
	}
	for i, n := range lossNames {
		if s == n {
			return Loss(i), nil
		}
	}
	return 0, fmt.Errorf("backbone: %w: loss %q (want bce, sampled, ce, gbce or default)", ErrBadConfig, s)
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

// Proposal is the distribution a sampled loss draws its negatives from. It
// is JSON-encoded by name ("uniform", "popularity").
type Proposal int

const (
	// ProposalUniform draws uniformly over the items. With per-position
	// negatives (SharedNegatives off) a draw is redrawn while it is in the
	// user's training sequence, SASRec's rule (data.NegativeSampler);
	// shared negatives cannot know the user and only mask a draw equal to
	// a position's positive.
	ProposalUniform Proposal = iota
	// ProposalPopularity draws item i with probability ∝ its count in the
	// training sequences + 1 (data.NewPopularityProposal, built by Prepare,
	// which Train calls); a draw equal to the position's positive is
	// masked. Pair it with LogQ.
	ProposalPopularity
)

var proposalNames = [...]string{ProposalUniform: "uniform", ProposalPopularity: "popularity"}

// String returns the proposal's name.
func (p Proposal) String() string {
	if p >= 0 && int(p) < len(proposalNames) {
		return proposalNames[p]
	}
	return fmt.Sprintf("Proposal(%d)", int(p))
}

// ParseProposal returns the proposal named s ("" is ProposalUniform);
// another name is an error wrapping ErrBadConfig.
func ParseProposal(s string) (Proposal, error) {
	if s == "" {
		return ProposalUniform, nil
	}
	for i, n := range proposalNames {
		if s == n {
			return Proposal(i), nil
		}
	}
	return 0, fmt.Errorf("backbone: %w: proposal %q (want uniform or popularity)", ErrBadConfig, s)
}

// MarshalText encodes the proposal by name.
func (p Proposal) MarshalText() ([]byte, error) {
	if p < 0 || int(p) >= len(proposalNames) {
		return nil, fmt.Errorf("backbone: %w: unknown proposal %d", ErrBadConfig, int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText decodes a proposal name (see ParseProposal).
func (p *Proposal) UnmarshalText(b []byte) error {
	v, err := ParseProposal(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ModelConfig is the part of a SeqModel's configuration that is not the
// encoder's or the item table's. It is a plain value, safe for concurrent
// reads.
type ModelConfig struct {
	// Task is TaskNext (predict the next item at every position: SASRec,
	// GRU4Rec) or TaskMasked (predict masked items: BERT4Rec).
	Task Task `json:"task"`
	// Loss is the training loss; LossDefault (the zero value) is resolved
	// by NewSeqModel (see DefaultLoss).
	Loss Loss `json:"loss"`
	// NumNeg is the number of negatives per predicted position (or per
	// batch, with SharedNegatives) of LossBCE, LossSampledSoftmax and
	// LossGBCE (0 means 1, as in SASRec); unused by LossCrossEntropy.
	NumNeg int `json:"num_neg"`
	// Temperature divides the logits of the softmax losses (0 means 1); it
	// must be 0 for LossBCE and LossGBCE.
	Temperature float64 `json:"temperature,omitempty"`
	// Calibration is LossGBCE's t in [0, 1]: 0 means gSASRec's 0.75 (for
	// β = 1 exactly, use LossBCE's weighting or a t of 1e-9).
	Calibration float64 `json:"calibration,omitempty"`
	// Proposal is the distribution negatives come from (ProposalUniform by
	// default; see Proposal).
	Proposal Proposal `json:"proposal,omitempty"`
	// LogQ corrects LossSampledSoftmax's logits by the log of each item's
	// proposal probability (Yi et al., RecSys 2019). Under a uniform
	// proposal it shifts every logit alike and changes nothing.
	LogQ bool `json:"logq,omitempty"`
	// SharedNegatives draws NumNeg negatives once per step, shared by every
	// predicted position (LossSampledSoftmax and LossGBCE): the logits are
	// then one GEMM, and a step with 1,024 negatives costs about what 1
	// per position does. A draw equal to a position's positive takes no
	// part in that position's loss.
	SharedNegatives bool `json:"shared_negatives,omitempty"`
	// MaskProb is the masking probability of the "masked" task.
	MaskProb float64 `json:"mask_prob,omitempty"`
	// LogitsBudget bounds the bytes of logits LossCrossEntropy holds at
	// once (one float32 buffer of rows x NumItems per chunk of rows; 0
	// means 12 MiB). It does not change the result beyond float32
	// rounding.
	LogitsBudget int `json:"-"`
}

// UnmarshalJSON decodes a saved config. A config without "loss" was saved
// when a BCE-trained model did not write its loss, so it reads as LossBCE,
// not as LossDefault.
func (c *ModelConfig) UnmarshalJSON(b []byte) error {
	type plain ModelConfig // without this method
	p := plain{Loss: LossBCE}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = ModelConfig(p)
	return nil
}

// DefaultFullCEMaxItems is the largest catalog for which LossDefault means
// full cross-entropy; above it the default is sampled softmax with shared
// popularity negatives and the logQ correction, whose cost does not grow
// with the catalog.
const DefaultFullCEMaxItems = 100_000

// DefaultSharedNegatives is the number of shared negatives of the default
// objective above DefaultFullCEMaxItems items.
const DefaultSharedNegatives = 1024

// DefaultObjective returns cfg with LossDefault replaced by the library's
// default objective for a catalog of numItems items: LossCrossEntropy up to
// DefaultFullCEMaxItems items, and above it LossSampledSoftmax with LogQ,
// ProposalPopularity and DefaultSharedNegatives SharedNegatives (NumNeg
// when set). A cfg with another Loss is returned as it is.
func DefaultObjective(cfg ModelConfig, numItems int) ModelConfig {
	if cfg.Loss != LossDefault {
		return cfg
	}
	if numItems <= DefaultFullCEMaxItems {
		cfg.Loss = LossCrossEntropy
		return cfg
	}
	cfg.Loss, cfg.LogQ, cfg.Proposal, cfg.SharedNegatives = LossSampledSoftmax, true, ProposalPopularity, true
	if cfg.NumNeg == 0 {
		cfg.NumNeg = DefaultSharedNegatives
	}
	return cfg
}

// SeqModel is a sequential recommender: an Encoder over the vectors of an
// ItemTable, scored by dot products with the same table, trained with
// ModelConfig.Loss. Negatives of the sampled losses come from
// ModelConfig.Proposal: by default data.NegativeSampler's rule, uniform over
// the items and redrawn while they are in the user's training sequence, as
// in SASRec.
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
	// sampled losses: the proposal (nil until Prepare for popularity), the
	// negatives drawn outside the batch (shared: k; per position: R·k),
	// their log-probabilities, weights and the gathered hidden states
	proposal         *data.Proposal
	negs             []int
	logqPos, logqNeg tensor.Tensor
	negWeight        tensor.Tensor
	hsel, dhsel      []float32
	expBuf           []float32
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
	if cfg.Loss < 0 || int(cfg.Loss) >= len(lossNames) {
		return bad("unknown loss %d", int(cfg.Loss))
	}
	cfg = DefaultObjective(cfg, items.NumItems())
	if cfg.NumNeg == 0 {
		cfg.NumNeg = 1
	}
	if t := cfg.Temperature; math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
		return bad("temperature %v (want a positive number, or 0 for 1)", t)
	}
	if (cfg.Loss == LossBCE || cfg.Loss == LossGBCE) && cfg.Temperature != 0 {
		return bad("temperature %v with the %s loss (it applies to sampled and ce)", cfg.Temperature, cfg.Loss)
	}
	if cfg.Proposal < 0 || int(cfg.Proposal) >= len(proposalNames) {
		return bad("unknown proposal %d", int(cfg.Proposal))
	}
	if cfg.Loss == LossCrossEntropy && (cfg.Proposal != ProposalUniform || cfg.SharedNegatives || cfg.LogQ) {
		return bad("ce scores every item: proposal, shared negatives and logq do not apply")
	}
	if cfg.LogQ && cfg.Loss != LossSampledSoftmax {
		return bad("logq applies to the sampled loss, not %s", cfg.Loss)
	}
	if cfg.SharedNegatives && cfg.Loss == LossBCE {
		return bad("shared negatives with bce (use gbce or sampled)")
	}
	if cfg.Loss == LossGBCE {
		if cfg.Proposal != ProposalUniform {
			return bad("gbce's calibration assumes uniform negatives, not %s", cfg.Proposal)
		}
		if t := cfg.Calibration; !(t >= 0 && t <= 1) {
			return bad("gbce calibration %v (want 0 < t <= 1, or 0 for 0.75)", t)
		}
		if cfg.Calibration == 0 {
			cfg.Calibration = 0.75
		}
		if _, err := nn.GBCEBeta(cfg.NumNeg, items.NumItems(), cfg.Calibration); err != nil {
			return bad("gbce with %d negatives among %d items (want at most items-1)", cfg.NumNeg, items.NumItems())
		}
	} else if cfg.Calibration != 0 {
		return bad("calibration %v applies to gbce, not %s", cfg.Calibration, cfg.Loss)
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

// buildBatch fills m.batch with the training inputs and targets of seqs,
// and the negatives per position of the losses that draw them through the
// batch (SASRec's rule; see ownNegatives).
func (m *SeqModel) buildBatch(seqs [][]int, rng *rand.Rand) error {
	b := &m.batch
	b.Reset(m.Enc.MaxLen())
	b.NumNeg = m.Cfg.NumNeg
	if m.Cfg.Loss == LossCrossEntropy || m.ownNegatives() {
		b.NumNeg = 0 // every item is a negative, or LossGrad draws them
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
	T, d, n := b.NumTokens(), m.Enc.Dim(), m.Items.NumItems()
	m.rows = m.rows[:0]
	for t, tg := range b.Targets {
		if tg != 0 {
			m.rows = append(m.rows, t)
		}
	}
	if len(m.rows) == 0 {
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
		negs, err := m.negatives(rng)
		if err != nil {
			return 0, err
		}
		m.ids = append(m.ids, negs...)
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

// defaultLogitsBudget is LossCrossEntropy's default memory bound: 12 MiB is
// about 256 rows of logits on Beauty (12,101 items), a chunk that stays in
// the last-level cache (tensor.LinearCrossEntropy packs the item table once
// per step, whatever the chunk).
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
