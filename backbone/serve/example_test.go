package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/nn"
)

// lastItem is a user's own encoder, written with nn layers on the tape: a
// user's state is the normalized vector of their last item plus a
// feed-forward correction.
type lastItem struct {
	LN  *nn.LayerNorm
	FFN *nn.FeedForward
}

func newLastItem(rng *rand.Rand, cfg backbone.EncoderConfig) (backbone.Encoder, error) {
	return backbone.NewTapeEncoder(&lastItem{LN: nn.NewLayerNorm(cfg.Dim, 1e-8),
		FFN: nn.NewFeedForward(rng, cfg.Dim, 2*cfg.Dim, nn.GELU, 0)}, cfg)
}

func (m *lastItem) Params() []nn.Param {
	return append(nn.Prefix("ln", m.LN.Params()), nn.Prefix("ffn", m.FFN.Params())...)
}

func (m *lastItem) Forward(t *autograd.Tape, b *backbone.Batch, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	h := m.LN.Forward(t, x)
	return t.Add(h, m.FFN.Forward(t, h, train, rng))
}

// A program serves a model with its own encoder kind: register the kind,
// open the model file, mount the handler on the program's mux beside its
// own routes.
func Example() {
	backbone.RegisterEncoder("example-last-item", newLastItem) // once, e.g. in init

	// a model trained with that encoder (here: a few epochs on toy data)
	rng := rand.New(rand.NewPCG(1, 2))
	enc, _ := newLastItem(rng, backbone.EncoderConfig{Kind: "example-last-item", Dim: 8, MaxLen: 5})
	m, _ := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, 12, 8), backbone.ModelConfig{})
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 30, 4
	seqs := [][]int{{1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}, {7, 8, 9}, {8, 9, 10}}
	if _, err := backbone.Train(context.Background(), m, seqs, tc, backbone.TrainOptions{KeepLast: true}); err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "serve-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	if err := m.Save(path); err != nil {
		panic(err)
	}

	// the service: a handler for the model, mounted beside the program's routes
	h, err := serve.Open(path, serve.Options{MaxK: 20})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hi") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/recommend", "application/json", strings.NewReader(`{"history":[7,8],"k":3}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var ans serve.RecommendResponse
	_ = decodeJSON(resp, &ans)
	fmt.Println(resp.StatusCode, len(ans.Items), "items")
	resp2, _ := http.Post(srv.URL+"/items", "application/json", strings.NewReader(`{"embeddings":[[1,2,3,4,5,6,7,8]]}`))
	resp2.Body.Close()
	fmt.Println("POST /items without a token:", resp2.StatusCode)
	// Output:
	// 200 3 items
	// POST /items without a token: 403
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
