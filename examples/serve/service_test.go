package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/internal/servetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyModel copies the tiny model and its config into a fresh folder (so
// that its added-items file is the test's own) and returns the new path.
func copyModel(t *testing.T) string {
	src, _ := tinyModel(t)
	dir := t.TempDir()
	dst := filepath.Join(dir, "m.safetensors")
	for _, p := range [][2]string{{src, dst}, {backbone.JSONPath(src), backbone.JSONPath(dst)}} {
		b, err := os.ReadFile(p[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p[1], b, 0o644))
	}
	return dst
}

// startServer runs the command on loopback and returns its URL and a
// function that stops it and returns run's error.
func startServer(t *testing.T, args ...string) (string, func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	errCh := make(chan error, 1)
	go func() {
		errCh <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, func(a string) { addrCh <- a })
	}()
	select {
	case addr := <-addrCh:
		return "http://" + addr, func() error { cancel(); return <-errCh }
	case err := <-errCh:
		cancel()
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not start within 60 s")
	}
	return "", nil
}

func postJSON(t *testing.T, c *http.Client, url, body string) (int, string) {
	return postAuth(t, c, url, "", body)
}

// postAuth posts body with a bearer token (none when token is "").
func postAuth(t *testing.T, c *http.Client, url, token, body string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func health(t *testing.T, c *http.Client, url string) serve.Health {
	resp, err := c.Get(url + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var h serve.Health
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&h))
	return h
}

// rows returns a JSON "embeddings" body of n rows of width d.
func rows(n, d int, v float64) string {
	var b strings.Builder
	b.WriteString(`{"embeddings":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j := range d {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%g", v*float64(1+(i+j)%3))
		}
		b.WriteByte(']')
	}
	b.WriteString(`]}`)
	return b.String()
}

// POST /items end to end on loopback: new items get the next ids, are
// recommended, are saved beside the model and served again after a
// restart; bad bodies get 400 and change nothing (neither the items served
// nor the saved file).
func TestItemsEndToEnd(t *testing.T) {
	path := copyModel(t)
	// writes are off without a token
	url, stop := startServer(t, "-model", path)
	c := &http.Client{Timeout: 30 * time.Second}
	require.False(t, health(t, c, url).Writes)
	code, body := postAuth(t, c, url+"/items", "anything", rows(2, 16, 0.5))
	require.Equal(t, http.StatusForbidden, code, body)
	require.NoError(t, stop())

	const token = "e2e-token"
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	url, stop = startServer(t, "-model", path, "-max-add-rows", "3", "-add-token-file", tokenFile)
	h := health(t, c, url)
	require.Equal(t, 20, h.Items)
	require.Equal(t, 16, h.EmbeddingDim)
	require.False(t, h.FromText)
	require.True(t, h.Writes)
	code, body = postJSON(t, c, url+"/items", rows(2, 16, 0.5))
	require.Equal(t, http.StatusUnauthorized, code, body)

	code, body = postAuth(t, c, url+"/items", token, rows(2, 16, 0.5))
	require.Equal(t, http.StatusOK, code, body)
	var got serve.ItemsResponse
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Equal(t, serve.ItemsResponse{IDs: []int{21, 22}, Items: 22, Persisted: true}, got)
	require.FileExists(t, serve.ItemsLogPath(path))
	saved, err := os.ReadFile(serve.ItemsLogPath(path))
	require.NoError(t, err)
	// the new ids are valid in histories and as answers
	code, body = postJSON(t, c, url+"/recommend", `{"history":[21,3,22],"k":22,"exclude_history":false}`)
	require.Equal(t, http.StatusOK, code, body)
	var rec serve.RecommendResponse
	require.NoError(t, json.Unmarshal([]byte(body), &rec))
	require.Len(t, rec.Items, 22)
	require.Contains(t, rec.Items, 22)

	for name, bad := range map[string]string{
		"wrong dimension":  rows(1, 15, 0.5),
		"ragged":           `{"embeddings":[[` + strings.Repeat("1,", 15) + `1],[1]]}`,
		"NaN literal":      `{"embeddings":[[NaN` + strings.Repeat(",1", 15) + `]]}`,
		"NaN string":       `{"embeddings":[["NaN"` + strings.Repeat(",1", 15) + `]]}`,
		"float32 overflow": `{"embeddings":[[1e39` + strings.Repeat(",1", 15) + `]]}`,
		"too many rows":    rows(4, 16, 0.5),
		"no rows":          `{"embeddings":[]}`,
		"missing field":    `{}`,
		"unknown field":    `{"embeddings":[],"vectors":[]}`,
		"trailing data":    rows(1, 16, 0.5) + `{}`,
	} {
		code, body := postAuth(t, c, url+"/items", token, bad)
		assert.Equal(t, http.StatusBadRequest, code, "%s: %s", name, body)
		assert.Contains(t, body, `"error"`, name)
	}
	assert.Equal(t, 22, health(t, c, url).Items)
	after, err := os.ReadFile(serve.ItemsLogPath(path))
	require.NoError(t, err)
	assert.Equal(t, saved, after, "a bad body changed the saved items")
	resp, err := c.Get(url + "/items")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.NoError(t, stop())

	// a restart serves the saved additions with the same ids and scores
	url, stop = startServer(t, "-model", path)
	require.Equal(t, 22, health(t, c, url).Items)
	code, body2 := postJSON(t, c, url+"/recommend", `{"history":[21,3,22],"k":22,"exclude_history":false}`)
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, body, body2)
	require.NoError(t, stop())
}

// saveOther writes a different model over path (servetest.SaveOther).
func saveOther(t *testing.T, path string, numItems int, seed uint64) {
	t.Helper()
	require.NoError(t, servetest.SaveOther(path, numItems, seed))
}

// Hot reload under load: 8 clients send requests without pause while the
// model file is replaced twice by models of other sizes (-watch picks each
// up); every request is answered 200, and the service ends up serving the
// last model. A corrupt file does not replace the model being served.
func TestHotReloadUnderLoad(t *testing.T) {
	path := copyModel(t)
	url, stop := startServer(t, "-model", path, "-watch", "20ms")
	c := &http.Client{Timeout: 30 * time.Second}
	var (
		wg      sync.WaitGroup
		ok, bad atomic.Int64
		done    = make(chan struct{})
		firstEr atomic.Value
	)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				body := fmt.Sprintf(`{"history":[%d,%d],"k":5}`, 1+(g+i)%20, 1+(g*3+i)%20)
				resp, err := c.Post(url+"/recommend", "application/json", strings.NewReader(body))
				if err != nil {
					bad.Add(1)
					firstEr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad.Add(1)
					firstEr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, b))
					continue
				}
				ok.Add(1)
			}
		})
	}
	waitItems := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for health(t, c, url).Items != n {
			require.True(t, time.Now().Before(deadline), "the service did not reload to %d items", n)
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	saveOther(t, path, 25, 2)
	waitItems(25)
	time.Sleep(200 * time.Millisecond)
	saveOther(t, path, 30, 2)
	waitItems(30)
	// a corrupt model file: the reload fails, the last model keeps serving
	require.NoError(t, os.WriteFile(path, []byte("not a model"), 0o644))
	time.Sleep(300 * time.Millisecond)
	close(done)
	wg.Wait()
	h := health(t, c, url)
	assert.Equal(t, 30, h.Items)
	assert.EqualValues(t, 2, h.Reloads)
	t.Logf("%d requests answered 200 during two reloads and a failed one", ok.Load())
	require.Zero(t, bad.Load(), "first failure: %v", firstEr.Load())
	require.Positive(t, ok.Load())

	resp, err := c.Get(url + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `llmrec_model_reloads_total{result="ok"} 2`)
	assert.Contains(t, string(b), `llmrec_model_reloads_total{result="error"}`)
	require.NoError(t, stop())
}

// GET /metrics is Prometheus text: requests by path and status, a latency
// histogram, the items served and the items added.
func TestMetricsEndToEnd(t *testing.T) {
	path := copyModel(t)
	t.Setenv("LLMREC_ADD_TOKEN", "env-token") // the token from the environment
	url, stop := startServer(t, "-model", path)
	defer func() { require.NoError(t, stop()) }()
	c := &http.Client{Timeout: 30 * time.Second}
	for range 3 {
		code, _ := postJSON(t, c, url+"/recommend", `{"history":[1,2]}`)
		require.Equal(t, http.StatusOK, code)
	}
	code, _ := postJSON(t, c, url+"/recommend", `{"history":[0]}`)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = postAuth(t, c, url+"/items", "env-token", rows(1, 16, 0.1))
	require.Equal(t, http.StatusOK, code)

	resp, err := c.Get(url + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text := string(b)
	for _, want := range []string{
		`llmrec_http_requests_total{code="200",path="/recommend"} 3`,
		`llmrec_http_requests_total{code="400",path="/recommend"} 1`,
		`llmrec_http_requests_total{code="200",path="/items"} 1`,
		`llmrec_http_request_duration_seconds_count{path="/recommend"} 4`,
		`llmrec_http_request_duration_seconds_bucket{path="/recommend",le="+Inf"} 4`,
		"llmrec_items_served 21",
		"llmrec_items_added_total 1",
	} {
		assert.Contains(t, text, want)
	}
	assert.True(t, bytes.Contains(b, []byte("# TYPE llmrec_http_request_duration_seconds histogram")))
}

// A reload that cannot keep the added items is refused end to end: the old
// model keeps serving its added items, the log says why, and /metrics
// counts it as refused (issue 21).
func TestReloadRefusedEndToEnd(t *testing.T) {
	path := copyModel(t)
	t.Setenv("LLMREC_ADD_TOKEN", "tok")
	url, stop := startServer(t, "-model", path, "-watch", "20ms")
	defer func() { require.NoError(t, stop()) }()
	c := &http.Client{Timeout: 30 * time.Second}
	code, body := postAuth(t, c, url+"/items", "tok", rows(2, 16, 0.05))
	require.Equal(t, http.StatusOK, code, body)
	saveOther(t, path, 20, 11) // same size, other weights: the item vectors cannot follow
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(url + "/metrics")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `llmrec_model_reloads_total{result="refused"} 1`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "no refused reload counted")
		time.Sleep(20 * time.Millisecond)
	}
	h := health(t, c, url)
	require.Equal(t, 22, h.Items)
	require.Equal(t, 2, h.Added)
	require.Zero(t, h.Reloads)
	// the refused version is not retried on every tick
	time.Sleep(200 * time.Millisecond)
	resp, err := c.Get(url + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), "llmrec_model_reloads_total{result=\"refused\"} 1\n")
}
