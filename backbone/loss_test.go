package backbone

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lossModel(t *testing.T, kind EncoderKind, cfg ModelConfig) *SeqModel {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	ec, err := DefaultEncoderConfig(kind)
	require.NoError(t, err)
	ec.Dim, ec.MaxLen, ec.Blocks, ec.Dropout, ec.Heads = 8, 6, 1, 0, 2
	enc, err := NewEncoder(rng, ec)
	require.NoError(t, err)
	items := NewIDTable(rng, 20, 8)
	for i := range items.W.Data.Data[8:] {
		items.W.Data.Data[8+i] *= 6 // a loss that is not flat
	}
	m, err := NewSeqModel(enc, items, cfg)
	require.NoError(t, err)
	return m
}

func TestLossGradients(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind EncoderKind
		cfg  ModelConfig
	}{
		{"sampled", "sasrec", ModelConfig{Loss: LossSampledSoftmax, NumNeg: 3}},
		{"sampled-temp", "sasrec", ModelConfig{Loss: LossSampledSoftmax, NumNeg: 2, Temperature: 0.5}},
		{"ce", "sasrec", ModelConfig{Loss: LossCrossEntropy}},
		{"ce-chunked-temp", "sasrec", ModelConfig{Loss: LossCrossEntropy, Temperature: 2, LogitsBudget: 4 * 20 * 3}}, // 3 rows a chunk
		{"ce-gru", "gru4rec", ModelConfig{Loss: LossCrossEntropy}},
		{"ce-masked", "bert4rec", ModelConfig{Loss: LossCrossEntropy, MaskProb: 0.4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lossModel(t, tc.kind, tc.cfg)
			checkGrads(t, m, synthSeqs(rand.New(rand.NewPCG(5, 5)), 5, 20, 2, 9), 4)
		})
	}
}

// TestFullCrossEntropyByHand compares the full cross-entropy with a
// log-sum-exp over items 1..n computed here in float64 from the encoder's
// hidden states, with and without chunking.
func TestFullCrossEntropyByHand(t *testing.T) {
	seqs := [][]int{{1, 5, 7, 2}, {3, 4}, {9, 8, 7, 6, 5, 4, 3, 2}}
	var want float64
	var got []float64
	for _, budget := range []int{0, 4 * 20 * 2, 4 * 20} { // whole, 2 rows, 1 row a chunk
		m := lossModel(t, "sasrec", ModelConfig{Loss: LossCrossEntropy, Temperature: 0.7, LogitsBudget: budget})
		l, err := m.LossGrad(seqs, rand.New(rand.NewPCG(1, 1)))
		require.NoError(t, err)
		got = append(got, l)
		if budget != 0 {
			continue
		}
		// by hand: hidden states of the inputs (no dropout), every target
		b := &m.batch
		h := m.Enc.Forward(m.Enc.NewScratch(), b, m.Items.Lookup(&m.vecs, b.Items), false, nil)
		W := m.Items.(*IDTable).W.Data
		d, n := 8, 20
		var sum float64
		rows := 0
		for tk, tg := range b.Targets {
			if tg == 0 {
				continue
			}
			logits := make([]float64, n)
			mx := math.Inf(-1)
			for i := 1; i <= n; i++ {
				var z float64
				for j := range d {
					z += float64(h.Data[tk*d+j]) * float64(W.Data[i*d+j])
				}
				logits[i-1] = z / 0.7
				mx = math.Max(mx, logits[i-1])
			}
			var se float64
			for _, z := range logits {
				se += math.Exp(z - mx)
			}
			sum += mx + math.Log(se) - logits[tg-1]
			rows++
		}
		require.Equal(t, 3+1+6, rows) // next-item targets of the three users (window 6)
		want = sum / float64(rows)
	}
	for _, l := range got {
		assert.InDelta(t, want, l, 1e-4*want)
	}
}

func TestModelConfigErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ec, err := DefaultEncoderConfig(KindSASRec)
	require.NoError(t, err)
	ec.Dim, ec.MaxLen, ec.Blocks = 8, 4, 1
	enc, err := NewEncoder(rng, ec)
	require.NoError(t, err)
	items := NewIDTable(rng, 10, 8)
	for _, cfg := range []ModelConfig{
		{Loss: LossSampledSoftmax, Temperature: -1},
		{Loss: LossCrossEntropy, Temperature: math.NaN()},
		{Loss: LossCrossEntropy, Temperature: math.Inf(1)},
		{Loss: LossBCE, Temperature: 0.5},
		{Loss: Loss(7)},
		{NumNeg: -2},
		{Task: "nope"},
		{Task: "masked"}, // needs bert4rec
		{MaskProb: 1},
		{Loss: LossCrossEntropy, LogitsBudget: -1},
	} {
		_, err := NewSeqModel(enc, items, cfg)
		assert.True(t, errors.Is(err, ErrBadConfig), "%+v: %v", cfg, err)
	}
	_, err = ParseLoss("softmax")
	assert.True(t, errors.Is(err, ErrBadConfig))
	var c ModelConfig
	assert.Error(t, json.Unmarshal([]byte(`{"loss":"hinge"}`), &c))
	for _, l := range []Loss{LossBCE, LossSampledSoftmax, LossCrossEntropy} {
		p, err := ParseLoss(l.String())
		require.NoError(t, err)
		assert.Equal(t, l, p)
		raw, err := json.Marshal(ModelConfig{Loss: l})
		require.NoError(t, err)
		var back ModelConfig
		require.NoError(t, json.Unmarshal(raw, &back))
		assert.Equal(t, l, back.Loss)
	}
	// an old config without "loss" is BCE
	require.NoError(t, json.Unmarshal([]byte(`{"task":"next","num_neg":1}`), &c))
	assert.Equal(t, LossBCE, c.Loss)
}
