package main

import (
	"github.com/llmrec/llmrec/backbone"

	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkRecommend measures one k=10 recommendation on the Beauty model
// (see TestLoad for which model) three ways, side by side: the library call
// alone (TopK), the handler in process (JSON decode, validation, TopK, JSON
// encode) and a full request over a loopback keep-alive connection.
//
//	go test ./examples/serve/ -run '^$' -bench Recommend -benchtime 2000x
func BenchmarkRecommend(b *testing.B) {
	path, histories, what := beautyModel(b)
	b.Logf("model: %s", what)
	rec, err := backbone.LoadRecommender(path)
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, len(histories))
	for i, h := range histories {
		bodies[i], _ = json.Marshal(map[string]any{"history": h, "k": 10, "exclude_history": true})
	}
	h := mustHandler(b, rec, defaultOptions())

	b.Run("TopK", func(b *testing.B) {
		i := 0
		for b.Loop() {
			hist := histories[i%len(histories)]
			if _, err := rec.TopK(hist, 10, hist); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("handler", func(b *testing.B) {
		i := 0
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/recommend", bytes.NewReader(bodies[i%len(bodies)]))
			req.Header.Set("Content-Type", "application/json")
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, req)
			if rr.Code != http.StatusOK {
				b.Fatal(rr.Code, rr.Body.String())
			}
			i++
		}
	})
	b.Run("loopback", func(b *testing.B) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		c := &http.Client{Timeout: 30 * time.Second}
		i := 0
		for b.Loop() {
			if _, err := doRecommend(b.Context(), c, srv.URL, bodies[i%len(bodies)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
