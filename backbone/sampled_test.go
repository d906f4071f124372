package backbone

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

func newT(x []float32, rows, cols int) *tensor.Tensor { return tensor.FromSlice(x, rows, cols) }

// vecsInputs returns a copy of the first T rows of vecs (the inputs).
func vecsInputs(vecs *tensor.Tensor, T, d int) *tensor.Tensor {
	return newT(append([]float32(nil), vecs.Data[:T*d]...), T, d)
}

// Planted mistakes of sampledReference; each must break its agreement with
// sampledLoss on the configurations it concerns.
const (
	bugNone      = iota
	bugBetaOne   // gBCE's positive not raised to β
	bugNoLogQ    // the logQ correction forgotten
	bugHits      // a negative equal to its row's positive not masked
	bugSharedRow // a shared negative's gradient overwritten by each position instead of summed
)

func softplus(z float64) float64  { return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) }
func sigmoid64(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// sampledReference computes the sampled losses of a SeqModel the
// straightforward way in float64, from the hidden states h (T x d), the
// looked-up vectors (vecs: the T inputs, then R positives, then the
// negatives: k per row, or k shared) and the negative ids, and pushes the
// gradient through the dot products by hand. It returns the loss and the
// gradients of h and vecs.
func sampledReference(m *SeqModel, h, vecs []float32, bug int) (float64, []float64, []float64) {
	cfg, d, n := m.Cfg, m.Enc.Dim(), m.Items.NumItems()
	T, R, k := m.batch.NumTokens(), len(m.rows), cfg.NumNeg
	inv := 1.0
	if cfg.Temperature != 0 {
		inv = 1 / cfg.Temperature
	}
	own := cfg.SharedNegatives || cfg.Proposal == ProposalPopularity
	logq := func(item int) float64 {
		if cfg.Proposal == ProposalPopularity {
			return float64(m.proposal.LogQ(item))
		}
		return -math.Log(float64(n))
	}
	dh, dv := make([]float64, T*d), make([]float64, len(vecs))
	dot := func(a, b []float32) float64 {
		var s float64
		for j := range a {
			s += float64(a[j]) * float64(b[j])
		}
		return s
	}
	// push adds g·∂s/∂(h_t, v_row) for s = inv·h_t·v_row
	push := func(t, row int, g float64) {
		for j := range d {
			dh[t*d+j] += g * inv * float64(vecs[row*d+j])
			dv[row*d+j] += g * inv * float64(h[t*d+j])
		}
	}
	var loss float64
	for r, t := range m.rows {
		ht := h[t*d : (t+1)*d]
		pos := m.batch.Targets[t]
		prow := T + r
		sp := inv * dot(ht, vecs[prow*d:(prow+1)*d])
		negRow := func(j int) int {
			if cfg.SharedNegatives {
				return T + R + j
			}
			return T + R + r*k + j
		}
		negID := func(j int) int {
			if cfg.SharedNegatives {
				return m.negs[j]
			}
			return m.negs[r*k+j]
		}
		hit := func(j int) bool { return own && bug != bugHits && negID(j) == pos }
		if cfg.SharedNegatives && bug == bugSharedRow {
			clear(dv[(T+R)*d : (T+R+k)*d])
		}
		s := make([]float64, k)
		for j := range k {
			nr := negRow(j)
			s[j] = inv * dot(ht, vecs[nr*d:(nr+1)*d])
		}
		switch cfg.Loss {
		case LossBCE:
			loss += softplus(-sp)/float64(R) + 0
			push(t, prow, (sigmoid64(sp)-1)/float64(R))
			for j := range k {
				loss += softplus(s[j]) / float64(R*k)
				push(t, negRow(j), sigmoid64(s[j])/float64(R*k))
			}
		case LossGBCE:
			alpha := float64(k) / float64(n-1)
			beta := 1 - cfg.Calibration*(1-alpha)
			if bug == bugBetaOne {
				beta = 1
			}
			c := 1 / float64(R*(k+1))
			loss += c * beta * softplus(-sp)
			push(t, prow, c*beta*(sigmoid64(sp)-1))
			for j := range k {
				if hit(j) {
					continue
				}
				loss += c * softplus(s[j])
				push(t, negRow(j), c*sigmoid64(s[j]))
			}
		case LossSampledSoftmax:
			z := make([]float64, 1+k)
			z[0] = sp
			for j := range k {
				z[1+j] = s[j]
			}
			if cfg.LogQ && bug != bugNoLogQ {
				z[0] -= logq(pos)
				for j := range k {
					z[1+j] -= logq(negID(j))
				}
			}
			for j := range k {
				if hit(j) {
					z[1+j] = math.Inf(-1)
				}
			}
			mx := math.Inf(-1)
			for _, v := range z {
				mx = math.Max(mx, v)
			}
			var se float64
			for _, v := range z {
				se += math.Exp(v - mx)
			}
			loss += (mx + math.Log(se) - z[0]) / float64(R)
			push(t, prow, (math.Exp(z[0]-mx)/se-1)/float64(R))
			for j := range k {
				push(t, negRow(j), math.Exp(z[1+j]-mx)/se/float64(R))
			}
		}
	}
	return loss, dh, dv
}

// TestSampledLossesMatchReference runs one LossGrad (which draws the batch
// and the negatives), then sampledLoss again on the same inputs, and
// compares loss and gradients with sampledReference; every planted mistake
// that concerns the configuration must break the agreement. The catalog is
// small, so shared and popularity draws hit their rows' positives, and the
// test checks that some do.
func TestSampledLossesMatchReference(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ModelConfig
		bugs []int
	}{
		{"bce-k", ModelConfig{Loss: LossBCE, NumNeg: 4}, nil},
		{"gbce", ModelConfig{Loss: LossGBCE, NumNeg: 6, Calibration: 0.75}, []int{bugBetaOne}},
		{"gbce-shared", ModelConfig{Loss: LossGBCE, NumNeg: 8, Calibration: 0.5, SharedNegatives: true}, []int{bugBetaOne, bugHits, bugSharedRow}},
		{"sampled-shared", ModelConfig{Loss: LossSampledSoftmax, NumNeg: 8, SharedNegatives: true, Temperature: 0.5}, []int{bugHits, bugSharedRow}},
		{"logq-pop", ModelConfig{Loss: LossSampledSoftmax, NumNeg: 5, LogQ: true, Proposal: ProposalPopularity}, []int{bugNoLogQ, bugHits}},
		{"logq-pop-shared", ModelConfig{Loss: LossSampledSoftmax, NumNeg: 10, LogQ: true, Proposal: ProposalPopularity, SharedNegatives: true}, []int{bugNoLogQ, bugHits, bugSharedRow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lossModel(t, "sasrec", tc.cfg)
			// a skewed training set, so popularity differs from uniform
			rng := rand.New(rand.NewPCG(3, 9))
			seqs := synthSeqs(rng, 6, 20, 2, 8)
			for u := range seqs {
				seqs[u] = append(seqs[u], 1, 1, 2)
			}
			require.NoError(t, m.Prepare(seqs))
			_, err := m.LossGrad(seqs, rand.New(rand.NewPCG(1, 1)))
			require.NoError(t, err)
			if own := m.ownNegatives(); own {
				hits := 0
				for r, t := range m.rows {
					for j := range tc.cfg.NumNeg {
						idx := r*tc.cfg.NumNeg + j
						if tc.cfg.SharedNegatives {
							idx = j
						}
						if m.negs[idx] == m.batch.Targets[t] {
							hits++
						}
					}
				}
				require.Positive(t, hits, "no negative hit its positive: the masking goes untested")
			}
			T, d := m.batch.NumTokens(), m.Enc.Dim()
			vecs := m.Items.Lookup(&m.vecs, m.ids)
			h := m.Enc.Forward(m.Enc.NewScratch(), &m.batch, vecsInputs(vecs, T, d), false, nil)
			hh := append([]float32(nil), h.Data...)
			vv := append([]float32(nil), vecs.Data...)
			dh0 := normals(rng, T*d, 1)
			dv0 := normals(rng, len(vv), 1)
			dh, dv := newT(append([]float32(nil), dh0...), T, d), newT(append([]float32(nil), dv0...), len(vv)/d, d)
			got, err := m.sampledLoss(newT(hh, T, d), newT(vv, len(vv)/d, d), dh, dv)
			require.NoError(t, err)
			want, wdh, wdv := sampledReference(m, hh, vv, bugNone)
			assert.InDelta(t, want, got, 1e-5*math.Abs(want), "loss")
			// float32 logits and gradients against float64: a few ulps of the largest entry
			assert.Less(t, maxRelDiff(dh.Data, dh0, wdh), 5e-5, "dh")
			assert.Less(t, maxRelDiff(dv.Data, dv0, wdv), 5e-5, "dvecs")
			for _, bug := range tc.bugs {
				bl, bdh, bdv := sampledReference(m, hh, vv, bug)
				worst := math.Max(math.Abs(bl-got)/math.Abs(want), math.Max(maxRelDiff(dh.Data, dh0, bdh), maxRelDiff(dv.Data, dv0, bdv)))
				assert.Greater(t, worst, 1e-3, "planted bug %d went unnoticed", bug)
			}
		})
	}
}

// TestSampledLossGradients checks the new objectives' gradients through the
// whole model (encoder and table) against finite differences.
func TestSampledLossGradients(t *testing.T) {
	for _, cfg := range []ModelConfig{
		{Loss: LossGBCE, NumNeg: 5},
		{Loss: LossGBCE, NumNeg: 7, SharedNegatives: true},
		{Loss: LossSampledSoftmax, NumNeg: 6, LogQ: true, Proposal: ProposalPopularity},
		{Loss: LossSampledSoftmax, NumNeg: 9, LogQ: true, Proposal: ProposalPopularity, SharedNegatives: true, Temperature: 0.8},
	} {
		t.Run(fmt.Sprintf("%s-shared%v-%s", cfg.Loss, cfg.SharedNegatives, cfg.Proposal), func(t *testing.T) {
			m := lossModel(t, "sasrec", cfg)
			seqs := synthSeqs(rand.New(rand.NewPCG(5, 5)), 5, 20, 2, 9)
			require.NoError(t, m.Prepare(seqs))
			checkGrads(t, m, seqs, 4)
		})
	}
}

// TestSampledConfigErrors checks the combinations that cannot work.
func TestSampledConfigErrors(t *testing.T) {
	for _, cfg := range []ModelConfig{
		{Loss: LossGBCE, NumNeg: 20}, // 20 items: at most 19 negatives
		{Loss: LossGBCE, Calibration: 1.5},
		{Loss: LossGBCE, Calibration: -0.1},
		{Loss: LossGBCE, Proposal: ProposalPopularity},
		{Loss: LossGBCE, Temperature: 2},
		{Loss: LossBCE, Calibration: 0.5},
		{Loss: LossBCE, LogQ: true},
		{Loss: LossBCE, SharedNegatives: true},
		{Loss: LossCrossEntropy, LogQ: true},
		{Loss: LossCrossEntropy, SharedNegatives: true},
		{Loss: LossCrossEntropy, Proposal: ProposalPopularity},
		{Loss: LossSampledSoftmax, Proposal: Proposal(5)},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		ec, _ := DefaultEncoderConfig(KindSASRec)
		ec.Dim, ec.MaxLen, ec.Blocks = 8, 4, 1
		enc, err := NewEncoder(rng, ec)
		require.NoError(t, err)
		_, err = NewSeqModel(enc, NewIDTable(rng, 20, 8), cfg)
		assert.ErrorIs(t, err, ErrBadConfig, "%+v", cfg)
	}
	// popularity without Prepare is an error, not a panic
	m := lossModel(t, "sasrec", ModelConfig{Loss: LossSampledSoftmax, LogQ: true, Proposal: ProposalPopularity, NumNeg: 3})
	_, err := m.LossGrad([][]int{{1, 2, 3}}, rand.New(rand.NewPCG(1, 1)))
	assert.ErrorIs(t, err, ErrBadConfig)
	assert.ErrorIs(t, m.Prepare([][]int{{1, 99}}), ErrItemOutOfRange)
}

// TestDefaultObjective checks LossDefault's resolution by catalog size and
// that a saved default model names the loss it trained with.
func TestDefaultObjective(t *testing.T) {
	c := DefaultObjective(ModelConfig{}, 12101)
	assert.Equal(t, LossCrossEntropy, c.Loss)
	c = DefaultObjective(ModelConfig{}, DefaultFullCEMaxItems+1)
	assert.Equal(t, ModelConfig{Loss: LossSampledSoftmax, LogQ: true, Proposal: ProposalPopularity, SharedNegatives: true, NumNeg: DefaultSharedNegatives}, c)
	assert.Equal(t, ModelConfig{Loss: LossBCE}, DefaultObjective(ModelConfig{Loss: LossBCE}, 1e7))
	m := lossModel(t, "sasrec", ModelConfig{})
	assert.Equal(t, LossCrossEntropy, m.Cfg.Loss)
	assert.Equal(t, LossCrossEntropy, m.Config().Model.Loss)
}

// BenchmarkSampledLossStep times one SASRec training step on 128 Beauty
// users under the many-negative objectives of the frontier (BCE's one
// negative for scale): gBCE with 256 negatives per position or shared, and
// logQ-corrected sampled softmax with 256 and 1,024 shared popularity
// negatives.
func BenchmarkSampledLossStep(b *testing.B) {
	benchLossSteps(b, map[string]ModelConfig{
		"bce-1":            {Loss: LossBCE},
		"gbce-256":         {Loss: LossGBCE, NumNeg: 256},
		"gbce-256-shared":  {Loss: LossGBCE, NumNeg: 256, SharedNegatives: true},
		"logq-256-shared":  {Loss: LossSampledSoftmax, NumNeg: 256, LogQ: true, Proposal: ProposalPopularity, SharedNegatives: true},
		"logq-1024-shared": {Loss: LossSampledSoftmax, NumNeg: 1024, LogQ: true, Proposal: ProposalPopularity, SharedNegatives: true},
	})
}

// TestLogQSoftmaxRowsMatchesTape ties the fused sampled softmax to the tape's
// nn.LogQSampledSoftmaxLoss (loss and gradients), dropped negatives included.
func TestLogQSoftmaxRowsMatchesTape(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	const R, k = 7, 9
	pos, neg := normals(rng, R, 2), normals(rng, R*k, 2)
	lqp, lqn := normals(rng, R, 1), normals(rng, R*k, 1)
	lqn[3], lqn[20] = float32(math.Inf(1)), float32(math.Inf(1))
	gp, gn := make([]float32, R), make([]float32, R*k)
	got := logQSoftmaxRows(pos, neg, lqp, lqn, k, make([]float32, 1+k), gp, gn)

	tp := autograd.NewTape()
	p, n := tp.Leaf(newT(pos, R, 1)), tp.Leaf(newT(neg, R, k))
	l := nn.LogQSampledSoftmaxLoss(tp, p, n, newT(lqp, R, 1), newT(lqn, R, k), nil)
	require.NoError(t, tp.Backward(l))
	assert.InDelta(t, float64(l.Data.Data[0]), got, 1e-6*got)
	for i := range gp {
		assert.InDelta(t, p.Grad.Data[i], gp[i], 1e-6, "pos %d", i)
	}
	for i := range gn {
		assert.InDelta(t, n.Grad.Data[i], gn[i], 1e-6, "neg %d", i)
	}
	assert.Zero(t, gn[3])
	assert.Zero(t, gn[20])
}

// TestTrainPreparesTheProposal checks that Train builds the popularity
// proposal itself (a model trained through Train needs no Prepare call) and
// that the default objective trains.
func TestTrainPreparesTheProposal(t *testing.T) {
	seqs := synthSeqs(rand.New(rand.NewPCG(2, 2)), 12, 20, 3, 8)
	for _, cfg := range []ModelConfig{
		{Loss: LossSampledSoftmax, NumNeg: 8, LogQ: true, Proposal: ProposalPopularity, SharedNegatives: true},
		{},
	} {
		m := lossModel(t, "sasrec", cfg)
		h, err := Train(context.Background(), m, seqs, TrainConfig{Epochs: 2, BatchSize: 4}, TrainOptions{})
		require.NoError(t, err)
		require.Len(t, h.Epochs, 2)
		if cfg.Proposal == ProposalPopularity {
			require.NotNil(t, m.proposal)
		}
	}
}
