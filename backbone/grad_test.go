package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// synthetic sequences of varied lengths over n items.
func synthSeqs(rng *rand.Rand, users, n, minLen, maxLen int) [][]int {
	out := make([][]int, users)
	for u := range out {
		l := minLen + rng.IntN(maxLen-minLen+1)
		for j := 0; j < l; j++ {
			out[u] = append(out[u], 1+rng.IntN(n))
		}
	}
	return out
}

// checkGrads compares the analytic gradient of m's loss with central finite
// differences for a sample of entries of every parameter. The loss is made
// deterministic by reseeding the rng for every evaluation (same batch,
// negatives and dropout masks).
func checkGrads(t *testing.T, m Model, seqs [][]int, perParam int) {
	t.Helper()
	loss := func() float64 {
		l, err := m.LossGrad(seqs, rand.New(rand.NewPCG(7, 7)))
		require.NoError(t, err)
		return l
	}
	params := m.Params()
	nn.ZeroGrad(params)
	loss()
	grads := make([][]float32, len(params))
	for i, p := range params {
		grads[i] = append([]float32(nil), p.Value.Grad.Data...)
	}
	pick := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for i, p := range params {
		if !p.Value.RequiresGrad() {
			continue
		}
		w := p.Value.Data.Data
		for c := 0; c < perParam; c++ {
			j := pick.IntN(len(w))
			// prefer entries with a nonzero gradient when there are any (tables are sparse)
			for try := 0; try < 50 && grads[i][j] == 0; try++ {
				j = pick.IntN(len(w))
			}
			const eps = 1e-3
			old := w[j]
			w[j] = old + eps
			lp := loss()
			w[j] = old - eps
			lm := loss()
			w[j] = old
			num := (lp - lm) / (2 * eps)
			got := float64(grads[i][j])
			tol := 2e-3 + 3e-2*math.Abs(num)
			require.InDelta(t, num, got, tol, "param %s[%d]: numeric %g analytic %g", p.Name, j, num, got)
			checked++
		}
	}
	require.Greater(t, checked, 0)
}

func TestSASRecGradients(t *testing.T) {
	for _, style := range []nn.BlockStyle{nn.StyleTF, nn.StylePreLN, nn.StylePostLN} {
		for _, variant := range []string{"plain", "heads2-outproj-gelu-dropout", "nocausal", "embln-noscale", "gemm-attn-dropout", "gemm-attn-nocausal"} {
			t.Run(style.String()+"/"+variant, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, 4))
				cfg, cerr := DefaultEncoderConfig("sasrec")
				require.NoError(t, cerr)
				cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Dropout, cfg.Style, cfg.Inner = 8, 6, 2, 0, style, 12
				switch variant {
				case "heads2-outproj-gelu-dropout":
					cfg.Heads, cfg.OutProj, cfg.Activation, cfg.Dropout = 2, true, nn.GELU, 0.3
				case "nocausal":
					cfg.NoCausal = true
				case "embln-noscale":
					cfg.EmbLayerNorm, cfg.NoEmbScale, cfg.Dropout = true, true, 0.2
				}
				if variant == "gemm-attn-dropout" {
					cfg.Heads, cfg.Dropout, cfg.Activation = 2, 0.3, nn.GELU
				}
				if variant == "gemm-attn-nocausal" {
					cfg.NoCausal = true
				}
				enc, err := NewSASRec(rng, cfg)
				require.NoError(t, err)
				if variant[:4] == "gemm" {
					enc.gemmMin = 2 // every sequence of 2+ items takes the matrix-product path
				}
				items := NewIDTable(rng, 20, 8)
				// larger init so that the loss is not flat
				for i := range items.W.Data.Data[8:] {
					items.W.Data.Data[8+i] *= 8
				}
				m, err := NewSeqModel(enc, items, ModelConfig{NumNeg: 2})
				require.NoError(t, err)
				seqs := synthSeqs(rng, 5, 20, 2, 9) // some longer than MaxLen
				checkGrads(t, m, seqs, 4)
			})
		}
	}
}

func TestBERT4RecGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg, cerr := DefaultEncoderConfig("bert4rec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Dropout, cfg.Heads = 8, 6, 1, 0.2, 2
	enc, err := NewSASRec(rng, cfg)
	require.NoError(t, err)
	items := NewIDTable(rng, 20, 8)
	m, err := NewSeqModel(enc, items, ModelConfig{MaskProb: 0.4})
	require.NoError(t, err)
	require.Equal(t, TaskMasked, m.Cfg.Task)
	checkGrads(t, m, synthSeqs(rng, 5, 20, 2, 9), 4)
}

func TestItemTableGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	llm := tensor.New(21, 10)
	for i := range llm.Data[10:] {
		llm.Data[10+i] = float32(rng.NormFloat64())
	}
	type tcase struct {
		name string
		mk   func() ItemTable
	}
	cases := []tcase{
		{"adapter-linear", func() ItemTable {
			a, err := NewAdapterTable(rng, llm, 8, nil, nn.GELU)
			require.NoError(t, err)
			return a
		}},
		{"adapter-mlp", func() ItemTable {
			a, err := NewAdapterTable(rng, llm, 8, []int{12}, nn.GELU)
			require.NoError(t, err)
			return a
		}},
		{"normalized-learned", func() ItemTable {
			return NewNormalizedTable(NewIDTable(rng, 20, 8), 3, true)
		}},
		{"concat-id-adapter", func() ItemTable {
			a, err := NewAdapterTable(rng, llm, 4, []int{6}, nn.GELU)
			require.NoError(t, err)
			c, err := NewConcatTable(NewIDTable(rng, 20, 4), a)
			require.NoError(t, err)
			return c
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, cerr := DefaultEncoderConfig("sasrec")
			require.NoError(t, cerr)
			// GELU keeps the loss smooth when a shared bias moves every item vector
			cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Dropout, cfg.Activation = 8, 6, 1, 0, nn.GELU
			enc, err := NewSASRec(rng, cfg)
			require.NoError(t, err)
			m, err := NewSeqModel(enc, tc.mk(), ModelConfig{})
			require.NoError(t, err)
			checkGrads(t, m, synthSeqs(rng, 4, 20, 2, 7), 4)
		})
	}
}

func ExampleBucketBatches() {
	lengths := []int{5, 1, 9, 2, 8, 3}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, b := range BucketBatches(rng, lengths, 2, 3) {
		fmt.Println(len(b))
	}
	// Output:
	// 2
	// 2
	// 2
}

func TestGRU4RecGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cfg, cerr := DefaultEncoderConfig("gru4rec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Dropout = 8, 6, 0.2
	enc, err := NewGRU4Rec(rng, cfg)
	require.NoError(t, err)
	m, err := NewSeqModel(enc, NewIDTable(rng, 20, 8), ModelConfig{NumNeg: 2})
	require.NoError(t, err)
	checkGrads(t, m, synthSeqs(rng, 5, 20, 2, 9), 6)
}

// The matrix-product attention (long sequences) and the scalar loops (short
// ones) compute the same hidden states and gradients.
func TestAttentionPathsAgree(t *testing.T) {
	for _, causal := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(13, 14))
		cfg, cerr := DefaultEncoderConfig("sasrec")
		require.NoError(t, cerr)
		cfg.Dim, cfg.MaxLen, cfg.Heads, cfg.NoCausal = 16, 30, 2, !causal
		enc, err := NewSASRec(rng, cfg)
		require.NoError(t, err)
		m, err := NewSeqModel(enc, NewIDTable(rng, 50, 16), ModelConfig{})
		require.NoError(t, err)
		seqs := synthSeqs(rng, 12, 50, 2, 40)
		run := func(gemmMin int) (float64, []float32) {
			enc.gemmMin = gemmMin
			nn.ZeroGrad(m.Params())
			l, err := m.LossGrad(seqs, rand.New(rand.NewPCG(1, 1)))
			require.NoError(t, err)
			return l, append([]float32(nil), enc.blocks[0].q.Weight.Grad.Data...)
		}
		l1, g1 := run(1 << 30)
		l2, g2 := run(2)
		require.InDelta(t, l1, l2, 1e-5)
		require.InDeltaSlice(t, g1, g2, 1e-4)
	}
}
