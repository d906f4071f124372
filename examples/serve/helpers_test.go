package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/internal/servetest"
)

const tinyItems = servetest.TinyItems

var tiny servetest.Tiny

func TestMain(m *testing.M) {
	code := m.Run()
	tiny.Cleanup()
	os.Exit(code)
}

// tinyModel returns the shared tiny model (internal/servetest): its saved
// path and the Recommender loaded from it, which tests must not add items
// to (they Open their own copy).
func tinyModel(tb testing.TB) (string, *backbone.Recommender) {
	tb.Helper()
	return tiny.Get(tb)
}

// mustHandler is serve.New, which must succeed.
func mustHandler(tb testing.TB, rec *backbone.Recommender, opt serve.Options) *serve.Handler {
	tb.Helper()
	h, err := serve.New(rec, opt)
	require.NoError(tb, err)
	return h
}

func post(h http.Handler, body string) *httptest.ResponseRecorder { return servetest.Post(h, body) }

func decodeStrict(tb testing.TB, b []byte, v any) { servetest.DecodeStrict(tb, b, v) }
