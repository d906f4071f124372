package moe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// itemGate gives item i the weights w[i] (K per item), constant.
type itemGate struct{ w [][]float32 }

func (g itemGate) Weights(t *autograd.Tape, items []int) *autograd.Value {
	k := len(g.w[0])
	out := t.Scratch(len(items) * k)
	for r, i := range items {
		copy(out.Data[r*k:(r+1)*k], g.w[i])
	}
	return t.Const(tensor.FromSlice(out.Data, len(items), k))
}

// ceExperts is a two-expert mixture on a tiny catalog for the cross-entropy
// tests: expert "a" (encA over tableA) and expert "b" (its own encoder and
// table), with the gate g.
func ceExperts(t *testing.T, g Gate) (m *Mixture, encA backbone.Encoder, tableA *backbone.IDTable, r *rand.Rand) {
	const n, d = 23, 8
	r = rand.New(rand.NewPCG(7, 8))
	cfg, err := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, err)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads, cfg.Dropout, cfg.Style = d, 6, 1, 1, 0, nn.StylePostLN
	encA, err = backbone.NewSASRec(r, cfg)
	require.NoError(t, err)
	encB, err := backbone.NewSASRec(r, cfg)
	require.NoError(t, err)
	tableA = backbone.NewIDTable(r, n, d)
	m, err = NewMixture([]Expert{
		{Name: "a", Enc: encA, Items: tableA},
		{Name: "b", Enc: encB, Items: backbone.NewIDTable(r, n, d)},
	}, g, 1)
	require.NoError(t, err)
	m.Loss = backbone.LossCrossEntropy
	return m, encA, tableA, r
}

// TestMixtureCrossEntropyMatchesReference checks the mixture's
// cross-entropy against a float64 reference written here: expert "a" gets
// the weight a_i on item i and expert "b" the weight 0, so the mixed score
// is a_i·⟨h_a, e_i⟩, with h_a from expert a's encoder run alone. A reference
// that ignores the gate weights must not match.
func TestMixtureCrossEntropyMatchesReference(t *testing.T) {
	const n, d = 23, 8
	gw := make([][]float32, n+1)
	wr := rand.New(rand.NewPCG(3, 3))
	for i := range gw {
		gw[i] = []float32{float32(0.5 + 1.5*wr.Float64()), 0}
	}
	m, encA, tableA, r := ceExperts(t, itemGate{gw})
	seqs := synthSeqs(r, 6, n)
	got, err := m.LossGrad(seqs, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)

	reference := func(gated bool) float64 {
		var b backbone.Batch
		b.Reset(encA.MaxLen())
		for _, s := range seqs {
			require.NoError(t, b.AddNextItem(s, n, nil))
		}
		E := tableA.W.Data
		x := tensor.New(b.NumTokens(), d)
		for t, it := range b.Items {
			copy(x.Row(t), E.Row(it))
		}
		h := encA.Forward(encA.NewScratch(), &b, x, true, rand.New(rand.NewPCG(1, 1)))
		var sum float64
		rows := 0
		for t, tg := range b.Targets {
			if tg == 0 {
				continue
			}
			z := make([]float64, n+1)
			mx := math.Inf(-1)
			for i := 1; i <= n; i++ {
				for j := range d {
					z[i] += float64(h.Row(t)[j]) * float64(E.Row(i)[j])
				}
				if gated {
					z[i] *= float64(gw[i][0])
				}
				mx = max(mx, z[i])
			}
			var se float64
			for i := 1; i <= n; i++ {
				se += math.Exp(z[i] - mx)
			}
			sum += math.Log(se) + mx - z[tg]
			rows++
		}
		return sum / float64(rows)
	}
	want := reference(true)
	require.InDelta(t, want, got, 1e-5*math.Abs(want))
	// planted: the gate's weights left out of the reference
	require.Greater(t, math.Abs(reference(false)-got), 1e-3, "the test cannot tell the gate weights apart")
}

// TestMixtureCrossEntropyMatchesSeqModel ties the mixture's loss and
// gradients to backbone.SeqModel's fused cross-entropy: with gate weights 2
// on expert "a" and 0 on "b", the mixed score is 2·⟨h_a, e_i⟩, which is
// the SeqModel over expert a's encoder and table at temperature 1/2.
func TestMixtureCrossEntropyMatchesSeqModel(t *testing.T) {
	const n = 23
	gw := make([][]float32, n+1)
	for i := range gw {
		gw[i] = []float32{2, 0}
	}
	m, encA, tableA, r := ceExperts(t, itemGate{gw})
	seqs := synthSeqs(r, 6, n)
	ref, err := backbone.NewSeqModel(encA, tableA, backbone.ModelConfig{Loss: backbone.LossCrossEntropy, Temperature: 0.5})
	require.NoError(t, err)
	grads := func() []float32 {
		var g []float32
		for _, p := range ref.Params() {
			g = append(g, p.Value.Grad.Data...)
		}
		return g
	}
	nn.ZeroGrad(m.Params())
	got, err := m.LossGrad(seqs, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	gotGrad := grads()
	nn.ZeroGrad(ref.Params())
	want, err := ref.LossGrad(seqs, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	wantGrad := grads()
	require.InDelta(t, want, got, 1e-5*math.Abs(want))
	for i := range wantGrad {
		require.InDelta(t, wantGrad[i], gotGrad[i], 1e-5+1e-3*math.Abs(float64(wantGrad[i])), "gradient %d (table, then encoder)", i)
	}
}

// TestMixtureLossDefault: the zero Loss is cross-entropy on a small catalog,
// and a loss the mixture has no path for is an error wrapping ErrBadConfig.
func TestMixtureLossDefault(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := tinyMixture(t, 15, 8, r)
	obj, err := m.objective()
	require.NoError(t, err)
	require.Equal(t, backbone.LossCrossEntropy, obj)
	m.Loss = backbone.LossGBCE
	_, err = m.LossGrad(synthSeqs(r, 3, 15), r)
	require.ErrorIs(t, err, ErrBadConfig)
}
