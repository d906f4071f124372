package align

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

func randLLM(r *rand.Rand, n, d int) *tensor.Tensor {
	llm := tensor.New(n+1, d)
	for i := d; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	return llm
}

// tableGradCheck checks Backward of tab against central differences of
// L = Σ w ⊙ Lookup(ids), with dropout masks made repeatable by reseed.
func tableGradCheck(t *testing.T, tab backbone.ItemTable, ids []int, reseed func()) {
	t.Helper()
	r := rand.New(rand.NewPCG(11, 12))
	var out tensor.Tensor
	reseed()
	tab.Lookup(&out, ids)
	w := tensor.New(out.Shape...)
	for i := range w.Data {
		w.Data[i] = float32(r.NormFloat64())
	}
	loss := func() float64 {
		reseed()
		var o tensor.Tensor
		tab.Lookup(&o, ids)
		var s float64
		for i, v := range o.Data {
			s += float64(v) * float64(w.Data[i])
		}
		return s
	}
	params := tab.Params()
	nn.ZeroGrad(params)
	reseed()
	tab.Lookup(&out, ids)
	tab.Backward(w)
	checked := 0
	for _, p := range params {
		if !p.Value.RequiresGrad() {
			continue
		}
		g := append([]float32(nil), p.Value.Grad.Data...)
		for range 5 {
			j := r.IntN(len(g))
			old := p.Value.Data.Data[j]
			const eps = 1e-2
			p.Value.Data.Data[j] = old + eps
			lp := loss()
			p.Value.Data.Data[j] = old - eps
			lm := loss()
			p.Value.Data.Data[j] = old
			num := (lp - lm) / (2 * eps)
			assert.InDelta(t, num, float64(g[j]), 2e-3+2e-2*math.Abs(num), "%s[%d]", p.Name, j)
			checked++
		}
	}
	assert.Greater(t, checked, 0)
}

func TestTextProjectionGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	tp, err := NewTextProjection(r, randLLM(r, 9, 7), 5, 2, 0.3)
	require.NoError(t, err)
	tableGradCheck(t, tp, []int{3, 1, 9, 3, 0, 7}, func() { tp.Rng = rand.New(rand.NewPCG(4, 4)) })
	// Materialize = Lookup without dropout, row 0 zero
	tp.Rng = nil
	var all, some tensor.Tensor
	tp.Materialize(&all)
	tp.Lookup(&some, []int{2, 5})
	assert.InDeltaSlice(t, all.Row(2), some.Row(0), 1e-6)
	assert.InDeltaSlice(t, all.Row(5), some.Row(1), 1e-6)
	assert.Equal(t, make([]float32, 5), all.Row(0))
}

// TestTextProjectionByHand recomputes f_t for one item with float64 loops.
func TestTextProjectionByHand(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	llm := randLLM(r, 3, 4)
	tp, err := NewTextProjection(r, llm, 3, 1, 0)
	require.NoError(t, err)
	for _, p := range tp.Params()[1:] {
		for i := range p.Value.Data.Data {
			p.Value.Data.Data[i] = float32(r.NormFloat64())
		}
	}
	gelu := func(u float64) float64 { return 0.5 * u * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(u+0.044715*u*u*u))) }
	layer := func(w, b *tensor.Tensor, x []float64) []float64 {
		out := make([]float64, w.Shape[0])
		for o := range out {
			s := float64(b.Data[o])
			for i, v := range x {
				s += float64(w.Data[o*w.Shape[1]+i]) * v
			}
			out[o] = gelu(s)
		}
		return out
	}
	x := make([]float64, 4)
	for i := range x {
		x[i] = float64(llm.Row(2)[i])
	}
	ps := tp.Params()
	want := layer(ps[3].Value.Data, ps[4].Value.Data, layer(ps[1].Value.Data, ps[2].Value.Data, x))
	var got tensor.Tensor
	tp.Lookup(&got, []int{2})
	for i, v := range want {
		assert.InDelta(t, v, float64(got.Data[i]), 1e-5)
	}
}

func TestFusedTableGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	id := backbone.NewIDTable(r, 9, 4)
	tp, err := NewTextProjection(r, randLLM(r, 9, 6), 3, 1, 0.2)
	require.NoError(t, err)
	f, err := NewFusedTable(r, id, tp, 5, 0.25)
	require.NoError(t, err)
	ids := []int{1, 4, 4, 9, 2}
	tableGradCheck(t, f, ids, func() {
		f.Rng = rand.New(rand.NewPCG(5, 5))
		tp.Rng = rand.New(rand.NewPCG(6, 6))
	})
	v := f.IDView()
	tableGradCheck(t, v, ids, func() {})
	// the ID view equals the fused table with the text rows zeroed
	f.Rng, tp.Rng = nil, nil
	var a, b tensor.Tensor
	v.Materialize(&a)
	f.Materialize(&b)
	assert.NotEqual(t, a.Data, b.Data)
	idw := id.W.Data
	for _, it := range []int{1, 7} {
		for o := range 5 {
			s := float64(f.fuse.Bias.Data.Data[o])
			for i := range 4 {
				s += float64(f.fuse.Weight.Data.Data[o*7+i]) * float64(idw.Row(it)[i])
			}
			g := 0.5 * s * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(s+0.044715*s*s*s)))
			assert.InDelta(t, g, float64(a.Row(it)[o]), 1e-5)
		}
	}
}

func TestBuildTableAndSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	tp, err := NewTextProjection(r, randLLM(r, 9, 6), 3, 4, 0.1)
	require.NoError(t, err)
	f, err := NewFusedTable(r, backbone.NewIDTable(r, 9, 4), tp, 5, 0.1)
	require.NoError(t, err)
	b, err := BuildTable(f.Spec())
	require.NoError(t, err)
	assert.Equal(t, f.Spec(), b.Spec())
	assert.Equal(t, nn.SortedNames(f.Params()), nn.SortedNames(b.Params()))
	require.NoError(t, CopyParams(b.Params(), f.Params()))
	var x, y tensor.Tensor
	assert.Equal(t, f.Materialize(&x).Data, b.Materialize(&y).Data)
	_, err = BuildTable(backbone.TableSpec{Kind: "nope"})
	assert.Error(t, err)
}

// TestCopyTowerLeavesOriginal trains a copy of a tower through the whole
// phase-2 objective and checks that the original is bit-identical.
func TestCopyTowerLeavesOriginal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n = 20
	orig := smallTower(t, r, n, 0.1)
	before := map[string][]float32{}
	for _, p := range orig.Params() {
		before[p.Name] = append([]float32(nil), p.Value.Data.Data...)
	}
	tower, err := CopyTower(orig)
	require.NoError(t, err)
	for i, p := range tower.Params() {
		assert.Equal(t, before[p.Name], p.Value.Data.Data)
		assert.NotSame(t, orig.Params()[i].Value, p.Value)
	}
	tp, err := NewTextProjection(r, randLLM(r, n, 12), 8, 2, 0.1)
	require.NoError(t, err)
	fused, err := NewFusedTable(r, tower.Items, tp, 8, 0.1)
	require.NoError(t, err)
	rec, err := backbone.NewSeqModel(tower.Enc, fused, backbone.ModelConfig{})
	require.NoError(t, err)
	a, err := NewAnchored(rec, tp, tower.Items, MKMMD{Estimator: UnbiasedOffset}, 0.2)
	require.NoError(t, err)
	seqs := make([][]int, 30)
	for u := range seqs {
		for range 3 + r.IntN(6) {
			seqs[u] = append(seqs[u], 1+r.IntN(n))
		}
	}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 3, 8
	_, err = backbone.Train(context.Background(), a, seqs, tc, backbone.TrainOptions{KeepLast: true})
	require.NoError(t, err)
	changed := 0
	for _, p := range orig.Params() {
		assert.Equal(t, before[p.Name], p.Value.Data.Data, "original %s changed", p.Name)
	}
	for _, p := range tower.Params() {
		if !assert.ObjectsAreEqual(before[p.Name], p.Value.Data.Data) {
			changed++
		}
	}
	assert.Equal(t, len(tower.Params()), changed, "every parameter of the copy should have trained")
}

// Without the recommendation loss only the aligned tables train: the
// encoder and the fusion layer keep their values, the ID table and the text
// projection move, and the loss is γ times the alignment loss.
func TestAnchoredAlignOnly(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	const n = 20
	tower := smallTower(t, r, n, 0)
	enc := tower.Enc
	tp, err := NewTextProjection(r, randLLM(r, n, 12), 8, 1, 0)
	require.NoError(t, err)
	fused, err := NewFusedTable(r, tower.Items, tp, 8, 0)
	require.NoError(t, err)
	rec, err := backbone.NewSeqModel(tower.Enc, fused, backbone.ModelConfig{})
	require.NoError(t, err)
	a, err := NewAnchored(rec, tp, tower.Items, MKMMD{Estimator: Biased}, 0.5)
	require.NoError(t, err)
	a.AlignOnly = true
	seqs := [][]int{{1, 2, 3, 4}, {5, 6, 7}, {8, 9, 10, 11, 12}}
	for _, p := range a.Params() {
		p.Value.ZeroGrad()
	}
	loss, err := a.LossGrad(seqs, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	require.InDelta(t, 0.5*a.LastAlign, loss, 1e-9)
	require.Greater(t, a.LastAlign, 0.0)
	for _, p := range enc.Params() {
		for _, g := range gradOf(p.Value) {
			require.Zero(t, g, "encoder %s got a gradient", p.Name)
		}
	}
	for _, p := range nn.Prefix("fuse", fused.Params()) {
		if strings.Contains(p.Name, "fuse.fuse") {
			for _, g := range gradOf(p.Value) {
				require.Zero(t, g, "fusion %s got a gradient", p.Name)
			}
		}
	}
	var idGrad float64
	for _, p := range tower.Items.Params() {
		for _, g := range gradOf(p.Value) {
			idGrad += math.Abs(float64(g))
		}
	}
	require.Greater(t, idGrad, 0.0, "the ID table must be pulled by the alignment loss")
}

func gradOf(v *autograd.Value) []float32 {
	if v.Grad == nil {
		return nil
	}
	return v.Grad.Data
}

// smallTower is a post-LN SASRec ID tower of width 8 over n items.
func smallTower(t *testing.T, r *rand.Rand, n int, dropout float64) *backbone.SeqModel {
	t.Helper()
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads, cfg.Dropout, cfg.Style = 8, 6, 1, 1, dropout, nn.StylePostLN
	enc, err := backbone.NewSASRec(r, cfg)
	require.NoError(t, err)
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(r, n, 8), backbone.ModelConfig{})
	require.NoError(t, err)
	return m
}

// A phase-2 tower (encoder over PAD's fused table) saved by backbone's
// Save reloads with backbone.Load (align registers the fused kind) and
// scores exactly as before.
func TestFusedTowerSaveLoad(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n = 20
	tower := smallTower(t, r, n, 0)
	tp, err := NewTextProjection(r, randLLM(r, n, 12), 8, 2, 0)
	require.NoError(t, err)
	fused, err := NewFusedTable(r, tower.Items, tp, 8, 0)
	require.NoError(t, err)
	rec, err := backbone.NewSeqModel(tower.Enc, fused, backbone.ModelConfig{})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "aligned.safetensors")
	require.NoError(t, rec.Save(path))

	got, err := backbone.Load(path)
	require.NoError(t, err)
	hist := []int{3, 1, 4, 1, 5}
	cands := make([]int, n)
	for i := range cands {
		cands[i] = i + 1
	}
	want, err := backbone.NewRecommender(rec).Score(nil, hist, cands)
	require.NoError(t, err)
	require.Len(t, want, n)
	have, err := backbone.NewRecommender(got).Score(nil, hist, cands)
	require.NoError(t, err)
	require.Equal(t, want, have)
}
