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

	numItems, maxLen int
	scratch          []backbone.Scratch
	batch            backbone.Batch
	tape             *autograd.Tape
	tapeC            int
	ids, rows, cands []int
	vecs, x, dvecs   []tensor.Tensor
	dh               []tensor.Tensor
	hs               []*tensor.Tensor
	labels, weights  []float32
}

// NewMixture checks that the experts agree on the number of items and the
// window width and that each encoder's width matches its table's. gate must
// give len(experts) weights per item.
func NewMixture(experts []Expert, gate Gate, numNeg int) (*Mixture, error) {
	if len(experts) == 0 {
		return nil, fmt.Errorf("moe: NewMixture: no experts")
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
		m.scratch = append(m.scratch, e.Enc.NewScratch())
	}
	w := gate.Weights(autograd.NewInferenceTape(), []int{0})
	if w.Data.Dims() != 2 || w.Data.Shape[1] != len(experts) {
		return nil, fmt.Errorf("moe: NewMixture: gate gives weights of shape %v for one item, want [1 %d]", w.Data.Shape, len(experts))
	}
	k := len(experts)
	m.vecs, m.x, m.dvecs, m.dh = make([]tensor.Tensor, k), make([]tensor.Tensor, k), make([]tensor.Tensor, k), make([]tensor.Tensor, k)
	m.hs = make([]*tensor.Tensor, k)
	m.tape = autograd.NewTape()
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

	// A tape keeps its arena sized by the first shapes it saw; the number of
	// candidates changes with every batch, so start a fresh (small) tape
	// when it does, which keeps memory bounded.
	if m.tape == nil || C != m.tapeC {
		m.tape, m.tapeC = autograd.NewTape(), C
	}
	tp := m.tape
	tp.Reset()
	scores := make([]*autograd.Value, len(m.Experts))
	for k, e := range m.Experts {
		d := e.Enc.Dim()
		vecs := e.Items.Lookup(&m.vecs[k], m.ids)
		x := ensure(&m.x[k], T, d)
		copy(x.Data, vecs.Data[:T*d])
		h := e.Enc.Forward(m.scratch[k], b, x, true, rng)
		m.hs[k] = h
		s := tensor.New(C)
		for c := range C {
			r := c
			if c >= R {
				r = (c - R) / neg
			}
			t := m.rows[r]
			s.Data[c] = tensor.Dot(h.Data[t*d:(t+1)*d], vecs.Data[(T+c)*d:(T+c+1)*d])
		}
		scores[k] = autograd.NewParam(s)
	}
	// BCE with weights 1/R on positives and 1/(R·neg) on negatives: the
	// weighted mean is (mean_pos + mean_neg)/2, so the loss is twice it.
	m.labels = append(m.labels[:0], make([]float32, C)...)
	m.weights = append(m.weights[:0], make([]float32, C)...)
	for c := range C {
		if c < R {
			m.labels[c], m.weights[c] = 1, 1/float32(R)
		} else {
			m.weights[c] = 1 / float32(R*neg)
		}
	}
	mixed := Mix(tp, m.Gate.Weights(tp, m.cands), scores...)
	bce := tp.BCEWithLogits(mixed, tp.Const(tensor.FromSlice(m.labels, C)), tensor.FromSlice(m.weights, C))
	loss := tp.Scale(bce, 2)
	lv := float64(loss.Data.Data[0])
	if math.IsNaN(lv) || math.IsInf(lv, 0) {
		return lv, nil
	}
	if err := tp.Backward(loss); err != nil {
		return lv, err
	}
	// chain each expert's score gradient back to its encoder and table
	for k, e := range m.Experts {
		d := e.Enc.Dim()
		h, vecs, ds := m.hs[k], &m.vecs[k], scores[k].Grad.Data
		dv := zeroed(&m.dvecs[k], T+C, d)
		dh := zeroed(&m.dh[k], T, d)
		for c, g := range ds {
			r := c
			if c >= R {
				r = (c - R) / neg
			}
			t := m.rows[r]
			tensor.Axpy(g, vecs.Data[(T+c)*d:(T+c+1)*d], dh.Data[t*d:(t+1)*d])
			tensor.Axpy(g, h.Data[t*d:(t+1)*d], dv.Data[(T+c)*d:(T+c+1)*d])
		}
		dx, err := e.Enc.Backward(m.scratch[k], dh)
		if err != nil {
			return lv, err
		}
		copy(dv.Data[:T*d], dx.Data)
		if err := e.Items.Backward(dv); err != nil {
			return lv, err
		}
	}
	return lv, nil
}

func ensure(t *tensor.Tensor, rows, cols int) *tensor.Tensor {
	n := rows * cols
	if cap(t.Data) < n {
		t.Data = make([]float32, n)
	}
	t.Data = t.Data[:n]
	t.Shape = append(t.Shape[:0], rows, cols)
	return t
}

func zeroed(t *tensor.Tensor, rows, cols int) *tensor.Tensor {
	ensure(t, rows, cols)
	clear(t.Data)
	return t
}
