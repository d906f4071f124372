// Package servetest holds the small trained model that the serving tests
// (backbone/serve and examples/serve) share: a SASRec over TinyItems items
// trained on synthetic sequences in which item i is always followed by
// item i+1, so that a correct service has a known answer.
package servetest

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
)

// TinyItems is the item count of the tiny model; its item vectors are
// TinyDim wide and its window is TinyWindow.
const (
	TinyItems  = 20
	TinyDim    = 16
	TinyWindow = 8
)

// Train trains the tiny model (a second on one core) and saves it to
// dir/tiny.safetensors; it returns the path.
func Train(dir string) (string, error) {
	rng := rand.New(rand.NewPCG(42, 1))
	var train [][]int
	for range 200 {
		start := 1 + rng.IntN(TinyItems-6)
		var s []int
		for j := range 6 {
			s = append(s, start+j)
		}
		train = append(train, s)
	}
	cfg, err := backbone.DefaultEncoderConfig("sasrec")
	if err != nil {
		return "", err
	}
	cfg.Dim, cfg.MaxLen, cfg.Dropout = TinyDim, TinyWindow, 0.1
	enc, err := backbone.NewSASRec(rng, cfg)
	if err != nil {
		return "", err
	}
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, TinyItems, TinyDim), backbone.ModelConfig{Loss: backbone.LossBCE}) // the fixtures (norm bounds, added rows) were sized under BCE
	if err != nil {
		return "", err
	}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize, tc.LR = 60, 32, 5e-3
	if _, err := backbone.Train(context.Background(), m, train, tc, backbone.TrainOptions{}); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "tiny.safetensors")
	if err := m.Save(path); err != nil {
		return "", err
	}
	return path, nil
}

// TempModel trains the tiny model into a new temporary folder and returns
// the path and the folder (the caller removes it, typically in TestMain).
func TempModel() (path, dir string, err error) {
	dir, err = os.MkdirTemp("", "serve-test-")
	if err != nil {
		return "", "", err
	}
	path, err = Train(dir)
	return path, dir, err
}

// Tiny trains the tiny model once per test binary (a package-level
// variable of the test package) and hands out its path and Recommender.
type Tiny struct {
	once sync.Once
	path string
	dir  string
	rec  *backbone.Recommender
	err  error
}

// Get returns the saved model's path and the Recommender loaded from it,
// training it on first use; tests must not add items to the Recommender
// (they load their own copy).
func (t *Tiny) Get(tb testing.TB) (string, *backbone.Recommender) {
	tb.Helper()
	t.once.Do(func() {
		t.path, t.dir, t.err = TempModel()
		if t.err == nil {
			t.rec, t.err = backbone.LoadRecommender(t.path)
		}
	})
	if t.err != nil {
		tb.Fatalf("tiny model: %v", t.err)
	}
	return t.path, t.rec
}

// Cleanup removes the model's folder (call it from TestMain after m.Run).
func (t *Tiny) Cleanup() {
	if t.dir != "" {
		_ = os.RemoveAll(t.dir)
	}
}

// SaveOther writes a different SASRec model (numItems items, the tiny
// model's width and window, fresh weights drawn from seed) over path, as a
// training job publishing a new model would.
func SaveOther(path string, numItems int, seed uint64) error {
	rng := rand.New(rand.NewPCG(uint64(numItems), seed))
	cfg, err := backbone.DefaultEncoderConfig("sasrec")
	if err != nil {
		return err
	}
	cfg.Dim, cfg.MaxLen = TinyDim, TinyWindow
	enc, err := backbone.NewSASRec(rng, cfg)
	if err != nil {
		return err
	}
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, numItems, TinyDim), backbone.ModelConfig{Loss: backbone.LossBCE})
	if err != nil {
		return err
	}
	return m.Save(path)
}

// Post sends body to /recommend on h with a JSON content type and returns
// the recorder.
func Post(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/recommend", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

// DecodeStrict decodes a response body into v, failing the test on unknown
// fields.
func DecodeStrict(tb testing.TB, b []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("decoding body %q: %v", b, err)
	}
}
