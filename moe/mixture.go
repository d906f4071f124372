package moe

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// Expert is one scorer of a Mixture: a sequence encoder over its own item
// table, scoring item i for hidden state h by ⟨h, e_i⟩. PAD's three experts
// are an ID table, the aligned table (ID ⊕ adapted text) and an adapted
// text table, each with its own SASRec. Two experts may share an Encoder
// (each keeps its own Scratch) but not an ItemTable (a table remembers its
// last Lookup for Backward).
type Expert struct {
	// Name prefixes the expert's parameter names ("experts.<Name>.").
	Name string
	// Enc encodes the user's sequence over this expert's item vectors.
	Enc backbone.Encoder
	// Items is the expert's item table (input and output vectors).
	Items backbone.ItemTable
}

// Mixture is PAD's disentangled model: K experts whose scores are mixed per
// candidate item by a Gate, s(u,i) = Σ_k g_k(i)·s^k(u,i), trained on the
// mixed score of the next item with the objective Loss names: full
// cross-entropy over every item, or binary cross-entropy against NumNeg
// uniform negatives per position (PAD's paper; as backbone.SeqModel: the
// mean over positives plus the mean over negatives). It implements
// backbone.Model, so backbone.Train trains the experts and the gate
// jointly; NewRecommender serves it through a backbone.Recommender.
//
// LossGrad keeps working memory in the Mixture: one training goroutine at a
// time; a Mixture is not safe for concurrent use.
type Mixture struct {
	// Experts are the K experts, in the gate's expert order.
	Experts []Expert
	// Gate weights the experts per candidate item; its parameters are
	// trained when it is an nn.Module (FreqGate and FeatureGate are).
	Gate Gate
	// NumNeg is the number of negatives per position of LossBCE (0 means 1).
	NumNeg int
	// Loss is the training objective: backbone.LossCrossEntropy (the
	// softmax of the mixed scores over every item) or backbone.LossBCE. The
	// zero value, backbone.LossDefault, is cross-entropy up to
	// backbone.DefaultFullCEMaxItems items and BCE above, where a step's
	// rows x items scores would not fit (the mixture has no sampled
	// softmax). It is a training setting: a saved mixture does not keep it.
	Loss backbone.Loss

	numItems, maxLen       int
	batch                  backbone.Batch
	tape                   *autograd.Tape
	encOps                 []*backbone.EncoderOp
	tableOps               []*backbone.TableOp
	scores, hs, hcat, ecat []*autograd.Value
	ce                     mixedCE
	ids, rows, cands, crow []int
}

// NewMixture checks that the experts agree on the number of items and the
// window width and that each encoder's width matches its table's. gate must
// give len(experts) weights per item; a gate with a Validate method (FreqGate,
// FeatureGate) must pass it. A bad gate or a negative numNeg is an error
// wrapping ErrBadConfig.
func NewMixture(experts []Expert, gate Gate, numNeg int) (*Mixture, error) {
	if len(experts) == 0 {
		return nil, fmt.Errorf("moe: NewMixture: %w: no experts", ErrBadConfig)
	}
	if gate == nil {
		return nil, fmt.Errorf("moe: NewMixture: %w: nil gate", ErrBadConfig)
	}
	if v, ok := gate.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("moe: NewMixture: %w", err)
		}
	}
	if numNeg < 0 {
		return nil, fmt.Errorf("moe: NewMixture: %w: %d negatives", ErrBadConfig, numNeg)
	}
	m := &Mixture{Experts: experts, Gate: gate, NumNeg: numNeg}
	for k, e := range experts {
		if e.Enc == nil || e.Items == nil {
			return nil, fmt.Errorf("moe: NewMixture: expert %d (%q) lacks an encoder or an item table", k, e.Name)
		}
		if e.Enc.Dim() != e.Items.Dim() {
			return nil, fmt.Errorf("moe: NewMixture: expert %d (%q): encoder width %d != item table width %d", k, e.Name, e.Enc.Dim(), e.Items.Dim())
		}
		if k == 0 {
			m.numItems, m.maxLen = e.Items.NumItems(), e.Enc.MaxLen()
		} else if e.Items.NumItems() != m.numItems || e.Enc.MaxLen() != m.maxLen {
			return nil, fmt.Errorf("moe: NewMixture: expert %d (%q) has %d items and window %d, expert 0 has %d and %d",
				k, e.Name, e.Items.NumItems(), e.Enc.MaxLen(), m.numItems, m.maxLen)
		}
	}
	w := gate.Weights(autograd.NewInferenceTape(), []int{0})
	if w.Data.Dims() != 2 || w.Data.Shape[1] != len(experts) {
		return nil, fmt.Errorf("moe: NewMixture: gate gives weights of shape %v for one item, want [1 %d]", w.Data.Shape, len(experts))
	}
	m.syncOps()
	return m, nil
}

// NumItems returns the number of items.
func (m *Mixture) NumItems() int { return m.numItems }

// Params returns the gate's parameters under "gate." and every expert's
// table and encoder parameters under "experts.<Name>.item_emb." and
// "experts.<Name>.". An encoder or table shared by two experts is listed
// once, under the first.
func (m *Mixture) Params() []nn.Param {
	var out []nn.Param
	if mod, ok := m.Gate.(nn.Module); ok {
		out = append(out, nn.Prefix("gate", mod.Params())...)
	}
	seen := map[*autograd.Value]bool{}
	for _, e := range m.Experts {
		ps := append(nn.Prefix("item_emb", e.Items.Params()), e.Enc.Params()...)
		for _, p := range nn.Prefix("experts."+e.Name, ps) {
			if !seen[p.Value] {
				seen[p.Value] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// objective resolves Loss (see its doc).
func (m *Mixture) objective() (backbone.Loss, error) {
	switch m.Loss {
	case backbone.LossDefault:
		if m.numItems <= backbone.DefaultFullCEMaxItems {
			return backbone.LossCrossEntropy, nil
		}
		return backbone.LossBCE, nil
	case backbone.LossBCE, backbone.LossCrossEntropy:
		return m.Loss, nil
	}
	return 0, fmt.Errorf("moe: %w: a mixture trains with loss %q or %q, not %q", ErrBadConfig,
		backbone.LossCrossEntropy, backbone.LossBCE, m.Loss)
}

// buildBatch fills m.batch with next-item inputs, targets and (for BCE)
// negatives.
func (m *Mixture) buildBatch(seqs [][]int, loss backbone.Loss, rng *rand.Rand) error {
	b := &m.batch
	b.Reset(m.maxLen)
	b.NumNeg = max(m.NumNeg, 1)
	if loss == backbone.LossCrossEntropy {
		b.NumNeg = 0 // every item is a negative
	}
	for u, s := range seqs {
		for _, it := range s {
			if it < 1 || it > m.numItems {
				return fmt.Errorf("moe: sequence %d: item id %d outside 1..%d: %w", u, it, m.numItems, backbone.ErrItemOutOfRange)
			}
		}
		if err := b.AddNextItem(s, m.numItems, rng); err != nil {
			return fmt.Errorf("%w (sequence %d)", err, u)
		}
	}
	return nil
}

// LossGrad computes the loss (see Loss) of the mixed scores of seqs and adds
// its gradient into every trainable parameter (experts and gate). See
// backbone.Model.
func (m *Mixture) LossGrad(seqs [][]int, rng *rand.Rand) (float64, error) {
	obj, err := m.objective()
	if err != nil {
		return 0, err
	}
	if err := m.buildBatch(seqs, obj, rng); err != nil {
		return 0, err
	}
	b := &m.batch
	T := b.NumTokens()
	m.rows = m.rows[:0]
	for t, tg := range b.Targets {
		if tg != 0 {
			m.rows = append(m.rows, t)
		}
	}
	if len(m.rows) == 0 {
		return 0, nil
	}
	ce := obj == backbone.LossCrossEntropy
	// candidates: every item 1..N (cross-entropy), or the R positives and
	// then the R·neg negatives (BCE)
	m.cands = m.cands[:0]
	if ce {
		for i := 1; i <= m.numItems; i++ {
			m.cands = append(m.cands, i)
		}
	} else {
		for _, t := range m.rows {
			m.cands = append(m.cands, b.Targets[t])
		}
		for _, t := range m.rows {
			m.cands = append(m.cands, b.Negs[t*b.NumNeg:(t+1)*b.NumNeg]...)
		}
	}
	C := len(m.cands)
	m.ids = append(append(m.ids[:0], b.Items...), m.cands...)

	// Every expert's table and encoder are recorded on the tape as ops
	// (backbone.TableOp, backbone.EncoderOp): the tape's Backward runs their
	// own backward passes. One tape serves every batch shape.
	m.syncOps()
	tp := m.tape
	tp.Reset()
	hs := m.hs
	for k, e := range m.Experts {
		vecs, err := m.tableOps[k].Apply(tp, m.ids) // [T+C, d]: inputs, then candidates
		if err != nil {
			return 0, fmt.Errorf("moe: expert %q: %w", e.Name, err)
		}
		h, err := m.encOps[k].Apply(tp, b, tp.Slice(vecs, 0, 0, T), true, rng)
		if err != nil {
			return 0, fmt.Errorf("moe: expert %q: %w", e.Name, err)
		}
		hs[k], m.scores[k] = h, tp.Slice(vecs, 0, T, T+C)
	}
	var loss *autograd.Value
	if ce {
		if loss, err = m.crossEntropy(tp, hs); err != nil {
			return 0, fmt.Errorf("moe: %w", err)
		}
	} else {
		loss = m.bce(tp, hs)
	}
	lv := float64(loss.Data.Data[0])
	if math.IsNaN(lv) || math.IsInf(lv, 0) {
		return lv, nil
	}
	if err := tp.Backward(loss); err != nil {
		return lv, fmt.Errorf("moe: %w", err)
	}
	return lv, nil
}

// crossEntropy is the mean over predicted rows of −log softmax(s(u,·))
// at the target, the mixed scores s(u,i) = Σ_k g_k(i)·⟨h_k(u), e_k(i)⟩ over
// every item. The sum over experts is one inner product of concatenations,
// s(u,i) = ⟨[h_1(u) … h_K(u)], [g_1(i)·e_1(i) … g_K(i)·e_K(i)]⟩, so the
// rows x items scores go through tensor.LinearCrossEntropy's fused kernel
// and never exist whole. hs are the experts' hidden states; m.scores holds
// their item vectors (m.cands = 1..N).
func (m *Mixture) crossEntropy(tp *autograd.Tape, hs []*autograd.Value) (*autograd.Value, error) {
	w := m.Gate.Weights(tp, m.cands) // [N, K]
	hcat, ecat := m.hcat[:len(hs)], m.ecat[:len(hs)]
	for k, h := range hs {
		hcat[k] = tp.Gather(h, m.rows, -1)
		ecat[k] = tp.Mul(m.scores[k], tp.Slice(w, 1, k, k+1))
	}
	m.ce.targets = m.ce.targets[:0]
	for _, t := range m.rows {
		m.ce.targets = append(m.ce.targets, m.batch.Targets[t]-1)
	}
	return tp.Apply(&m.ce, tp.Concat(-1, hcat...), tp.Concat(-1, ecat...))
}

// mixedCE is the fused cross-entropy of the concatenated hidden states
// [R, D] against the concatenated gated item vectors [N, D], recorded on the
// tape as an autograd.Function: Forward computes the mean loss and both
// gradients at once (the kernel's design), Backward scales them by dout.
type mixedCE struct {
	lce     tensor.LinearCrossEntropy
	targets []int
}

// mixedCEBudget bounds the bytes of logits mixedCE holds at once (as
// backbone's LogitsBudget).
const mixedCEBudget = 12 << 20

// Forward implements autograd.Function.
func (f *mixedCE) Forward(c *autograd.FuncContext, in []*tensor.Tensor) (*tensor.Tensor, error) {
	h, e := in[0], in[1]
	R, D, N := h.Shape[0], h.Shape[1], e.Shape[0]
	dh, de := c.Tensor(R, D), c.Tensor(N, D)
	loss := f.lce.LossGrad(h.Data, R, D, e.Data, N, f.targets, 1/float32(R), max(1, mixedCEBudget/(4*N)), dh.Data, de.Data)
	c.Save(dh)
	c.Save(de)
	out := c.Tensor(1)
	out.Data[0] = float32(loss / float64(R))
	return out, nil
}

// Backward implements autograd.Function.
func (f *mixedCE) Backward(c *autograd.FuncContext, dout *tensor.Tensor, din []*tensor.Tensor) error {
	g := dout.Data[0]
	for i, d := range din {
		if d != nil {
			tensor.Axpy(g, c.Saved(i).Data, d.Data)
		}
	}
	return nil
}

// bce is binary cross-entropy of the mixed scores of the positives (label 1)
// and the negatives (label 0), with weights 1/R on positives and 1/(R·neg)
// on negatives: the weighted mean is (mean_pos + mean_neg)/2, so the loss
// is twice it. hs are the experts' hidden states; m.scores holds their
// candidates' vectors.
func (m *Mixture) bce(tp *autograd.Tape, hs []*autograd.Value) *autograd.Value {
	R, C, neg := len(m.rows), len(m.cands), m.batch.NumNeg
	// the hidden state that scores each candidate
	m.crow = m.crow[:0]
	for c := range C {
		r := c
		if c >= R {
			r = (c - R) / neg
		}
		m.crow = append(m.crow, m.rows[r])
	}
	for k, h := range hs {
		m.scores[k] = tp.RowDot(tp.Gather(h, m.crow, -1), m.scores[k])
	}
	labels, weights := tp.Scratch(C), tp.Scratch(C)
	for c := range C {
		if c < R {
			labels.Data[c], weights.Data[c] = 1, 1/float32(R)
		} else {
			weights.Data[c] = 1 / float32(R*neg)
		}
	}
	mixed := Mix(tp, m.Gate.Weights(tp, m.cands), m.scores...)
	return tp.Scale(tp.BCEWithLogits(mixed, tp.Const(labels), weights), 2)
}

// syncOps (re)makes the tape and the experts' ops when the experts changed.
func (m *Mixture) syncOps() {
	if m.tape == nil {
		m.tape = autograd.NewTape()
	}
	if len(m.encOps) != len(m.Experts) {
		m.encOps = make([]*backbone.EncoderOp, len(m.Experts))
		m.tableOps = make([]*backbone.TableOp, len(m.Experts))
		m.scores = make([]*autograd.Value, len(m.Experts))
		m.hs = make([]*autograd.Value, len(m.Experts))
		m.hcat = make([]*autograd.Value, len(m.Experts))
		m.ecat = make([]*autograd.Value, len(m.Experts))
	}
	for k, e := range m.Experts {
		if m.encOps[k] == nil || m.encOps[k].Enc != e.Enc {
			m.encOps[k] = backbone.NewEncoderOp(e.Enc)
		}
		if m.tableOps[k] == nil || m.tableOps[k].Items != e.Items {
			m.tableOps[k] = backbone.NewTableOp(e.Items)
		}
	}
}
