package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/stretchr/testify/require"
)

// tinyItems is the item count of the synthetic model.
const tinyItems = 20

var (
	tinyOnce sync.Once
	tinyPath string
	tinyRec  *backbone.Recommender
	tinyErr  error
	tinyDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tinyDir != "" {
		_ = os.RemoveAll(tinyDir)
	}
	os.Exit(code)
}

// tinyModel trains (once per test binary) a small SASRec on synthetic
// sequences in which item i is always followed by item i+1, saves it and
// loads it back the way the command does. It returns the saved path and the
// loaded Recommender.
func tinyModel(tb testing.TB) (string, *backbone.Recommender) {
	tb.Helper()
	tinyOnce.Do(func() {
		tinyDir, tinyErr = os.MkdirTemp("", "serve-test-")
		if tinyErr != nil {
			return
		}
		rng := rand.New(rand.NewPCG(42, 1))
		var train [][]int
		for range 200 {
			start := 1 + rng.IntN(tinyItems-6)
			var s []int
			for j := range 6 {
				s = append(s, start+j)
			}
			train = append(train, s)
		}
		cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
		require.NoError(tb, cerr)
		cfg.Dim, cfg.MaxLen, cfg.Dropout = 16, 8, 0.1
		var enc *backbone.SASRec
		enc, tinyErr = backbone.NewSASRec(rng, cfg)
		if tinyErr != nil {
			return
		}
		var m *backbone.SeqModel
		m, tinyErr = backbone.NewSeqModel(enc, backbone.NewIDTable(rng, tinyItems, 16), backbone.ModelConfig{})
		if tinyErr != nil {
			return
		}
		tc := backbone.DefaultTrainConfig()
		tc.Epochs, tc.BatchSize, tc.LR = 60, 32, 5e-3
		if _, tinyErr = backbone.Train(context.Background(), m, train, tc, backbone.TrainOptions{}); tinyErr != nil {
			return
		}
		tinyPath = filepath.Join(tinyDir, "tiny.safetensors")
		if tinyErr = m.Save(tinyPath); tinyErr != nil {
			return
		}
		tinyRec, tinyErr = backbone.LoadRecommender(tinyPath)
	})
	require.NoError(tb, tinyErr)
	return tinyPath, tinyRec
}

// post sends body to /recommend on h with a JSON content type and returns
// the recorder.
func post(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/recommend", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

// decodeStrict decodes a response body into v, failing on unknown fields.
func decodeStrict(tb testing.TB, b []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(tb, dec.Decode(v), "body %q", b)
}
