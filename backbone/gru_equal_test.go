package backbone

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// GRU is written twice: GRU4Rec differentiates by hand over packed batches
// (the fast path), nn.GRU runs on the tape. DESIGN's rule is one
// implementation per layer or a test that ties them: with the same weights,
// every sequence of a packed batch must give the same hidden states, input
// gradient and parameter gradients as nn.GRU run on that sequence alone.
// A planted difference (one bias element moved) must break the agreement.

// gruCompare runs both GRUs on a packed batch of sequences of the given
// lengths and returns the largest absolute difference over states and
// gradients, and the largest magnitude seen (for a relative reading).
func gruCompare(t *testing.T, lens []int, plant bool) (diff, scale float64) {
	t.Helper()
	const d = 8
	rng := rand.New(rand.NewPCG(5, 9))
	enc, err := NewGRU4Rec(rng, EncoderConfig{Kind: KindGRU4Rec, Dim: d, MaxLen: 16})
	require.NoError(t, err)
	ref := &nn.GRU{Hidden: d,
		WeightIH: autograd.NewParam(enc.wih.Weight.Data.Clone()), WeightHH: autograd.NewParam(enc.whh.Weight.Data.Clone()),
		BiasIH: autograd.NewParam(enc.wih.Bias.Data.Clone()), BiasHH: autograd.NewParam(enc.whh.Bias.Data.Clone())}
	if plant {
		ref.BiasHH.Data.Data[2*d+3] += 0.05 // the n gate's hidden bias, one unit
	}

	var b Batch
	b.Reset(16)
	for s, n := range lens {
		seq := make([]int, n)
		for i := range seq {
			seq[i] = 1 + (s+i)%5
		}
		b.AddSeq(seq)
	}
	T := b.NumTokens()
	x := tensor.New(T, d)
	dOut := tensor.New(T, d)
	for i := range x.Data {
		x.Data[i] = 2*rng.Float32() - 1
		dOut.Data[i] = 2*rng.Float32() - 1
	}

	for _, p := range enc.Params() {
		p.Value.ZeroGrad()
	}
	sc := enc.NewScratch()
	h := enc.Forward(sc, &b, x, false, nil)
	hRows := h.Clone()
	dx, err := enc.Backward(sc, dOut)
	require.NoError(t, err)

	track := func(a, b float32) {
		diff = max(diff, math.Abs(float64(a)-float64(b)))
		scale = max(scale, math.Abs(float64(b)))
	}
	refParams := []*autograd.Value{ref.WeightIH, ref.WeightHH, ref.BiasIH, ref.BiasHH}
	for s := 0; s < b.NumSeqs(); s++ {
		o, n := b.Offsets[s], b.SeqLen(s)
		xs := autograd.NewParam(tensor.FromSlice(append([]float32(nil), x.Data[o*d:(o+n)*d]...), 1, n, d))
		tp := autograd.NewTape()
		hs := ref.Forward(tp, xs, nil)
		r := tp.Const(tensor.FromSlice(append([]float32(nil), dOut.Data[o*d:(o+n)*d]...), 1, n, d))
		require.NoError(t, tp.Backward(tp.Sum(tp.Mul(hs, r))))
		for i := range n * d {
			track(hRows.Data[o*d+i], hs.Data.Data[i])
			track(dx.Data[o*d+i], xs.Grad.Data[i])
		}
	}
	// The tape accumulated the parameter gradients over the sequences, as
	// the packed backward sums them over the batch.
	for i, p := range enc.Params() {
		for j, g := range p.Value.Grad.Data {
			track(g, refParams[[]int{0, 2, 1, 3}[i]].Grad.Data[j])
		}
	}
	return diff, scale
}

func TestGRU4RecMatchesNNGRU(t *testing.T) {
	lens := []int{1, 5, 3, 8}
	diff, scale := gruCompare(t, lens, false)
	require.Greater(t, scale, 0.1, "nothing compared")
	require.Less(t, diff, 2e-5*max(scale, 1), "GRU4Rec and nn.GRU disagree (same weights): max |diff| %.3g", diff)

	planted, _ := gruCompare(t, lens, true)
	require.Greater(t, planted, 1e-3, "a planted bias difference was not seen: max |diff| %.3g", planted)
}
