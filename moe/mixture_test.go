package moe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// tinyMixture builds PAD's three experts at toy size over n items: an ID
// table, an ID ⊕ adapted-LLM table and an adapted-LLM table, each with its
// own SASRec (post-LN, no dropout), and a frequency gate over 3 bins.
func tinyMixture(t testing.TB, n, d int, r *rand.Rand) *Mixture {
	t.Helper()
	llm := tensor.New(n+1, 12)
	for i := 12; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads, cfg.Dropout, cfg.Style = d, 6, 1, 1, 0, nn.StylePostLN
	enc := func(dim int) backbone.Encoder {
		c := cfg
		c.Dim = dim
		e, err := backbone.NewSASRec(r, c)
		require.NoError(t, err)
		return e
	}
	text1, err := backbone.NewAdapterTable(r, llm, d/2, nil, nn.Identity)
	require.NoError(t, err)
	aligned, err := backbone.NewConcatTable(backbone.NewIDTable(r, n, d/2), text1)
	require.NoError(t, err)
	text, err := backbone.NewAdapterTable(r, llm, d, []int{d}, nn.GELU)
	require.NoError(t, err)
	experts := []Expert{
		{Name: "id", Enc: enc(d), Items: backbone.NewIDTable(r, n, d)},
		{Name: "aligned", Enc: enc(d), Items: aligned},
		{Name: "text", Enc: enc(d), Items: text},
	}
	bins := make([]int, n+1)
	for i := 1; i <= n; i++ {
		bins[i] = 1 + (i-1)*3/n
	}
	gate, err := NewFreqGate(bins, PADInit(3, PADGamma2))
	require.NoError(t, err)
	m, err := NewMixture(experts, gate, 2)
	require.NoError(t, err)
	return m
}

func synthSeqs(r *rand.Rand, users, n int) [][]int {
	out := make([][]int, users)
	for u := range out {
		l := 2 + r.IntN(7)
		for range l {
			out[u] = append(out[u], 1+r.IntN(n))
		}
	}
	return out
}

// TestMixtureLossGradFiniteDifferences checks LossGrad's gradient for
// every parameter (gate, tables, encoders of the three experts) against
// central differences of the loss, on a batch made deterministic by
// reseeding its rng.
func TestMixtureLossGradFiniteDifferences(t *testing.T) {
	for _, loss := range []backbone.Loss{backbone.LossBCE, backbone.LossCrossEntropy} {
		t.Run(loss.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			m := tinyMixture(t, 15, 8, r)
			m.Loss = loss
			seqs := synthSeqs(r, 5, 15)
			loss := func() float64 {
				l, err := m.LossGrad(seqs, rand.New(rand.NewPCG(9, 9)))
				require.NoError(t, err)
				return l
			}
			params := m.Params()
			nn.ZeroGrad(params)
			l0 := loss()
			require.False(t, math.IsNaN(l0))
			grads := make([][]float32, len(params))
			for i, p := range params {
				grads[i] = append([]float32(nil), p.Value.Grad.Data...)
			}
			pick := rand.New(rand.NewPCG(3, 4))
			var worst, worstRel float64
			checked := 0
			for i, p := range params {
				if !p.Value.RequiresGrad() {
					continue
				}
				w := p.Value.Data.Data
				for range 4 {
					j := pick.IntN(len(w))
					for try := 0; try < 50 && grads[i][j] == 0; try++ {
						j = pick.IntN(len(w))
					}
					const eps = 3e-3
					old := w[j]
					w[j] = old + eps
					lp := loss()
					w[j] = old - eps
					lm := loss()
					w[j] = old
					num := (lp - lm) / (float64(old+eps) - float64(old-eps))
					ana := float64(grads[i][j])
					diff := math.Abs(num - ana)
					worst = max(worst, diff)
					worstRel = max(worstRel, diff/max(math.Abs(num), 1e-2))
					assert.LessOrEqual(t, diff, 2e-3+2e-2*max(math.Abs(num), math.Abs(ana)), "%s[%d]: analytic %g numeric %g", p.Name, j, ana, num)
					checked++
				}
			}
			t.Logf("Mixture.LossGrad: %d entries of %d parameters checked, max abs err %.2e, max err relative to max(|num|,1e-2) %.2e", checked, len(params), worst, worstRel)
			names := nn.SortedNames(params)
			assert.Contains(t, names, "gate.logits")
			assert.Contains(t, names, "experts.id.item_emb.weight")
		})
	}
}

func TestScorerMixesExpertScores(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m := tinyMixture(t, 20, 8, r)
	// make the gate non-trivial
	for i := range m.Gate.(*FreqGate).Logits.Data.Data {
		m.Gate.(*FreqGate).Logits.Data.Data[i] = float32(r.NormFloat64())
	}
	s, err := m.NewScorer()
	require.NoError(t, err)
	inputs := [][]int{{1, 2, 3}, {5}, {7, 8, 9, 10, 11, 12, 13, 14}}
	n1 := 21
	out := make([]float32, len(inputs)*n1)
	require.NoError(t, s.ScoreAll(inputs, out))
	// reference: each expert alone, mixed by the gate formula
	fg := m.Gate.(*FreqGate)
	for k, e := range m.Experts {
		sm, err := backbone.NewSeqModel(e.Enc, e.Items, backbone.ModelConfig{})
		require.NoError(t, err)
		rec := backbone.NewRecommender(sm)
		buf := make([]float32, len(out))
		require.NoError(t, rec.ScoreAll(inputs, buf))
		for i := range buf {
			item := i % n1
			a := make([]float64, 3)
			for e := range 3 {
				a[e] = float64(fg.Logits.Data.Data[fg.Bin(item)*3+e])
			}
			out[i] -= float32(refGate(a, SigmoidNorm)[k]) * buf[i]
		}
	}
	for i, v := range out {
		assert.InDelta(t, 0, v, 1e-4, "entry %d", i)
	}
	// candidates agree with the full scores
	require.NoError(t, s.ScoreAll(inputs, out))
	cands := [][]int{{3, 1, 20}, {5, 5}, {19}}
	cout := make([]float32, 6)
	require.NoError(t, s.ScoreCandidates(inputs, cands, cout))
	off := 0
	for i, cs := range cands {
		for j, c := range cs {
			assert.InDelta(t, out[i*n1+c], cout[off+j], 1e-5)
		}
		off += len(cs)
	}
	assert.Error(t, s.ScoreCandidates(inputs, [][]int{{21}, {1}, {1}}, cout))
}

func TestNewMixtureErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	m := tinyMixture(t, 10, 8, r)
	_, err := NewMixture(nil, m.Gate, 1)
	assert.Error(t, err)
	_, err = NewMixture(m.Experts[:2], m.Gate, 1)
	assert.ErrorContains(t, err, "want [1 2]")
	bad := append([]Expert{}, m.Experts...)
	bad[1].Items = backbone.NewIDTable(r, 11, 8)
	_, err = NewMixture(bad, m.Gate, 1)
	assert.ErrorContains(t, err, "has 11 items")
	_, err = m.LossGrad([][]int{{1, 11}}, r)
	assert.ErrorContains(t, err, "item id 11 outside 1..10")
}
