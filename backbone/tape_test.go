package backbone

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// nnSASRec is SASRec written on the tape with nn layers: item vector·√d +
// position vector, dropout, nn.TransformerBlocks over the left-padded batch,
// a final LayerNorm. Built by nnSASRecOf from a backbone.SASRec, it shares
// that encoder's parameter Values.
type nnSASRec struct {
	pos     *autograd.Value
	blocks  []*nn.TransformerBlock
	lnF     *nn.LayerNorm
	scale   float32
	dropout float32
	causal  bool
}

func nnSASRecOf(m *SASRec) *nnSASRec {
	c := m.Config()
	e := &nnSASRec{pos: m.pos, lnF: m.lnF, scale: m.embScale(), dropout: float32(c.Dropout), causal: !c.NoCausal}
	for _, b := range m.blocks {
		attn := &nn.MultiHeadSelfAttention{Q: b.q, K: b.k, V: b.v, O: b.o, Heads: c.Heads, Dropout: float32(c.Dropout)}
		ffn := &nn.FeedForward{W1: b.w1, W2: b.w2, Act: c.Activation, Dropout: float32(c.Dropout)}
		e.blocks = append(e.blocks, &nn.TransformerBlock{Style: c.Style, LN1: b.ln1, LN2: b.ln2, Attn: attn, FFN: ffn,
			Dropout: float32(c.Dropout), ZeroPadded: true})
	}
	return e
}

func (e *nnSASRec) Params() []nn.Param {
	ps := []nn.Param{{Name: "pos_emb.weight", Value: e.pos}}
	for i, b := range e.blocks {
		ps = append(ps, nn.Prefix("blocks."+string(rune('0'+i)), b.Params())...)
	}
	return append(ps, nn.Prefix("ln_final", e.lnF.Params())...)
}

func (e *nnSASRec) Forward(t *autograd.Tape, b *Batch, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	h := t.Add(t.Scale(x, e.scale), t.Gather(e.pos, b.Pos, -1))
	h = t.Dropout(h, e.dropout, train, rng)
	p, keyPad := ToPadded(t, b, h)
	mask := nn.AttnMask{Causal: e.causal, KeyPad: keyPad}
	for _, blk := range e.blocks {
		p = blk.Forward(t, p, mask, train, rng)
	}
	return e.lnF.Forward(t, FromPadded(t, b, p))
}

func tapeTestBatch(rng *rand.Rand, maxLen int, lens ...int) *Batch {
	b := &Batch{}
	b.Reset(maxLen)
	for _, l := range lens {
		s := make([]int, l)
		for j := range s {
			s[j] = 1 + rng.IntN(30)
		}
		b.AddSeq(s)
	}
	return b
}

func randTensor(rng *rand.Rand, rows, cols int) *tensor.Tensor {
	x := tensor.New(rows, cols)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x
}

// A stack of nn transformer blocks given backbone.SASRec's weights computes
// the same hidden states (1e-5) and, through TapeEncoder, the same input and
// parameter gradients as SASRec's hand-written backward pass, in every block
// style.
func TestNNBlocksMatchSASRec(t *testing.T) {
	for _, style := range []nn.BlockStyle{nn.StyleTF, nn.StylePreLN, nn.StylePostLN} {
		for _, variant := range []string{"plain", "heads2-outproj-gelu", "nocausal", "long"} {
			t.Run(style.String()+"/"+variant, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(5, 6))
				cfg, err := DefaultEncoderConfig(KindSASRec)
				require.NoError(t, err)
				cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Style, cfg.Inner, cfg.Dropout = 8, 20, 2, style, 12, 0
				lens := []int{3, 1, 6, 5}
				switch variant {
				case "heads2-outproj-gelu":
					cfg.Heads, cfg.OutProj, cfg.Activation = 2, true, nn.GELU
				case "nocausal":
					cfg.NoCausal = true
				case "long": // the matrix-product attention path
					lens = []int{20, 13, 2}
				}
				sas, err := NewSASRec(rng, cfg)
				require.NoError(t, err)
				// move LayerNorm affine parameters off (1, 0) so they matter
				for _, p := range sas.Params() {
					if p.Value.Data.Dims() == 1 {
						for i := range p.Value.Data.Data {
							p.Value.Data.Data[i] += 0.1 * float32(rng.NormFloat64())
						}
					}
				}
				tcfg := cfg
				tcfg.Kind = "test-nn-sasrec"
				tenc, err := NewTapeEncoder(nnSASRecOf(sas), tcfg)
				require.NoError(t, err)

				b := tapeTestBatch(rng, cfg.MaxLen, lens...)
				x := randTensor(rng, b.NumTokens(), cfg.Dim)
				dh := randTensor(rng, b.NumTokens(), cfg.Dim)

				grads := func(enc Encoder) (h, dx *tensor.Tensor, dp [][]float32) {
					params := enc.Params()
					nn.ZeroGrad(params)
					s := enc.NewScratch()
					h = enc.Forward(s, b, x, true, rng).Clone()
					g, err := enc.Backward(s, dh)
					require.NoError(t, err)
					for _, p := range params {
						dp = append(dp, append([]float32(nil), p.Value.Grad.Data...))
					}
					return h, g.Clone(), dp
				}
				h1, dx1, dp1 := grads(sas)
				h2, dx2, dp2 := grads(tenc)
				require.InDeltaSlice(t, h1.Data, h2.Data, 1e-5, "hidden states")
				require.InDeltaSlice(t, dx1.Data, dx2.Data, 1e-4, "input gradients")
				// same parameters in both orders? map by Value
				byValue := map[*autograd.Value][]float32{}
				for i, p := range tenc.Params() {
					byValue[p.Value] = dp2[i]
				}
				for i, p := range sas.Params() {
					got, ok := byValue[p.Value]
					require.True(t, ok, "parameter %s not in the nn module", p.Name)
					require.InDeltaSlice(t, dp1[i], got, 1e-4, "gradient of %s", p.Name)
				}
			})
		}
	}
}

// EncoderOp and TableOp record built-in encoders and tables on a tape:
// GradCheck checks the input and parameter gradients through them, and
// through a TapeEncoder wrapped in turn as an op.
func TestBuiltInsOnTapeGradCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	cfg, err := DefaultEncoderConfig(KindSASRec)
	require.NoError(t, err)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Dropout, cfg.Activation = 4, 6, 1, 0, nn.GELU
	sas, err := NewSASRec(rng, cfg)
	require.NoError(t, err)
	b := tapeTestBatch(rng, cfg.MaxLen, 3, 1, 4)
	x := autograd.NewParam(randTensor(rng, b.NumTokens(), cfg.Dim))
	w1 := sas.blocks[0].w1.Weight
	tcfg := cfg
	tcfg.Kind = "test-nn-sasrec"
	tenc, err := NewTapeEncoder(nnSASRecOf(sas), tcfg)
	require.NoError(t, err)
	for _, enc := range []Encoder{sas, tenc} {
		op := NewEncoderOp(enc)
		f := func(t *autograd.Tape) *autograd.Value {
			h, err := op.Apply(t, b, x, false, rng)
			if err != nil {
				panic(err)
			}
			return t.Sum(t.Tanh(h))
		}
		require.NoError(t, autograd.GradCheck(f, []*autograd.Value{x, sas.pos, w1}, autograd.GradCheckOptions{}), "%T", enc)
	}

	items := NewIDTable(rng, 10, 4)
	ids := []int{3, 0, 7, 3, 10}
	top := NewTableOp(items)
	f := func(t *autograd.Tape) *autograd.Value {
		v, err := top.Apply(t, ids)
		if err != nil {
			panic(err)
		}
		return t.Sum(t.Square(t.Tanh(v)))
	}
	require.NoError(t, autograd.GradCheck(f, []*autograd.Value{items.W}, autograd.GradCheckOptions{}))
	_, err = top.Apply(autograd.NewTape(), []int{11})
	require.ErrorIs(t, err, ErrItemOutOfRange)

	// padding round trip
	p := autograd.NewParam(randTensor(rng, b.NumTokens(), 3))
	tp := autograd.NewTape()
	padded, keyPad := ToPadded(tp, b, p)
	require.Equal(t, []int{3, 4, 3}, padded.Data.Shape)
	require.Equal(t, []bool{true, false, false, false, true, true, true, false, false, false, false, false}, keyPad)
	require.Equal(t, p.Data.Data, FromPadded(tp, b, padded).Data.Data)
}

// A TapeEncoder trains with Train, serves through a Recommender, and a
// saved model reloads (its kind registered) and scores bit-identically.
func TestTapeEncoderTrainSaveLoad(t *testing.T) {
	registerTapeTestKind()
	rng := rand.New(rand.NewPCG(1, 1))
	cfg := EncoderConfig{Kind: "test-nn-sasrec", Dim: 8, MaxLen: 6, Blocks: 1, Heads: 1, Dropout: 0.1, LNEps: 1e-8}
	enc, err := newTestTapeEncoder(rng, cfg)
	require.NoError(t, err)
	m, err := NewSeqModel(enc, NewIDTable(rng, 30, 8), ModelConfig{})
	require.NoError(t, err)
	seqs := synthSeqs(rng, 40, 30, 2, 9)
	first, err := m.LossGrad(seqs, rand.New(rand.NewPCG(2, 2)))
	require.NoError(t, err)
	tc := DefaultTrainConfig()
	tc.Epochs, tc.BatchSize, tc.LR = 15, 8, 5e-3
	hist, err := Train(t.Context(), m, seqs, tc, TrainOptions{KeepLast: true})
	require.NoError(t, err)
	last := hist.Epochs[len(hist.Epochs)-1].Loss
	require.Less(t, last, 0.9*first, "training a TapeEncoder does not lower the loss (%g -> %g)", first, last)

	path := filepath.Join(t.TempDir(), "tape.safetensors")
	require.NoError(t, m.Save(path))
	back, err := Load(path)
	require.NoError(t, err)
	require.IsType(t, &TapeEncoder{}, back.Enc)
	r1, r2 := NewRecommender(m), NewRecommender(back)
	hist1 := []int{3, 5, 7, 9}
	s1, err := r1.TopK(hist1, 10, nil)
	require.NoError(t, err)
	s2, err := r2.TopK(hist1, 10, nil)
	require.NoError(t, err)
	require.Equal(t, s1, s2)
	require.False(t, math.IsNaN(float64(s1[0].Score)))
}

func newTestTapeEncoder(rng *rand.Rand, cfg EncoderConfig) (*TapeEncoder, error) {
	scfg := cfg
	scfg.Kind = KindSASRec
	sas, err := NewSASRec(rng, scfg)
	if err != nil {
		return nil, err
	}
	return NewTapeEncoder(nnSASRecOf(sas), cfg)
}

var registerTapeTestKind = sync.OnceFunc(func() {
	RegisterEncoder("test-nn-sasrec", func(rng *rand.Rand, cfg EncoderConfig) (Encoder, error) {
		return newTestTapeEncoder(rng, cfg)
	})
})

func TestTapeEncoderBadConfig(t *testing.T) {
	m := &nnSASRec{}
	for _, cfg := range []EncoderConfig{{Kind: KindSASRec, Dim: 4, MaxLen: 4}, {Dim: 4, MaxLen: 4}, {Kind: "x", MaxLen: 4}} {
		_, err := NewTapeEncoder(m, cfg)
		require.ErrorIs(t, err, ErrBadConfig, "%+v", cfg)
	}
	_, err := NewTapeEncoder(nil, EncoderConfig{Kind: "x", Dim: 4, MaxLen: 4})
	require.ErrorIs(t, err, ErrBadConfig)
}

// A Recommender over a TapeEncoder serves from many goroutines (each with
// its own tape) with the serial results (run with -race).
func TestTapeEncoderConcurrentTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	cfg := EncoderConfig{Kind: "test-nn-sasrec", Dim: 8, MaxLen: 6, Blocks: 1, Heads: 1, LNEps: 1e-8}
	enc, err := newTestTapeEncoder(rng, cfg)
	require.NoError(t, err)
	m, err := NewSeqModel(enc, NewIDTable(rng, 30, 8), ModelConfig{})
	require.NoError(t, err)
	r := NewRecommender(m)
	hists := [][]int{{1, 2, 3}, {4}, {5, 6, 7, 8, 9, 10, 11}, {12, 13}}
	want := make([][]Scored, len(hists))
	for i, h := range hists {
		want[i], err = r.TopK(h, 5, nil)
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 20; i++ {
				k := (g + i) % len(hists)
				got, err := r.TopK(hists[k], 5, nil)
				if err != nil {
					errs <- err
					return
				}
				for j := range got {
					if got[j] != want[k][j] {
						errs <- &mismatchError{}
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// BenchmarkTableOpStep records an ID table of Amazon Beauty's size (12,101
// items x 64) on a tape with TableOp, looks up 6,400 ids (a batch of 128 x
// 50) and runs the backward pass, which adds the table's gradient into
// din. "id" is IDTable, recorded as one user-defined op; "tape" is the same
// table written with one tape Gather (a TapeTable, recorded op by op).
func BenchmarkTableOpStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	id := NewIDTable(rng, 12101, 64)
	tt, err := NewTapeTable(&gatherModule{W: autograd.NewParam(id.W.Data.Clone())}, TableSpec{Kind: "bench-gather", NumItems: 12101, Dim: 64})
	require.NoError(b, err)
	ids := make([]int, 128*50)
	for i := range ids {
		ids[i] = 1 + rng.IntN(12101)
	}
	for _, c := range []struct {
		name  string
		items ItemTable
	}{{"id", id}, {"tape", tt}} {
		b.Run(c.name, func(b *testing.B) {
			op, tp := NewTableOp(c.items), autograd.NewTape()
			b.ReportAllocs()
			for b.Loop() {
				tp.Reset()
				v, err := op.Apply(tp, ids)
				if err != nil {
					b.Fatal(err)
				}
				if err := tp.Backward(tp.Sum(v)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
