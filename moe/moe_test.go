package moe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

func sig(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// refGate is the float64 oracle of one gate row: σ(a_k)/Σσ(a_k') or softmax.
func refGate(a []float64, norm Normalization) []float64 {
	out := make([]float64, len(a))
	var z float64
	for k, v := range a {
		if norm == SigmoidNorm {
			out[k] = sig(v)
		} else {
			out[k] = math.Exp(v)
		}
		z += out[k]
	}
	for k := range out {
		out[k] /= z
	}
	return out
}

func TestPADInitValues(t *testing.T) {
	init := PADInit(10, PADGamma2)
	require.Len(t, init, 3)
	// numpy: np.linspace(1,0,11), np.linspace(-4,-5,11), np.linspace(0,1,11)
	wantID := []float64{1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0}
	wantAl := []float64{-4, -4.1, -4.2, -4.3, -4.4, -4.5, -4.6, -4.7, -4.8, -4.9, -5}
	wantTx := []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
	assert.InDeltaSlice(t, wantID, init[ExpertID], 1e-12)
	assert.InDeltaSlice(t, wantAl, init[ExpertAligned], 1e-12)
	assert.InDeltaSlice(t, wantTx, init[ExpertText], 1e-12)
	assert.Equal(t, []float64{7}, linspace(7, 9, 1))
}

func TestFreqGateInitialWeights(t *testing.T) {
	bins := []int{0, 1, 2, 10, 5}
	g, err := NewFreqGate(bins, PADInit(10, PADGamma2))
	require.NoError(t, err)
	assert.Equal(t, 3, g.NumExperts())
	assert.Equal(t, 10, g.NumBins())
	tp := autograd.NewInferenceTape()
	w := g.Weights(tp, []int{0, 1, 2, 3, 4})
	require.Equal(t, []int{5, 3}, w.Data.Shape)
	// Bin 0 by hand: σ(1) = 0.7310586, σ(−4) = 0.0179862, σ(0) = 0.5,
	// sum 1.2490448.
	assert.InDeltaSlice(t, []float32{0.585294, 0.0144000, 0.400306}, w.Data.Row(0), 2e-6)
	for n, it := range []int{0, 1, 2, 3, 4} {
		b := bins[it]
		a := []float64{1 - 0.1*float64(b), -4 - 0.1*float64(b), 0.1 * float64(b)}
		want := refGate(a, SigmoidNorm)
		for k := range 3 {
			assert.InDelta(t, want[k], float64(w.Data.Row(n)[k]), 2e-6, "item %d expert %d", it, k)
		}
	}
	// Popular bins lean on ID, cold bins on text.
	assert.Greater(t, w.Data.Row(1)[ExpertID], w.Data.Row(1)[ExpertText])
	assert.Greater(t, w.Data.Row(3)[ExpertText], w.Data.Row(3)[ExpertID])
}

func TestWeightsRowsSumToOne(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nb, k := 6, 4
	init := make([][]float64, k)
	for e := range init {
		init[e] = make([]float64, nb)
		for b := range init[e] {
			init[e][b] = 6 * r.NormFloat64()
		}
	}
	bins := make([]int, 50)
	items := make([]int, 50)
	for i := range bins {
		bins[i] = r.IntN(nb)
		items[i] = r.IntN(50)
	}
	feats := tensor.New(50, 5)
	for i := range feats.Data {
		feats.Data[i] = float32(3 * r.NormFloat64())
	}
	for _, norm := range []Normalization{SigmoidNorm, SoftmaxNorm} {
		fg, err := NewFreqGate(bins, init)
		require.NoError(t, err)
		fg.Norm = norm
		eg, err := NewFeatureGate(r, feats, k, norm)
		require.NoError(t, err)
		for _, g := range []Gate{fg, eg} {
			tp := autograd.NewInferenceTape()
			w := g.Weights(tp, items)
			require.Equal(t, []int{len(items), k}, w.Data.Shape)
			for n := range items {
				var s float64
				for _, v := range w.Data.Row(n) {
					assert.GreaterOrEqual(t, v, float32(0))
					s += float64(v)
				}
				assert.InDelta(t, 1, s, 1e-5)
			}
		}
		// Frequency gate values against the oracle.
		tp := autograd.NewInferenceTape()
		w := fg.Weights(tp, items)
		for n, it := range items {
			a := make([]float64, k)
			for e := range k {
				a[e] = float64(float32(init[e][bins[it]]))
			}
			want := refGate(a, norm)
			for e := range k {
				assert.InDelta(t, want[e], float64(w.Data.Row(n)[e]), 2e-6)
			}
		}
	}
}

func TestNewFreqGateErrors(t *testing.T) {
	_, err := NewFreqGate([]int{0, 1, 11}, PADInit(10, PADGamma2))
	assert.ErrorContains(t, err, "item 2 has popularity bin 11, outside 0..10")
	_, err = NewFreqGate([]int{0, -1}, PADInit(10, PADGamma2))
	assert.ErrorContains(t, err, "item 1")
	_, err = NewFreqGate([]int{0}, [][]float64{{1, 2}, {1}})
	assert.ErrorContains(t, err, "expert 1 has 1 initial logits")
	_, err = NewFreqGate([]int{0}, nil)
	assert.Error(t, err)
	_, err = NewFreqGate([]int{0}, [][]float64{{math.NaN()}})
	assert.Error(t, err)
	_, err = NewFeatureGate(rand.New(rand.NewPCG(1, 1)), tensor.New(3, 2), 0, SoftmaxNorm)
	assert.Error(t, err)
}

func TestMixMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n, k := 6, 3
	w := tensor.New(n, k)
	for i := range w.Data {
		w.Data[i] = r.Float32()
	}
	scores := make([]*tensor.Tensor, k)
	for e := range scores {
		scores[e] = tensor.New(2, 3) // [B, L] with N = 6
		for i := range scores[e].Data {
			scores[e].Data[i] = float32(r.NormFloat64())
		}
	}
	tp := autograd.NewInferenceTape()
	out := Mix(tp, tp.Const(w), tp.Const(scores[0]), tp.Const(scores[1]), tp.Const(scores[2]))
	require.Equal(t, []int{2, 3}, out.Data.Shape)
	for i := range n {
		var want float64
		for e := range k {
			want += float64(w.Data[i*k+e]) * float64(scores[e].Data[i])
		}
		assert.InDelta(t, want, float64(out.Data.Data[i]), 1e-6)
	}
	assert.Panics(t, func() { Mix(tp, tp.Const(w), tp.Const(scores[0])) })
	assert.Panics(t, func() { Mix(tp, tp.Const(w), tp.Const(scores[0]), tp.Const(scores[1]), tp.Const(tensor.New(6))) })
}

// fdMaxErr runs autograd.GradCheck and also returns the largest absolute
// difference between the tape gradient of Σ r_i·f_i and its central
// difference (step 1e-3, evaluated in float32 and summed in float64).
func fdMaxErr(t *testing.T, f func(tp *autograd.Tape) *autograd.Value, params []*autograd.Value) float64 {
	t.Helper()
	require.NoError(t, autograd.GradCheck(f, params, autograd.GradCheckOptions{}))
	r := rand.New(rand.NewPCG(7, 7))
	tp := autograd.NewTape()
	y := f(tp)
	proj := make([]float32, y.Data.Len())
	for i := range proj {
		proj[i] = float32(2*r.Float64() - 1)
	}
	for _, p := range params {
		p.ZeroGrad()
	}
	loss := tp.Sum(tp.Mul(y, tp.Const(tensor.FromSlice(proj, y.Data.Shape...))))
	require.NoError(t, tp.Backward(loss))
	eval := func() float64 {
		it := autograd.NewInferenceTape()
		out := f(it)
		var s float64
		for i, v := range out.Data.Data {
			s += float64(proj[i]) * float64(v)
		}
		return s
	}
	var worst float64
	for _, p := range params {
		for i := range p.Data.Data {
			old := p.Data.Data[i]
			const h = 1e-3
			p.Data.Data[i] = old + h
			fp := eval()
			p.Data.Data[i] = old - h
			fm := eval()
			p.Data.Data[i] = old
			num := (fp - fm) / (float64(old+h) - float64(old-h))
			worst = max(worst, math.Abs(num-float64(p.Grad.Data[i])))
		}
	}
	return worst
}

func TestGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	bins := []int{0, 1, 2, 3, 3, 2, 1}
	items := []int{1, 2, 3, 4, 5, 6, 0, 3}
	feats := tensor.New(7, 4)
	for i := range feats.Data {
		feats.Data[i] = float32(r.NormFloat64())
	}
	for _, norm := range []Normalization{SigmoidNorm, SoftmaxNorm} {
		fg, err := NewFreqGate(bins, PADInit(3, PADGamma2))
		require.NoError(t, err)
		fg.Norm = norm
		e := fdMaxErr(t, func(tp *autograd.Tape) *autograd.Value { return fg.Weights(tp, items) }, []*autograd.Value{fg.Logits})
		t.Logf("FreqGate/%v: max abs gradient error %.2e", norm, e)
		assert.Less(t, e, 1e-3)

		eg, err := NewFeatureGate(r, feats, 3, norm)
		require.NoError(t, err)
		for i := range eg.Bias.Data.Data {
			eg.Bias.Data.Data[i] = float32(r.NormFloat64())
		}
		e = fdMaxErr(t, func(tp *autograd.Tape) *autograd.Value { return eg.Weights(tp, items) }, []*autograd.Value{eg.Weight, eg.Bias})
		t.Logf("FeatureGate/%v: max abs gradient error %.2e", norm, e)
		assert.Less(t, e, 1e-3)
	}
	// The mixture: gradients reach the gate logits and every expert score.
	fg, err := NewFreqGate(bins, PADInit(3, PADGamma2))
	require.NoError(t, err)
	s := make([]*autograd.Value, 3)
	for k := range s {
		st := tensor.New(len(items))
		for i := range st.Data {
			st.Data[i] = float32(2 * r.NormFloat64())
		}
		s[k] = autograd.NewParam(st)
	}
	e := fdMaxErr(t, func(tp *autograd.Tape) *autograd.Value { return Combine(tp, fg, items, s...) },
		[]*autograd.Value{fg.Logits, s[0], s[1], s[2]})
	t.Logf("Mix(FreqGate): max abs gradient error %.2e", e)
	assert.Less(t, e, 1e-3)
}

// rightExpert is the informative expert of bin b in the synthetic task: the
// opposite of what PAD's initialization prefers (bin 1 → text, bin 2 →
// aligned, bin 3 → ID).
func rightExpert(b int) int { return 3 - b }

// synthBatch draws n (item, label, expert scores) triples: items 1..3·per
// fall in bins 1, 2, 3 (per items each); in bin b only expert rightExpert(b)
// carries the label (±2 plus noise), the other experts' scores are noise.
func synthBatch(r *rand.Rand, n, per int) (items []int, labels []float32, scores [3][]float32) {
	items = make([]int, n)
	labels = make([]float32, n)
	for k := range scores {
		scores[k] = make([]float32, n)
	}
	for i := range n {
		it := 1 + r.IntN(3*per)
		items[i] = it
		bin := (it-1)/per + 1
		y := r.IntN(2)
		labels[i] = float32(y)
		for k := range 3 {
			if k == rightExpert(bin) {
				scores[k][i] = float32(4*float64(y) - 2 + 0.5*r.NormFloat64())
			} else {
				scores[k][i] = float32(2 * r.NormFloat64())
			}
		}
	}
	return
}

// TestGateLearnsRightExpertPerBin trains only the gate, by gradient descent
// on BCE of the mixed score, starting from PAD's initialization (which leans
// on the ID expert for bin 1, on the text expert for bin 3, and has the
// aligned expert off, all wrong for this task): the gate must end up putting
// most weight on the informative expert of each bin.
func TestGateLearnsRightExpertPerBin(t *testing.T) {
	const per = 10
	bins := make([]int, 3*per+1)
	for i := 1; i < len(bins); i++ {
		bins[i] = (i-1)/per + 1
	}
	feats := tensor.New(len(bins), 4) // one-hot bin features
	for i, b := range bins {
		feats.Data[i*4+b] = 1
	}
	fg, err := NewFreqGate(bins, PADInit(3, PADGamma2))
	require.NoError(t, err)
	eg, err := NewFeatureGate(rand.New(rand.NewPCG(1, 1)), feats, 3, SoftmaxNorm)
	require.NoError(t, err)
	gates := []struct {
		name   string
		g      Gate
		params []*autograd.Value
	}{
		{"FreqGate", fg, []*autograd.Value{fg.Logits}},
		{"FeatureGate", eg, []*autograd.Value{eg.Weight, eg.Bias}},
	}
	for _, gc := range gates {
		t.Run(gc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 12))
			w0 := gc.g.Weights(autograd.NewInferenceTape(), []int{1, per + 1, 2*per + 1})
			t.Logf("weights per bin before training: %.3f %.3f %.3f", w0.Data.Row(0), w0.Data.Row(1), w0.Data.Row(2))
			tp := autograd.NewTape()
			for range 300 {
				tp.Reset()
				items, labels, sc := synthBatch(r, 128, per)
				mixed := Combine(tp, gc.g, items,
					tp.Const(tensor.FromSlice(sc[0], 128)), tp.Const(tensor.FromSlice(sc[1], 128)), tp.Const(tensor.FromSlice(sc[2], 128)))
				loss := tp.BCEWithLogits(mixed, tp.Const(tensor.FromSlice(labels, 128)), nil)
				for _, p := range gc.params {
					p.ZeroGrad()
				}
				require.NoError(t, tp.Backward(loss))
				for _, p := range gc.params {
					tensor.Axpy(-2, p.Grad.Data, p.Data.Data)
				}
			}
			tp = autograd.NewInferenceTape()
			w := gc.g.Weights(tp, []int{1, per + 1, 2*per + 1})
			for b := range 3 {
				row := w.Data.Row(b)
				t.Logf("bin %d weights after training: %.3f", b+1, row)
				want := rightExpert(b + 1)
				for k := range 3 {
					if k != want {
						assert.Greater(t, row[want], row[k], "bin %d: expert %d should dominate", b+1, want)
					}
				}
				assert.Greater(t, row[want], float32(0.6), "bin %d", b+1)
			}
		})
	}
}
