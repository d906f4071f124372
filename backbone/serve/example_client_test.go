package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
)

// Serve a Recommender already in memory (here an untrained model) with New
// and talk to it as a client would: every error is a JSON message.
func ExampleNew() {
	rng := rand.New(rand.NewPCG(1, 1))
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		panic(err)
	}
	cfg.Dim, cfg.MaxLen = 8, 4
	enc, err := backbone.NewSASRec(rng, cfg)
	if err != nil {
		panic(err)
	}
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, 30, 8), backbone.ModelConfig{})
	if err != nil {
		panic(err)
	}
	h, err := serve.New(backbone.NewRecommender(m), serve.Options{MaxK: 20})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	show := func(resp *http.Response, err error) {
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Print(resp.StatusCode, " ", string(b))
	}
	show(http.Get(srv.URL + "/healthz"))
	show(http.Post(srv.URL+"/recommend", "application/json", strings.NewReader(`{"history":[3,0]}`)))
	show(http.Post(srv.URL+"/recommend", "application/json", strings.NewReader(`{"history":[3],"k":50}`)))
	show(http.Post(srv.URL+"/recommend", "application/json", strings.NewReader(`{"history":[3],"top":5}`)))

	resp, err := http.Post(srv.URL+"/recommend", "application/json", strings.NewReader(`{"history":[3,4],"k":5}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var got serve.RecommendResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, len(got.Items), "items,", len(got.Scores), "scores")
	// Output:
	// 200 {"status":"ok","items":30,"dim":8,"max_k":20,"max_history":1000,"max_body":65536,"kind":"backbone","embedding_dim":8,"from_text":false,"writes":false,"added":0,"max_added":10000,"reloads":0}
	// 400 {"error":"recommend: backbone: input 0: item id 0 outside 1..30: item id out of range"}
	// 400 {"error":"\"k\" is 50, want 1..20"}
	// 400 {"error":"invalid request: unknown field \"top\" (known: history, k, exclude_history)"}
	// 200 5 items, 5 scores
}
