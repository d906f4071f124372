package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// Preparer is a Model that needs the training sequences before its first
// step; Train calls Prepare once, before the first epoch. SeqModel uses it
// to build its popularity proposal (ModelConfig.Proposal).
type Preparer interface {
	Prepare(train [][]int) error
}

// Prepare builds what the model's loss needs from the training sequences
// (one per user, as Train takes them): the popularity proposal of
// ProposalPopularity. Other configurations need nothing. Train calls it; a
// caller of LossGrad with ProposalPopularity calls it first, and again
// after the catalog grows. An item id outside 1..NumItems is an error
// wrapping ErrItemOutOfRange.
func (m *SeqModel) Prepare(train [][]int) error {
	if m.Cfg.Proposal != ProposalPopularity {
		return nil
	}
	p, err := data.NewPopularityProposal(train, m.Items.NumItems())
	if err != nil {
		return fmt.Errorf("backbone: popularity proposal: %w", err)
	}
	m.proposal = p
	return nil
}

// ownNegatives reports whether LossGrad draws the negatives itself (shared
// ones, or from the popularity proposal) rather than through the batch with
// SASRec's per-user rule.
func (m *SeqModel) ownNegatives() bool {
	return m.Cfg.SharedNegatives || m.Cfg.Proposal == ProposalPopularity
}

// negatives returns the negative items of this step's predicted rows: NumNeg
// per row (row-major) or, with SharedNegatives, NumNeg for all. For the
// losses that need them it fills m.logqPos and m.logqNeg (log Q of each
// positive and negative, +Inf for a negative equal to its row's positive)
// and m.negWeight (0 for such a negative, 1 otherwise).
func (m *SeqModel) negatives(rng *rand.Rand) ([]int, error) {
	b, k, R, n := &m.batch, m.Cfg.NumNeg, len(m.rows), m.Items.NumItems()
	m.negs = m.negs[:0]
	if !m.ownNegatives() {
		for _, t := range m.rows {
			m.negs = append(m.negs, b.Negs[t*k:(t+1)*k]...)
		}
		if m.Cfg.LogQ { // uniform: the same log Q everywhere
			lq := -float32(math.Log(float64(n)))
			resize(&m.logqPos, R, 1).Fill(lq)
			resize(&m.logqNeg, R, k).Fill(lq)
		}
		return m.negs, nil
	}
	p := m.proposal
	if m.Cfg.Proposal == ProposalPopularity {
		if p == nil {
			return nil, fmt.Errorf("backbone: %w: the popularity proposal is not built: call Prepare (Train does)", ErrBadConfig)
		}
		if p.NumItems() != n {
			return nil, fmt.Errorf("backbone: %w: the popularity proposal covers %d items, the table %d: call Prepare again", ErrBadConfig, p.NumItems(), n)
		}
	}
	draws := k
	if !m.Cfg.SharedNegatives {
		draws = R * k
	}
	for range draws {
		if p != nil {
			m.negs = append(m.negs, p.Draw(rng))
		} else {
			m.negs = append(m.negs, 1+rng.IntN(n))
		}
	}
	logq := func(item int) float32 {
		if p != nil {
			return p.LogQ(item)
		}
		return -float32(math.Log(float64(n)))
	}
	lqp, lqn, w := resize(&m.logqPos, R, 1), resize(&m.logqNeg, R, k), resize(&m.negWeight, R, k)
	inf := float32(math.Inf(1))
	for r, t := range m.rows {
		pos := b.Targets[t]
		lqp.Data[r] = logq(pos)
		row := m.negs // shared
		if !m.Cfg.SharedNegatives {
			row = m.negs[r*k : (r+1)*k]
		}
		for j, neg := range row {
			lqn.Data[r*k+j], w.Data[r*k+j] = logq(neg), 1
			if neg == pos {
				lqn.Data[r*k+j], w.Data[r*k+j] = inf, 0
			}
		}
	}
	if !m.Cfg.LogQ {
		clear(lqp.Data)
		for i, v := range lqn.Data {
			if v != inf {
				lqn.Data[i] = 0
			}
		}
	}
	return m.negs, nil
}

// leaf points a reusable leaf at data and its gradient buffer g (zeroed,
// same shape) for one use on the model's tape.
func leaf(v *autograd.Value, data, g *tensor.Tensor, rows, cols int) *autograd.Value {
	v.Data = resize(data, rows, cols)
	v.Grad = zeros(g, rows, cols)
	return v
}

// sampledLoss scores every predicted position against its positive (rows
// T..T+R of vecs) and its negatives (the rows after: NumNeg per position,
// or NumNeg shared by all), evaluates the loss of package nn that
// ModelConfig names on those logits, and adds the gradients into dh and
// dvecs. Shared negatives make the negative logits and their gradients
// three GEMMs.
func (m *SeqModel) sampledLoss(h, vecs, dh, dvecs *tensor.Tensor) (float64, error) {
	T, k, d, R := m.batch.NumTokens(), m.Cfg.NumNeg, m.Enc.Dim(), len(m.rows)
	inv := m.invTemp()
	shared := m.Cfg.SharedNegatives
	pos := leaf(m.leafA, &m.za, &m.ga, R, 1)
	neg := leaf(m.leafB, &m.zb, &m.gb, R, k)
	negVecs := vecs.Data[(T+R)*d:]
	if shared {
		m.hsel = growF(m.hsel, R*d)
		for r, t := range m.rows {
			copy(m.hsel[r*d:(r+1)*d], h.Data[t*d:(t+1)*d])
		}
		tensor.Gemm(false, true, R, k, d, inv, m.hsel, d, negVecs[:k*d], d, 0, neg.Data.Data, k)
	}
	for r, t := range m.rows {
		ht := h.Data[t*d : (t+1)*d]
		pr := T + r
		pos.Data.Data[r] = tensor.Dot(ht, vecs.Data[pr*d:(pr+1)*d]) * inv
		if shared {
			continue
		}
		for j := 0; j < k; j++ {
			nr := r*k + j
			neg.Data.Data[nr] = tensor.Dot(ht, negVecs[nr*d:(nr+1)*d]) * inv
		}
	}
	tp := m.tape
	tp.Reset()
	var l *autograd.Value
	switch {
	case m.Cfg.Loss == LossBCE:
		l = nn.BCELoss(tp, pos, neg, nil)
	case m.Cfg.Loss == LossGBCE:
		beta, err := nn.GBCEBeta(k, m.Items.NumItems(), m.Cfg.Calibration)
		if err != nil {
			return 0, fmt.Errorf("backbone: %w", err)
		}
		var w *tensor.Tensor
		if m.ownNegatives() {
			w = &m.negWeight
		}
		l = nn.GBCELoss(tp, pos, neg, beta, w, nil)
	case m.Cfg.LogQ || m.ownNegatives():
		l = nn.LogQSampledSoftmaxLoss(tp, pos, neg, &m.logqPos, &m.logqNeg, nil)
	default:
		l = nn.SampledSoftmaxLoss(tp, pos, neg, nil)
	}
	loss := float64(l.Data.Data[0])
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, nil
	}
	if err := tp.Backward(l); err != nil {
		return loss, fmt.Errorf("backbone: loss: %w", err)
	}
	dNegVecs := dvecs.Data[(T+R)*d:]
	for r, t := range m.rows {
		ht := h.Data[t*d : (t+1)*d]
		dht := dh.Data[t*d : (t+1)*d]
		pr := T + r
		g := pos.Grad.Data[r] * inv
		tensor.Axpy(g, vecs.Data[pr*d:(pr+1)*d], dht)
		tensor.Axpy(g, ht, dvecs.Data[pr*d:(pr+1)*d])
		if shared {
			continue
		}
		for j := 0; j < k; j++ {
			nr := r*k + j
			g := neg.Grad.Data[nr] * inv
			tensor.Axpy(g, negVecs[nr*d:(nr+1)*d], dht)
			tensor.Axpy(g, ht, dNegVecs[nr*d:(nr+1)*d])
		}
	}
	if shared {
		// dH_sel = inv·G·W_neg and dW_neg += inv·Gᵀ·H_sel
		m.dhsel = growF(m.dhsel, R*d)
		tensor.Gemm(false, false, R, d, k, inv, neg.Grad.Data, k, negVecs[:k*d], d, 0, m.dhsel, d)
		tensor.Gemm(true, false, k, d, R, inv, neg.Grad.Data, k, m.hsel, d, 1, dNegVecs[:k*d], d)
		for r, t := range m.rows {
			tensor.Axpy(1, m.dhsel[r*d:(r+1)*d], dh.Data[t*d:(t+1)*d])
		}
	}
	return loss, nil
}
