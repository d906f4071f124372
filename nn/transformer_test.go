package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

var allStyles = []BlockStyle{StyleTF, StylePreLN, StylePostLN}

func TestParseBlockStyle(t *testing.T) {
	for _, s := range allStyles {
		got, err := ParseBlockStyle(s.String())
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	_, err := ParseBlockStyle("sandwich")
	require.Error(t, err)
}

// The gradient check uses GELU: with ReLU a finite-difference step may cross
// the kink at 0 inside the block (ReLU itself is checked in autograd with
// inputs away from 0).
func TestTransformerBlockGradAndShapes(t *testing.T) {
	pad := []bool{true, false, false, false, false, false}
	for _, s := range allStyles {
		t.Run(s.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 1))
			b, err := NewTransformerBlock(rng, BlockConfig{D: 4, Heads: 2, Inner: 6, Act: GELU, Dropout: 0.2, Style: s, OutProj: s == StylePostLN, DropAttnOut: s == StylePostLN})
			require.NoError(t, err)
			ns := layerNames(b.Params())
			require.Contains(t, ns, "attn.q.weight")
			require.Contains(t, ns, "ln2.bias")
			require.Contains(t, ns, "ffn.w2.weight")
			x := layerInput(rng, 2, 3, 4)
			m := AttnMask{Causal: true, KeyPad: pad}

			tp := autograd.NewInferenceTape()
			y := b.Forward(tp, x, m, false, nil)
			require.Equal(t, []int{2, 3, 4}, y.Data.Shape)
			require.Equal(t, []float32{0, 0, 0, 0}, y.Data.Data[:4], "padded row zeroed")

			err = autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
				return b.Forward(tp, x, m, true, rand.New(rand.NewPCG(5, 5)))
			}, append(layerValues(b.Params()), x), autograd.GradCheckOptions{})
			require.NoError(t, err)
		})
	}
	_, err := NewTransformerBlock(rand.New(rand.NewPCG(1, 1)), BlockConfig{D: 5, Heads: 2})
	require.Error(t, err)
}

// With both sublayers silenced (zero value projection and zero second FFN
// layer), the styles reduce to: tf = LN2(LN1(x)), pre-LN = x, post-LN =
// LN2(LN1(x)); this pins where each style puts its norms and residuals.
func TestTransformerBlockStyleStructure(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	x := layerInput(rng, 2, 3, 4)
	lnTwice := func(tp *autograd.Tape, b *TransformerBlock) *autograd.Value {
		return b.LN2.Forward(tp, b.LN1.Forward(tp, x))
	}
	for _, s := range allStyles {
		b, err := NewTransformerBlock(rng, BlockConfig{D: 4, Heads: 1, Style: s})
		require.NoError(t, err)
		b.Attn.V.Weight.Data.Zero()
		b.Attn.V.Bias.Data.Zero()
		b.FFN.W2.Weight.Data.Zero()
		b.FFN.W2.Bias.Data.Zero()
		// give the norms a visible affine part
		b.LN1.Gamma.Data.Fill(2)
		b.LN2.Beta.Data.Fill(0.5)
		tp := autograd.NewInferenceTape()
		y := b.Forward(tp, x, AttnMask{Causal: true}, false, nil)
		var want *tensor.Tensor
		if s == StylePreLN {
			want = x.Data
		} else {
			want = lnTwice(tp, b).Data
		}
		require.InDeltaSlice(t, layerF64(want.Data), layerF64(y.Data.Data), 1e-5, s.String())
	}
}

// sasrecStep is a SASRec-shaped training step (embedding, one tf-style
// block, final norm, BCE on positives/negatives) reused across iterations.
type sasrecStep struct {
	tp            *autograd.Tape
	emb           *Embedding
	blk           *TransformerBlock
	ln            *LayerNorm
	rng           *rand.Rand
	seq, pos, neg []int
	pad           []bool
	mask          *tensor.Tensor
	params        []Param
	B, T          int
}

func newSASRecStep(B, T, d, items int) *sasrecStep {
	rng := rand.New(rand.NewPCG(1, 2))
	s := &sasrecStep{tp: autograd.NewTape(), rng: rng, B: B, T: T}
	s.emb = NewEmbedding(rng, items+1, d, 0)
	s.blk, _ = NewTransformerBlock(rng, BlockConfig{D: d, Heads: 1, Dropout: 0.5, Style: StyleTF})
	s.ln = NewLayerNorm(d, 1e-8)
	s.params = append(append(Prefix("emb", s.emb.Params()), Prefix("blk", s.blk.Params())...), Prefix("ln", s.ln.Params())...)
	n := B * T
	s.seq, s.pos, s.neg, s.pad = make([]int, n), make([]int, n), make([]int, n), make([]bool, n)
	s.mask = tensor.New(n)
	for i := range n {
		if i%T < T/4 { // left padding
			s.pad[i] = true
			continue
		}
		s.seq[i], s.pos[i], s.neg[i] = 1+rng.IntN(items), 1+rng.IntN(items), 1+rng.IntN(items)
		s.mask.Data[i] = 1
	}
	return s
}

func (s *sasrecStep) run() error {
	t := s.tp
	t.Reset()
	ZeroGrad(s.params)
	m := AttnMask{Causal: true, KeyPad: s.pad}
	x := s.emb.Forward(t, s.seq, s.B, s.T)
	x = t.Dropout(t.Mul(x, TimelineMask(t, s.pad, s.B, s.T)), 0.5, true, s.rng)
	h := s.ln.Forward(t, s.blk.Forward(t, x, m, true, s.rng))
	pe := s.emb.Forward(t, s.pos, s.B, s.T)
	ne := s.emb.Forward(t, s.neg, s.B, s.T)
	loss := BCELoss(t, t.RowDot(h, pe), t.RowDot(h, ne), s.mask)
	return t.Backward(loss)
}

// TestSASRecStepAllocs: a steady-state transformer training step through
// the tape allocates (almost) nothing.
func TestSASRecStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := newSASRecStep(4, 6, 8, 20)
	for range 3 {
		require.NoError(t, s.run())
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := s.run(); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per steady-state SASRec-block step: %v", allocs)
	require.LessOrEqual(t, allocs, 2.0)
}

// BenchmarkSASRecBlockStep: forward+backward of one tf-style block at the
// SASRec reference size (batch 128, maxlen 50, d 64, Beauty's 12101 items).
func BenchmarkSASRecBlockStep(b *testing.B) {
	s := newSASRecStep(128, 50, 64, 12101)
	for b.Loop() {
		if err := s.run(); err != nil {
			b.Fatal(err)
		}
	}
}
