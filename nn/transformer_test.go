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
