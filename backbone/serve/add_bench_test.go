package serve

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmrec/llmrec/tensor"
)

// BenchmarkAddItems measures one POST /items of 1,000 item vectors through
// the handler (decode, checks, items log, swap), on the model at
// LLMREC_SERVE_MODEL (a Beauty SASRec: examples/sasrec -out) or the tiny one.
//
//	LLMREC_SERVE_MODEL=beauty.safetensors go test ./backbone/serve -run '^$' -bench AddItems -benchtime 40x
func BenchmarkAddItems(b *testing.B) {
	src := os.Getenv("LLMREC_SERVE_MODEL")
	if src == "" {
		src, _ = tinyModel(b)
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "m.safetensors")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	h, err := Open(path, Options{AddToken: token, MaxAdded: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	d := h.Recommender().ItemVectors().Cols()
	rows := tensor.New(1000, d)
	for i := range rows.Data {
		rows.Data[i] = 0.01 * float32(i%7-3)
	}
	body := rowsJSON(rows)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if rr := postItems(h, token, body); rr.Code != http.StatusOK {
			b.Fatal(rr.Code, rr.Body.String())
		}
	}
	b.ReportMetric(float64(h.NumItems()), "items")
}
