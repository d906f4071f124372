package moe

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
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
// candidate item by a Gate, s(u,i) = Σ_k g_k(i)·s^k(u,i), trained with binary
// cross-entropy on the mixed score of the next item and NumNeg uniform
// negatives per position (as backbone.SeqModel: the mean over positives plus
// the mean over negatives). It implements backbone.Model, so backbone.Train
// trains the experts and the gate jointly; NewRecommender serves it
// through a backbone.Recommender.
//
// LossGrad keeps working memory in the Mixture: one training goroutine at a
// time; a Mixture is not safe for concurrent use.
type Mixture struct {
	// Experts are the K experts, in the gate's expert order.
	Experts []Expert
	// Gate weights the experts per candidate item; its parameters are
	// trained when it is an nn.Module (FreqGate and FeatureGate are).
	Gate Gate
	// NumNeg is the number of negatives per position (0 means 1).
	NumNeg int

	numItems, maxLen       int
	batch                  backbone.Batch
	tape                   *autograd.Tape
	encOps                 []*backbone.EncoderOp
	tableOps               []*backbone.TableOp
	scores                 []*autograd.Value
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

// buildBatch fills m.batch with next-item inputs, targets and negatives.
func (m *Mixture) buildBatch(seqs [][]int, rng *rand.Rand) error {
	b := &m.batch
	b.Reset(m.maxLen)
	b.NumNeg = max(m.NumNeg, 1)
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

// LossGrad computes the BCE loss of the mixed scores of seqs and adds its
// gradient into every trainable parameter (experts and gate). See
// backbone.Model.
func (m *Mixture) LossGrad(seqs [][]int, rng *rand.Rand) (float64, error) {
	if err := m.buildBatch(seqs, rng); err != nil {
		return 0, err
	}
	b := &m.batch
	T, neg := b.NumTokens(), b.NumNeg
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
	// candidates: R positives, then R·neg negatives
	m.cands = m.cands[:0]
	for _, t := range m.rows {
		m.cands = append(m.cands, b.Targets[t])
	}
	for _, t := range m.rows {
		m.cands = append(m.cands, b.Negs[t*neg:(t+1)*neg]...)
	}
	C := len(m.cands)
	m.ids = append(append(m.ids[:0], b.Items...), m.cands...)

	// the hidden state that scores each candidate
	m.crow = m.crow[:0]
	for c := range C {
		r := c
		if c >= R {
			r = (c - R) / neg
		}
		m.crow = append(m.crow, m.rows[r])
	}
	// Every expert's table and encoder are recorded on the tape as ops
	// (backbone.TableOp, backbone.EncoderOp): the tape's Backward runs their
	// own backward passes. One tape serves every batch shape.
	m.syncOps()
	tp := m.tape
	tp.Reset()
	for k, e := range m.Experts {
		vecs, err := m.tableOps[k].Apply(tp, m.ids) // [T+C, d]: inputs, then candidates
		if err != nil {
			return 0, fmt.Errorf("moe: expert %q: %w", e.Name, err)
		}
		h, err := m.encOps[k].Apply(tp, b, tp.Slice(vecs, 0, 0, T), true, rng)
		if err != nil {
			return 0, fmt.Errorf("moe: expert %q: %w", e.Name, err)
		}
		m.scores[k] = tp.RowDot(tp.Gather(h, m.crow, -1), tp.Slice(vecs, 0, T, T+C))
	}
	// BCE with weights 1/R on positives and 1/(R·neg) on negatives: the
	// weighted mean is (mean_pos + mean_neg)/2, so the loss is twice it.
	labels, weights := tp.Scratch(C), tp.Scratch(C)
	for c := range C {
		if c < R {
			labels.Data[c], weights.Data[c] = 1, 1/float32(R)
		} else {
			weights.Data[c] = 1 / float32(R*neg)
		}
	}
	mixed := Mix(tp, m.Gate.Weights(tp, m.cands), m.scores...)
	loss := tp.Scale(tp.BCEWithLogits(mixed, tp.Const(labels), weights), 2)
	lv := float64(loss.Data.Data[0])
	if math.IsNaN(lv) || math.IsInf(lv, 0) {
		return lv, nil
	}
	if err := tp.Backward(loss); err != nil {
		return lv, fmt.Errorf("moe: %w", err)
	}
	return lv, nil
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
