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
	uniform := -float32(math.Log(float64(n)))
	logq := func(item int) float32 {
		if p != nil {
			return p.LogQ(item)
		}
		return uniform
	}
	lqp, lqn, w := resize(&m.logqPos, R, 1), resize(&m.logqNeg, R, k), resize(&m.negWeight, R, k)
	switch {
	case !m.Cfg.LogQ: // only the hits below matter
		clear(lqn.Data)
	case m.Cfg.SharedNegatives: // every row sees the same k columns: fill one, copy it
		for j, neg := range m.negs {
			lqn.Data[j] = logq(neg)
		}
		for r := 1; r < R; r++ {
			copy(lqn.Data[r*k:(r+1)*k], lqn.Data[:k])
		}
	default:
		for i, neg := range m.negs {
			lqn.Data[i] = logq(neg)
		}
	}
	w.Fill(1)
	inf := float32(math.Inf(1))
	for r, t := range m.rows {
		pos := b.Targets[t]
		lqp.Data[r] = 0
		if m.Cfg.LogQ {
			lqp.Data[r] = logq(pos)
		}
		row := m.negs // shared
		if !m.Cfg.SharedNegatives {
			row = m.negs[r*k : (r+1)*k]
		}
		for j, neg := range row {
			if neg == pos {
				lqn.Data[r*k+j], w.Data[r*k+j] = inf, 0
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
	var loss float64
	if m.Cfg.Loss == LossSampledSoftmax && (m.Cfg.LogQ || m.ownNegatives()) {
		// the hot path of the default above DefaultFullCEMaxItems: fused,
		// with the vectorised exponential (the tape's loss is the same
		// function, nn.LogQSampledSoftmaxLoss, at 3-4x the cost)
		m.expBuf = growF(m.expBuf, 1+k)
		loss = logQSoftmaxRows(pos.Data.Data, neg.Data.Data, m.logqPos.Data, m.logqNeg.Data, k, m.expBuf, pos.Grad.Data, neg.Grad.Data)
	} else {
		var err error
		if loss, err = m.tapeLoss(pos, neg, k); err != nil {
			return loss, err
		}
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, nil
	}
	m.pushSampledGrads(h, vecs, dh, dvecs, pos, neg)
	return loss, nil
}

// logQSoftmaxRows is nn.LogQSampledSoftmaxLoss fused by hand: for each row
// r, the softmax over pos[r] − lqp[r] and neg[r,j] − lqn[r,j] (+Inf in lqn
// drops a negative), the mean of −log p(positive) over the rows, and its
// gradient with respect to pos and neg written into gpos and gneg. buf holds
// 1 + k floats.
func logQSoftmaxRows(pos, neg, lqp, lqn []float32, k int, buf, gpos, gneg []float32) float64 {
	R := len(pos)
	invR := 1 / float64(R)
	var loss float64
	for r := range R {
		z := buf[:1+k]
		z[0] = pos[r] - lqp[r]
		mx := z[0]
		for j, v := range neg[r*k : (r+1)*k] {
			z[1+j] = v - lqn[r*k+j]
			mx = max(mx, z[1+j])
		}
		z0 := z[0]
		sum := tensor.ExpSum(z, z, mx)
		loss += math.Log(sum) + float64(mx) - float64(z0)
		sc := float32(invR / sum)
		gpos[r] = z[0]*sc - float32(invR)
		g := gneg[r*k : (r+1)*k]
		for j := range g {
			g[j] = z[1+j] * sc
		}
	}
	return loss * invR
}

// tapeLoss evaluates the loss of package nn that ModelConfig names on the
// logits in pos and neg, and leaves its gradient in their Grad.
func (m *SeqModel) tapeLoss(pos, neg *autograd.Value, k int) (float64, error) {
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
	return loss, nil
}

// pushSampledGrads takes the logits' gradients (pos.Grad, neg.Grad) through
// the dot products into dh and dvecs.
func (m *SeqModel) pushSampledGrads(h, vecs, dh, dvecs *tensor.Tensor, pos, neg *autograd.Value) {
	T, k, d, R := m.batch.NumTokens(), m.Cfg.NumNeg, m.Enc.Dim(), len(m.rows)
	inv := m.invTemp()
	shared := m.Cfg.SharedNegatives
	negVecs := vecs.Data[(T+R)*d:]
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
}
