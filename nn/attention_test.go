package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

func TestAttentionRejectsBadHeads(t *testing.T) {
	_, err := NewMultiHeadSelfAttention(rand.New(rand.NewPCG(1, 1)), 6, 4, false, 0)
	require.Error(t, err)
}

func TestAttentionGrad(t *testing.T) {
	pad := []bool{true, false, false, false, false, false, true, false} // B=2, T=4
	for _, tc := range []struct {
		name    string
		mask    AttnMask
		outProj bool
		qkv     bool
	}{
		{"nomask", AttnMask{}, false, false},
		{"causal", AttnMask{Causal: true}, true, false},
		{"causal+pad", AttnMask{Causal: true, KeyPad: pad}, false, false},
		{"qkv", AttnMask{Causal: true, KeyPad: pad}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, 2))
			a, err := NewMultiHeadSelfAttention(rng, 4, 2, tc.outProj, 0.2)
			require.NoError(t, err)
			x, q := layerInput(rng, 2, 4, 4), layerInput(rng, 2, 4, 4)
			inputs := append(layerValues(a.Params()), x)
			if tc.qkv {
				inputs = append(inputs, q)
			}
			err = autograd.GradCheck(func(tp *autograd.Tape) *autograd.Value {
				r := rand.New(rand.NewPCG(7, 7))
				if tc.qkv {
					return a.ForwardQKV(tp, q, x, tc.mask, true, r)
				}
				return a.Forward(tp, x, tc.mask, true, r)
			}, inputs, autograd.GradCheckOptions{})
			require.NoError(t, err)
		})
	}
}

// rowsEqual compares rows [from, to) of sequence b in two [B,T,d] outputs.
func layerRowsEqual(t *testing.T, y1, y2 *tensor.Tensor, b, from, to int, want bool) {
	T, d := y1.Shape[1], y1.Shape[2]
	same := true
	for i := from; i < to; i++ {
		for j := 0; j < d; j++ {
			if math.Abs(float64(y1.Data[(b*T+i)*d+j]-y2.Data[(b*T+i)*d+j])) > 1e-6 {
				same = false
			}
		}
	}
	require.Equal(t, want, same, "rows %d..%d of sequence %d", from, to, b)
}

func TestAttentionMasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	a, err := NewMultiHeadSelfAttention(rng, 4, 2, true, 0)
	require.NoError(t, err)
	B, T, d := 2, 5, 4
	x := tensor.New(B, T, d)
	for i := range x.Data {
		x.Data[i] = 2*rng.Float32() - 1
	}
	run := func(x *tensor.Tensor, m AttnMask) *tensor.Tensor {
		tp := autograd.NewInferenceTape()
		return a.Forward(tp, tp.Const(x), m, false, nil).Data.Clone()
	}
	changed := func(b, pos int) *tensor.Tensor {
		y := x.Clone()
		for j := 0; j < d; j++ {
			y.Data[(b*T+pos)*d+j] += 0.7 + float32(j)
		}
		return y
	}

	// causal: changing token 3 leaves outputs 0..2 unchanged, changes 3..4
	causal := AttnMask{Causal: true}
	y0, y1 := run(x, causal), run(changed(1, 3), causal)
	layerRowsEqual(t, y0, y1, 1, 0, 3, true)
	layerRowsEqual(t, y0, y1, 1, 3, 5, false)
	layerRowsEqual(t, y0, y1, 0, 0, 5, true)
	// without the causal mask the earlier outputs do change (the check can fail)
	y0, y1 = run(x, AttnMask{}), run(changed(1, 3), AttnMask{})
	layerRowsEqual(t, y0, y1, 1, 0, 3, false)

	// key padding: sequence 0 has positions 0 and 1 padded (left padding)
	pad := make([]bool, B*T)
	pad[0], pad[1] = true, true
	m := AttnMask{Causal: true, KeyPad: pad}
	y0, y1 = run(x, m), run(changed(0, 1), m)
	layerRowsEqual(t, y0, y1, 0, 2, 5, true)  // real queries ignore the padded key
	layerRowsEqual(t, y0, y1, 0, 1, 2, false) // the padded query still attends to itself
	for _, v := range y0.Data {
		require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
	}
	// and without the key mask the padded key is seen
	y0, y1 = run(x, causal), run(changed(0, 1), causal)
	layerRowsEqual(t, y0, y1, 0, 2, 5, false)
}

func TestAttentionSingleKeyIsValueProjection(t *testing.T) {
	// T = 1: softmax over one key is 1, so the output is V(x) exactly.
	rng := rand.New(rand.NewPCG(4, 4))
	a, err := NewMultiHeadSelfAttention(rng, 4, 2, false, 0)
	require.NoError(t, err)
	tp := autograd.NewInferenceTape()
	x := layerInput(rng, 3, 1, 4)
	y := a.Forward(tp, x, AttnMask{Causal: true}, false, nil)
	v := a.V.Forward(tp, x)
	require.InDeltaSlice(t, layerF64(v.Data.Data), layerF64(y.Data.Data), 1e-6)
}
