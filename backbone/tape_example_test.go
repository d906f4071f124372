package backbone_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
)

// markovEncoder is a user's encoder written with nn layers on the tape: the
// state of a token is LN(x + pos) followed by a residual feed-forward
// network (a next-item model that looks at the current item and its
// position only).
type markovEncoder struct {
	Pos *nn.Embedding
	LN  *nn.LayerNorm
	FFN *nn.FeedForward
}

func newMarkovEncoder(rng *rand.Rand, cfg backbone.EncoderConfig) (backbone.Encoder, error) {
	m := &markovEncoder{
		Pos: nn.NewEmbedding(rng, cfg.MaxLen, cfg.Dim, -1),
		LN:  nn.NewLayerNorm(cfg.Dim, 1e-8),
		FFN: nn.NewFeedForward(rng, cfg.Dim, 2*cfg.Dim, nn.GELU, float32(cfg.Dropout)),
	}
	return backbone.NewTapeEncoder(m, cfg)
}

func (m *markovEncoder) Params() []nn.Param {
	ps := append(nn.Prefix("pos", m.Pos.Params()), nn.Prefix("ln", m.LN.Params())...)
	return append(ps, nn.Prefix("ffn", m.FFN.Params())...)
}

func (m *markovEncoder) Forward(t *autograd.Tape, b *backbone.Batch, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	h := m.LN.Forward(t, t.Add(x, m.Pos.Forward(t, b.Pos)))
	return t.Add(h, m.FFN.Forward(t, h, train, rng))
}

// A tape-built encoder stands where SASRec would: it trains with Train,
// saves, and, its kind registered, reloads and serves.
func ExampleTapeEncoder() {
	backbone.RegisterEncoder("example-markov", newMarkovEncoder) // once, e.g. in an init function

	rng := rand.New(rand.NewPCG(1, 2))
	enc, err := newMarkovEncoder(rng, backbone.EncoderConfig{Kind: "example-markov", Dim: 8, MaxLen: 5, Dropout: 0.1})
	if err != nil {
		panic(err)
	}
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, 20, 8), backbone.ModelConfig{})
	if err != nil {
		panic(err)
	}
	seqs := [][]int{{1, 2, 3, 4}, {2, 3, 4, 5}, {6, 7, 8}, {1, 2, 3}}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 3, 2
	if _, err := backbone.Train(context.Background(), m, seqs, tc, backbone.TrainOptions{KeepLast: true}); err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "markov")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	if err := m.Save(path); err != nil {
		panic(err)
	}
	back, err := backbone.LoadRecommender(path)
	if err != nil {
		panic(err)
	}
	a, _ := backbone.NewRecommender(m).TopK([]int{1, 2}, 3, nil)
	b, _ := back.TopK([]int{1, 2}, 3, nil)
	fmt.Println("encoder:", m.Enc.Config().Kind)
	fmt.Println("reloaded top-3 identical:", fmt.Sprint(a) == fmt.Sprint(b))
	// Output:
	// encoder: example-markov
	// reloaded top-3 identical: true
}
