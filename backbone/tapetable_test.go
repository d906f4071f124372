package backbone_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// testGenreTable is the example's table with random weights: 9 items in 3
// genres, width 4.
func testGenreTable(t *testing.T, rng *rand.Rand) (*backbone.TapeTable, *genreTable) {
	tt, err := newGenreTable(rng, genreSettings{Genre: []int{0, 1, 2, 3, 1, 2, 3, 1, 2, 3}, NumGenres: 3}, 4)
	require.NoError(t, err)
	return tt, tt.Module.(*genreTable)
}

// hidden hides a table's type, so that TableOp records it through its
// ItemTable methods (Lookup, then Backward) as one user-defined op.
type hidden struct{ backbone.ItemTable }

// wrongScale is a user-defined op with a planted bug: y = 2x, but its
// backward passes dy through unscaled.
type wrongScale struct{}

func (wrongScale) Forward(c *autograd.FuncContext, in []*tensor.Tensor) (*tensor.Tensor, error) {
	y := c.Tensor(in[0].Shape...)
	tensor.Axpy(2, in[0].Data, y.Data)
	return y, nil
}

func (wrongScale) Backward(_ *autograd.FuncContext, dy *tensor.Tensor, din []*tensor.Tensor) error {
	if din[0] != nil {
		tensor.Axpy(1, dy.Data, din[0].Data)
	}
	return nil
}

// plantedGenre is the genre table with a wrong op on its tape.
type plantedGenre struct{ *genreTable }

func (m plantedGenre) Lookup(t *autograd.Tape, ids []int) *autograd.Value {
	v, err := t.Apply(wrongScale{}, m.genreTable.Lookup(t, ids))
	if err != nil {
		panic(err)
	}
	return v
}

// A table written with tape ops gets exact gradients with no Backward of
// its own, whether TableOp records it on a larger tape op by op or as one
// op through its ItemTable methods (TapeTable.Lookup, then Backward); a
// wrong op inside the module makes GradCheck fail on both paths.
func TestTapeTableGradCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tt, m := testGenreTable(t, rng)
	ids := []int{3, 2, 7, 3, 9, 1} // not the padding id 0: see below
	inputs := []*autograd.Value{m.Items, m.Genres}
	check := func(items backbone.ItemTable) error {
		op := backbone.NewTableOp(items)
		return autograd.GradCheck(func(t *autograd.Tape) *autograd.Value {
			v, err := op.Apply(t, ids)
			if err != nil {
				panic(err)
			}
			return t.Sum(t.Square(t.Tanh(v)))
		}, inputs, autograd.GradCheckOptions{})
	}
	require.NoError(t, check(tt), "recorded op by op")
	require.NoError(t, check(hidden{tt}), "recorded through Lookup and Backward")
	// The padding id 0 has a zero vector and sends no gradient to either
	// row 0 (as torch's padding_idx): by design not the derivative, which
	// GradCheck would compare.
	nn.ZeroGrad(tt.Params())
	tp := autograd.NewTape()
	v, err := backbone.NewTableOp(tt).Apply(tp, []int{0, 4, 0})
	require.NoError(t, err)
	require.Equal(t, make([]float32, 4), v.Data.Row(0))
	require.NoError(t, tp.Backward(tp.Sum(v)))
	require.Equal(t, make([]float32, 4), m.Items.Grad.Data[:4])
	require.Equal(t, make([]float32, 4), m.Genres.Grad.Data[:4])
	require.Equal(t, []float32{1, 1, 1, 1}, m.Items.Grad.Data[16:20], "item 4")
	require.Equal(t, []float32{1, 1, 1, 1}, m.Genres.Grad.Data[4:8], "item 4's genre, 1")

	bad, err := backbone.NewTapeTable(plantedGenre{m}, tt.Spec())
	require.NoError(t, err)
	require.ErrorIs(t, check(bad), autograd.ErrGradCheck)
	require.ErrorIs(t, check(hidden{bad}), autograd.ErrGradCheck)

	_, err = backbone.NewTableOp(tt).Apply(autograd.NewTape(), []int{10})
	require.ErrorIs(t, err, backbone.ErrItemOutOfRange)
}

// One TableOp records a TapeTable several times on one tape: the call, not
// the table, holds what the backward pass needs, so the gradients are those
// of the sum of both uses.
func TestTapeTableTwicePerTape(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tt, m := testGenreTable(t, rng)
	op := backbone.NewTableOp(tt)
	f := func(t *autograd.Tape) *autograd.Value {
		a, err := op.Apply(t, []int{1, 2, 5})
		if err != nil {
			panic(err)
		}
		b, err := op.Apply(t, []int{4, 4, 9})
		if err != nil {
			panic(err)
		}
		return t.Sum(t.Mul(t.Tanh(a), b))
	}
	require.NoError(t, autograd.GradCheck(f, []*autograd.Value{m.Items, m.Genres}, autograd.GradCheckOptions{}))
}

// TableOp and EncoderOp hand the parameters' gradients back through din,
// as autograd.Function says, not into the parameters' Grad on the side:
// given buffers of its own, Backward fills them with what the wrapped
// Backward alone puts into Grad, and leaves Grad (pointer and values) as it
// was. (Before, the ops ignored din for parameters: din stayed zero.)
func TestOpsReturnParamGradsThroughDin(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ids := []int{3, 0, 7, 3}
	dv := tensor.New(len(ids), 4)
	for i := range dv.Data {
		dv.Data[i] = float32(rng.NormFloat64())
	}
	idt := backbone.NewIDTable(rng, 8, 4)
	for _, items := range []backbone.ItemTable{idt, hidden{backbone.NewIDTable(rng, 8, 4)}} {
		params := items.Params()
		// reference: the table's own Backward into Grad
		var out tensor.Tensor
		items.Lookup(&out, ids)
		require.NoError(t, items.Backward(dv))
		want := params[0].Value.Grad.Clone()
		params[0].Value.ZeroGrad()

		op := backbone.NewTableOp(items)
		_, err := op.Apply(autograd.NewTape(), ids)
		require.NoError(t, err)
		grad := params[0].Value.Grad
		din := []*tensor.Tensor{tensor.New(params[0].Value.Data.Shape...)}
		require.NoError(t, op.Backward(nil, dv, din))
		require.Equal(t, want.Data, din[0].Data, "%T: gradient in din", items)
		require.Same(t, grad, params[0].Value.Grad, "%T: Grad restored", items)
		require.Equal(t, make([]float32, grad.Len()), grad.Data, "%T: nothing on the side", items)
	}

	cfg, err := backbone.DefaultEncoderConfig(backbone.KindGRU4Rec)
	require.NoError(t, err)
	cfg.Dim, cfg.MaxLen, cfg.Dropout = 4, 5, 0
	enc, err := backbone.NewEncoder(rng, cfg)
	require.NoError(t, err)
	b := &backbone.Batch{}
	b.Reset(cfg.MaxLen)
	b.AddSeq([]int{1, 2, 3})
	b.AddSeq([]int{4, 5})
	x := autograd.NewParam(tensor.New(b.NumTokens(), cfg.Dim))
	for i := range x.Data.Data {
		x.Data.Data[i] = float32(rng.NormFloat64())
	}
	dh := tensor.New(b.NumTokens(), cfg.Dim)
	for i := range dh.Data {
		dh.Data[i] = float32(rng.NormFloat64())
	}
	ps := enc.Params()
	s := enc.NewScratch()
	enc.Forward(s, b, x.Data, true, rng)
	_, err = enc.Backward(s, dh)
	require.NoError(t, err)
	var want []*tensor.Tensor
	for _, p := range ps {
		want = append(want, p.Value.Grad.Clone())
		p.Value.ZeroGrad()
	}
	op := backbone.NewEncoderOp(enc)
	_, err = op.Apply(autograd.NewTape(), b, x, true, rng)
	require.NoError(t, err)
	din := []*tensor.Tensor{tensor.New(x.Data.Shape...)}
	for _, p := range ps {
		din = append(din, tensor.New(p.Value.Data.Shape...))
	}
	require.NoError(t, op.Backward(nil, dh, din))
	nonzero := false
	for i, p := range ps {
		require.Equal(t, want[i].Data, din[1+i].Data, "%s: gradient in din", p.Name)
		require.Equal(t, make([]float32, p.Value.Grad.Len()), p.Value.Grad.Data, "%s: nothing on the side", p.Name)
		for _, v := range din[1+i].Data {
			nonzero = nonzero || v != 0
		}
	}
	require.True(t, nonzero, "the encoder's parameters get a gradient")
}

// A model over a TapeTable trains (the loss falls), saves, reloads through
// the registry (the example registers the kind) and scores bit-identically;
// Lookup and Materialize give the same vectors.
func TestTapeTableTrainSaveLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	genre := make([]int, 31)
	for i := 1; i < len(genre); i++ {
		genre[i] = 1 + i%4
	}
	items, err := newGenreTable(rng, genreSettings{Genre: genre, NumGenres: 4}, 8)
	require.NoError(t, err)
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	require.NoError(t, err)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads = 8, 6, 1, 1
	enc, err := backbone.NewEncoder(rng, cfg)
	require.NoError(t, err)
	for _, loss := range []backbone.Loss{backbone.LossBCE, backbone.LossCrossEntropy} {
		m, err := backbone.NewSeqModel(enc, items, backbone.ModelConfig{Loss: loss})
		require.NoError(t, err)
		seqs := make([][]int, 40)
		for u := range seqs {
			start := 1 + rng.IntN(20)
			for j := range 3 + rng.IntN(5) {
				seqs[u] = append(seqs[u], start+j)
			}
		}
		first, err := m.LossGrad(seqs, rand.New(rand.NewPCG(2, 2)))
		require.NoError(t, err)
		tc := backbone.DefaultTrainConfig()
		tc.Epochs, tc.BatchSize, tc.LR = 10, 8, 5e-3
		hist, err := backbone.Train(t.Context(), m, seqs, tc, backbone.TrainOptions{KeepLast: true})
		require.NoError(t, err)
		last := hist.Epochs[len(hist.Epochs)-1].Loss
		require.Less(t, last, 0.9*first, "%v: training a TapeTable does not lower the loss (%g -> %g)", loss, first, last)

		path := filepath.Join(t.TempDir(), "genre.safetensors")
		require.NoError(t, m.Save(path))
		back, err := backbone.LoadRecommender(path)
		require.NoError(t, err)
		require.IsType(t, &backbone.TapeTable{}, back.SeqModel().Items)
		require.Equal(t, genre, back.SeqModel().Items.(*backbone.TapeTable).Module.(*genreTable).Genre)
		a := make([]float32, len(seqs)*(len(genre)))
		b := make([]float32, len(a))
		require.NoError(t, backbone.NewRecommender(m).ScoreAll(seqs, a))
		require.NoError(t, back.ScoreAll(seqs, b))
		require.Equal(t, a, b, "%v: reloaded scores", loss)
	}

	var all, some tensor.Tensor
	items.Materialize(&all)
	ids := []int{5, 1, 30, 5}
	items.Lookup(&some, ids)
	for i, id := range ids {
		require.Equal(t, all.Row(id), some.Row(i), "item %d", id)
	}
	require.Equal(t, make([]float32, 8), all.Row(0))
}

// wrongWidth returns vectors of the wrong width: a bug of the module.
type wrongWidth struct{ *genreTable }

func (m wrongWidth) Lookup(t *autograd.Tape, ids []int) *autograd.Value {
	return t.Concat(1, m.genreTable.Lookup(t, ids), m.genreTable.Lookup(t, ids))
}

func TestTapeTableErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	tt, m := testGenreTable(t, rng)
	for _, spec := range []backbone.TableSpec{
		{Kind: "", NumItems: 9, Dim: 4}, {Kind: "id", NumItems: 9, Dim: 4}, {Kind: "normalized", NumItems: 9, Dim: 4},
		{Kind: "x", NumItems: 0, Dim: 4}, {Kind: "x", NumItems: 9, Dim: 0},
	} {
		_, err := backbone.NewTapeTable(m, spec)
		require.ErrorIs(t, err, backbone.ErrBadConfig, "%+v", spec)
	}
	_, err := backbone.NewTapeTable(nil, tt.Spec())
	require.ErrorIs(t, err, backbone.ErrBadConfig)

	fresh, err := backbone.NewTapeTable(m, tt.Spec())
	require.NoError(t, err)
	require.ErrorContains(t, fresh.Backward(tensor.New(1, 4)), "before Lookup")
	var out tensor.Tensor
	fresh.Lookup(&out, []int{1, 2})
	require.ErrorIs(t, fresh.Backward(tensor.New(3, 4)), autograd.ErrBackward, "gradient of the wrong shape")

	bad, err := backbone.NewTapeTable(wrongWidth{m}, tt.Spec())
	require.NoError(t, err)
	require.PanicsWithError(t, tensor.ErrShape.Error()+": backbone_test.wrongWidth.Lookup returned [2 8] for 2 ids of width 4",
		func() { bad.Lookup(&out, []int{1, 2}) })

	// the spec is a copy: changing it changes nothing in the table
	s := tt.Spec()
	s.Custom[0] = 'x'
	require.NotEqual(t, s.Custom, tt.Spec().Custom)

	_, err = buildGenreTable(backbone.TableSpec{Kind: genreKind, NumItems: 3, Dim: 4, Custom: []byte(`{"genre":[0,1,5],"num_genres":2}`)})
	require.Error(t, err)
	require.Len(t, nn.Prefix("t", tt.Params()), 2)
}
