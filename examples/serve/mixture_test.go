package main

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// tinyMixture builds a PAD phase-3 mixture over tinyItems items (ID expert,
// aligned expert over align.FusedTable, text expert over a text
// projection of random "LLM" embeddings, PAD's frequency gate), trains it
// on the tiny model's synthetic sequences (item i is followed by i+1),
// saves it under dir and returns the path and the in-memory mixture's
// Recommender.
func tinyMixture(tb testing.TB, dir string) (string, *backbone.Recommender) {
	path, rec, _ := tinyMixtureLLM(tb, dir)
	return path, rec
}

// tinyMixtureLLM is tinyMixture that also returns the mixture's raw "LLM"
// embeddings (row i = item i).
func tinyMixtureLLM(tb testing.TB, dir string) (string, *backbone.Recommender, *tensor.Tensor) {
	tb.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	const d = 16
	llm := tensor.New(tinyItems+1, 12)
	for i := 12; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(tb, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Dropout, cfg.Style = d, 8, 1, 0.1, nn.StylePostLN
	enc := func() backbone.Encoder {
		e, err := backbone.NewSASRec(r, cfg)
		require.NoError(tb, err)
		return e
	}
	tp, err := align.NewTextProjection(r, llm, d, 2, 0)
	require.NoError(tb, err)
	fused, err := align.NewFusedTable(r, backbone.NewIDTable(r, tinyItems, d), tp, d, 0)
	require.NoError(tb, err)
	text, err := align.NewTextProjection(r, llm, d, 2, 0)
	require.NoError(tb, err)
	bins := make([]int, tinyItems+1)
	for i := 1; i <= tinyItems; i++ {
		bins[i] = 1 + (i-1)*4/tinyItems
	}
	gate, err := moe.NewFreqGate(bins, moe.PADInit(4, moe.PADGamma2))
	require.NoError(tb, err)
	m, err := moe.NewMixture([]moe.Expert{
		{Name: "id", Enc: enc(), Items: backbone.NewIDTable(r, tinyItems, d)},
		{Name: "aligned", Enc: enc(), Items: fused},
		{Name: "text", Enc: enc(), Items: text},
	}, gate, 1)
	require.NoError(tb, err)
	var train [][]int
	for range 200 {
		start := 1 + r.IntN(tinyItems-6)
		s := make([]int, 6)
		for j := range s {
			s[j] = start + j
		}
		train = append(train, s)
	}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize, tc.LR = 30, 32, 5e-3
	_, err = backbone.Train(context.Background(), m, train, tc, backbone.TrainOptions{})
	require.NoError(tb, err)
	path := filepath.Join(dir, "pad.safetensors")
	require.NoError(tb, m.Save(path))
	rec, err := m.NewRecommender()
	require.NoError(tb, err)
	return path, rec, llm
}

// A saved PAD mixture is detected, loaded and served by the same handler as
// a SeqModel, and answers what the in-memory mixture answers.
func TestHandlerServesMixture(t *testing.T) {
	path, mem := tinyMixture(t, t.TempDir())
	_, kind, err := loadModel(path, nil)
	require.NoError(t, err)
	require.Equal(t, "moe", kind)
	seqPath, _ := tinyModel(t)
	_, kind, err = loadModel(seqPath, nil)
	require.NoError(t, err)
	require.Equal(t, "backbone", kind)

	h, err := serve.Open(path, serve.Options{MaxK: 20, Load: loadModel})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	require.Equal(t, http.StatusOK, rr.Code)
	assert.JSONEq(t, `{"status":"ok","items":20,"max_k":20,"max_history":1000,"max_body":65536,"kind":"moe","embedding_dim":0,"from_text":false,"writes":false,"added":0,"max_added":10000,"reloads":0}`, rr.Body.String())

	for _, c := range []struct {
		body    string
		hist    []int
		k       int
		exclude bool
	}{
		{`{"history":[3,4,5]}`, []int{3, 4, 5}, 10, true},
		{`{"history":[3,4,5],"k":20,"exclude_history":false}`, []int{3, 4, 5}, 20, false},
		{`{"history":[12,13,14,15,16,17,18,19,1,2,3],"k":4}`, []int{12, 13, 14, 15, 16, 17, 18, 19, 1, 2, 3}, 4, true},
		{`{"history":[20,20],"k":20}`, []int{20, 20}, 20, true},
	} {
		rr := post(h, c.body)
		require.Equal(t, http.StatusOK, rr.Code, rr.Body.String())
		var got serve.RecommendResponse
		decodeStrict(t, rr.Body.Bytes(), &got)
		var exclude []int
		if c.exclude {
			exclude = c.hist
		}
		want, err := mem.TopK(c.hist, c.k, exclude)
		require.NoError(t, err)
		require.Len(t, got.Items, len(want), c.body)
		for i, w := range want {
			assert.Equal(t, w.Item, got.Items[i], c.body)
			assert.Equal(t, w.Score, got.Scores[i], c.body) // float32 survives JSON exactly
		}
	}
	// trained on "i is followed by i+1": the mixture has learnt it
	rr = post(h, `{"history":[3,4,5],"k":1}`)
	assert.JSONEq(t, `{"items":[6],"scores":[`+scoreOf(t, rr.Body.Bytes())+`]}`, rr.Body.String())
	rr = post(h, `{"history":[3,21]}`)
	assert.Equal(t, http.StatusBadRequest, rr.Code)
	assert.Contains(t, rr.Body.String(), "item id 21 outside 1..20")
}

// The command serves a mixture checkpoint given with -model.
func TestRunServesMixture(t *testing.T) {
	path, mem := tinyMixture(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrCh := make(chan string, 1)
	errCh := make(chan error, 1)
	var logs syncBuffer
	go func() {
		errCh <- run(ctx, []string{"-model", path, "-addr", "127.0.0.1:0"}, &logs, func(a string) { addrCh <- a })
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case err := <-errCh:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30 s")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post("http://"+addr+"/recommend", "application/json", strings.NewReader(`{"history":[7,8,9],"k":3}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var got serve.RecommendResponse
	require.NoError(t, json.Unmarshal(b, &got))
	want, err := mem.TopK([]int{7, 8, 9}, 3, []int{7, 8, 9})
	require.NoError(t, err)
	require.Len(t, got.Items, 3)
	for i, w := range want {
		assert.Equal(t, w.Item, got.Items[i])
		assert.Equal(t, w.Score, got.Scores[i])
	}
	cancel()
	select {
	case err := <-errCh:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	assert.Contains(t, logs.String(), "kind=moe")
}

// A PAD mixture served with its LLM embeddings takes new items from text
// through the library handler (its text path, the coldest gate bin): they
// are checked, logged, served, kept over a restart, and a row scaled far
// beyond the trained rows is refused.
func TestMixtureAddsFromText(t *testing.T) {
	path, _, llm := tinyMixtureLLM(t, t.TempDir())
	opt := serve.Options{AddToken: "tok", LLM: llm, Load: loadModel}
	h, err := serve.Open(path, opt)
	require.NoError(t, err)
	hl := h.Health()
	require.Equal(t, "moe", hl.Kind)
	require.True(t, hl.FromText)
	require.Equal(t, 12, hl.EmbeddingDim)
	rows := tensor.FromSlice(append([]float32(nil), llm.Data[12*4:12*7]...), 3, 12)
	first, err := h.AddItems(rows)
	require.NoError(t, err)
	require.Equal(t, tinyItems+1, first)
	top, err := h.Recommender().TopK([]int{3, first}, tinyItems+3, nil)
	require.NoError(t, err)
	require.Len(t, top, tinyItems+3)
	big := rows.Clone()
	for i := range big.Data {
		big.Data[i] *= 1e6
	}
	_, err = h.AddItems(big)
	require.ErrorIs(t, err, serve.ErrRejected)
	h2, err := serve.Open(path, opt)
	require.NoError(t, err)
	require.Equal(t, tinyItems+3, h2.NumItems())
	s1, err := h.Recommender().Score(nil, []int{3, first}, []int{first, first + 2})
	require.NoError(t, err)
	s2, err := h2.Recommender().Score(nil, []int{3, first}, []int{first, first + 2})
	require.NoError(t, err)
	require.Equal(t, s1, s2, "re-encoded after the restart to the same vectors")
	// without the LLM rows the mixture cannot keep them
	_, err = serve.Open(path, serve.Options{Load: loadModel})
	require.ErrorIs(t, err, serve.ErrReloadRefused)
}
