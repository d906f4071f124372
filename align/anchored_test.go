package align

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

// tinyAnchored builds a toy alignment tower: SASRec (width 8, no dropout)
// over ID(4) ⊕ adapter(LLM 12 → 4), aligning the adapter output (X) with
// the ID rows (Y).
func tinyAnchored(t *testing.T, loss Loss, r *rand.Rand) *Anchored {
	t.Helper()
	const n = 15
	llm := tensor.New(n+1, 12)
	for i := 12; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	id := backbone.NewIDTable(r, n, 4)
	text, err := backbone.NewAdapterTable(r, llm, 4, nil, nn.Identity)
	require.NoError(t, err)
	table, err := backbone.NewConcatTable(id, text)
	require.NoError(t, err)
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads, cfg.Dropout, cfg.Style = 8, 6, 1, 1, 0, nn.StylePostLN
	enc, err := backbone.NewSASRec(r, cfg)
	require.NoError(t, err)
	rec, err := backbone.NewSeqModel(enc, table, backbone.ModelConfig{Loss: backbone.LossBCE}) // the regression figures were taken with BCE
	require.NoError(t, err)
	a, err := NewAnchored(rec, text, id, loss, 0.5)
	require.NoError(t, err)
	return a
}

// TestAnchoredLossGradFiniteDifferences checks the gradient of the whole
// phase-2 objective (BCE of the tower + 0.5 · alignment) for every
// parameter against central differences, with MK-MMD at a fixed bandwidth
// (so that the loss is the function being differentiated) and with InfoNCE.
func TestAnchoredLossGradFiniteDifferences(t *testing.T) {
	for name, loss := range map[string]Loss{
		"MKMMD":   MKMMD{Estimator: UnbiasedOffset, FixedBandwidth: 3},
		"InfoNCE": InfoNCE{Temperature: 0.5, Cosine: true},
	} {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			a := tinyAnchored(t, loss, r)
			seqs := make([][]int, 5)
			for u := range seqs {
				for range 3 + r.IntN(5) {
					seqs[u] = append(seqs[u], 1+r.IntN(15))
				}
			}
			lossAt := func() float64 {
				l, err := a.LossGrad(seqs, rand.New(rand.NewPCG(9, 9)))
				require.NoError(t, err)
				return l
			}
			params := a.Params()
			nn.ZeroGrad(params)
			lossAt()
			require.NotZero(t, a.LastAlign)
			grads := make([][]float32, len(params))
			for i, p := range params {
				grads[i] = append([]float32(nil), p.Value.Grad.Data...)
			}
			pick := rand.New(rand.NewPCG(3, 4))
			var worst float64
			for i, p := range params {
				if !p.Value.RequiresGrad() {
					continue
				}
				w := p.Value.Data.Data
				for range 6 {
					j := pick.IntN(len(w))
					for try := 0; try < 50 && grads[i][j] == 0; try++ {
						j = pick.IntN(len(w))
					}
					const eps = 3e-3
					old := w[j]
					w[j] = old + eps
					lp := lossAt()
					w[j] = old - eps
					lm := lossAt()
					w[j] = old
					num := (lp - lm) / (float64(old+eps) - float64(old-eps))
					ana := float64(grads[i][j])
					worst = max(worst, math.Abs(num-ana))
					assert.LessOrEqual(t, math.Abs(num-ana), 2e-3+2e-2*max(math.Abs(num), math.Abs(ana)), "%s[%d]: analytic %g numeric %g", p.Name, j, ana, num)
				}
			}
			t.Logf("Anchored(%s).LossGrad: %d parameters, max abs gradient error %.2e", name, len(params), worst)
		})
	}
}

func TestNewAnchoredErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a := tinyAnchored(t, MKMMD{}, r)
	_, err := NewAnchored(a.Rec, a.X, backbone.NewIDTable(r, 15, 5), MKMMD{}, 0.2)
	assert.ErrorContains(t, err, "widths 4 and 5")
	_, err = NewAnchored(a.Rec, a.X, backbone.NewIDTable(r, 14, 4), MKMMD{}, 0.2)
	assert.ErrorContains(t, err, "14 items")
}
