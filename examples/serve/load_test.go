package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/require"
)

// TestLoad is a bounded load test on loopback: concurrent keep-alive
// clients (16; LLMREC_SERVE_CLIENTS) each send a fixed number of POST
// /recommend requests (k=10, exclude_history; LLMREC_SERVE_REQUESTS each)
// to one model behind a real listener, with a time cap; it reports
// throughput and latency percentiles with t.Log and checks every answer,
// never the timing. With LLMREC_SERVE_ADDS=N, one more client adds N items
// (POST /items, bearer token LLMREC_ADD_TOKEN) every 100 ms while the
// others run, and the add latencies are reported too.
//
// With -short it serves the tiny synthetic model (50 requests per client).
// Without it the requests are real user histories from Amazon Beauty
// (12,101 items) sent to the server at LLMREC_SERVE_URL if set (any server
// with these routes, e.g. this command or an older build of it: the same
// tool measures both side by side), else to this package's handler in
// process over the model saved at LLMREC_SERVE_MODEL, else over a SASRec
// (d=64, window 50, 2 blocks) trained here for 1 epoch (the cost of a
// request does not depend on how long the model was trained).
func TestLoad(t *testing.T) {
	clients, perClient, timeCap := envInt("LLMREC_SERVE_CLIENTS", 16), envInt("LLMREC_SERVE_REQUESTS", 300), 3*time.Minute
	addRows := envInt("LLMREC_SERVE_ADDS", 0)
	token := os.Getenv("LLMREC_ADD_TOKEN")
	if token == "" {
		token = "load-test"
	}
	var histories [][]int
	var what, url string
	if testing.Short() {
		perClient = min(perClient, 50)

		rng := rand.New(rand.NewPCG(7, 7))
		for range 100 {
			h := make([]int, 1+rng.IntN(8))
			for j := range h {
				h[j] = 1 + rng.IntN(tinyItems)
			}
			histories = append(histories, h)
		}
		url, what = inProcess(t, copyModel(t), token), "tiny synthetic model (20 items, d=16)"
	} else if url = os.Getenv("LLMREC_SERVE_URL"); url != "" {
		histories = beautyHistories(t)
		what = "the server at " + url
	} else {
		var path string
		path, histories, what = beautyModel(t)
		url = inProcess(t, path, token)
	}

	bodies := make([][]byte, len(histories))
	for i, h := range histories {
		b, err := json.Marshal(map[string]any{"history": h, "k": 10, "exclude_history": true})
		require.NoError(t, err)
		bodies[i] = b
	}
	tr := &http.Transport{MaxIdleConns: clients + 1, MaxIdleConnsPerHost: clients + 1, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), timeCap)
	defer cancel()

	// warm up: one request per client connection
	for c := range clients {
		_, err := doRecommend(ctx, client, url, bodies[c%len(bodies)])
		require.NoError(t, err)
	}

	lat := make([][]time.Duration, clients)
	errs := make([]error, clients+1)
	var wg sync.WaitGroup
	done := make(chan struct{})
	var addLat []time.Duration
	if addRows > 0 {
		width := healthOf(t, client, url).EmbeddingDim
		require.Positive(t, width, "the server takes no items")
		body := itemsBody(addRows, width)
		wg.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				t0 := time.Now()
				if err := doAdd(ctx, client, url, token, body); err != nil {
					if ctx.Err() == nil {
						errs[clients] = err
					}
					return
				}
				addLat = append(addLat, time.Since(t0))
			}
		})
	}
	start := time.Now()
	var cwg sync.WaitGroup
	for c := range clients {
		cwg.Go(func() {
			lat[c] = make([]time.Duration, 0, perClient)
			for i := 0; i < perClient && ctx.Err() == nil; i++ {
				body := bodies[(c*perClient+i)%len(bodies)]
				t0 := time.Now()
				n, err := doRecommend(ctx, client, url, body)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() == nil {
						errs[c] = err
					}
					return
				}
				if n != 10 {
					errs[c] = fmt.Errorf("got %d items, want 10", n)
					return
				}
				lat[c] = append(lat[c], d)
			}
		})
	}
	cwg.Wait()
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	all := slices.Concat(lat...)
	if ctx.Err() != nil {
		t.Logf("time cap of %v reached: %d of %d requests done", timeCap, len(all), clients*perClient)
	} else {
		require.Len(t, all, clients*perClient)
	}
	require.NotEmpty(t, all)
	t.Logf("load: %s; %d clients x %d requests (k=10, exclude_history) on loopback, GOMAXPROCS=%d",
		what, clients, perClient, gomaxprocs())
	t.Logf("load: %d requests in %v: throughput %.0f req/s, latency %s",
		len(all), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(), percentiles(all))
	if addRows > 0 {
		require.NotEmpty(t, addLat, "no addition completed")
		t.Logf("load: %d additions of %d items beside them, latency %s; the server serves %d items now",
			len(addLat), addRows, percentiles(addLat), healthOf(t, client, url).Items)
	}
}

// percentiles formats p50, p90, p99 and the maximum of ds (sorted here).
func percentiles(ds []time.Duration) string {
	slices.Sort(ds)
	pct := func(p float64) time.Duration {
		return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %v p90 %v p99 %v max %v", pct(0.5), pct(0.9), pct(0.99), ds[len(ds)-1].Round(10*time.Microsecond))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// inProcess serves the model at path with this package's handler (writes
// enabled with token) on a loopback listener and returns its URL.
func inProcess(t *testing.T, path, token string) string {
	h, err := serve.Open(path, serve.Options{AddToken: token, Load: loadModel})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// healthOf reads GET /healthz.
func healthOf(t *testing.T, c *http.Client, url string) serve.Health {
	resp, err := c.Get(url + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var h serve.Health
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&h))
	return h
}

// itemsBody returns a POST /items body of n small rows of width d.
func itemsBody(n, d int) []byte {
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range rows[i] {
			rows[i][j] = 0.01 * float32(1+(i+j)%5)
		}
	}
	b, _ := json.Marshal(map[string]any{"embeddings": rows})
	return b
}

// doAdd sends one POST /items.
func doAdd(ctx context.Context, c *http.Client, url, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/items", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /items: status %d: %s", resp.StatusCode, b)
	}
	return nil
}

// doRecommend sends one request and returns the number of items answered.
func doRecommend(ctx context.Context, c *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/recommend", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var r serve.RecommendResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, err
	}
	if len(r.Scores) != len(r.Items) {
		return 0, fmt.Errorf("%d items, %d scores", len(r.Items), len(r.Scores))
	}
	return len(r.Items), nil
}

// beautyHistories returns request histories for Amazon Beauty: the users'
// full sequences (shuffled), capped at the default -max-history.
func beautyHistories(t testing.TB) [][]int {
	t.Helper()
	fo, err := data.LoadDir(sharedtest.Dir(t, "amazon-beauty"), data.Options{})
	require.NoError(t, err)
	var histories [][]int
	for _, s := range fo.Dataset.Seqs {
		if len(s) > 0 {
			histories = append(histories, s[max(0, len(s)-defaultOptions().MaxHistory):])
		}
	}
	rng := rand.New(rand.NewPCG(3, 3))
	rng.Shuffle(len(histories), func(i, j int) { histories[i], histories[j] = histories[j], histories[i] })
	return histories
}

// beautyModel returns the path of a Beauty model (see TestLoad), request
// histories and what the model is.
func beautyModel(t testing.TB) (string, [][]int, string) {
	t.Helper()
	histories := beautyHistories(t)
	if p := os.Getenv("LLMREC_SERVE_MODEL"); p != "" {
		return p, histories, "Beauty model " + filepath.Base(p)
	}
	fo, err := data.LoadDir(sharedtest.Dir(t, "amazon-beauty"), data.Options{})
	require.NoError(t, err)
	split := data.LeaveOneOut(fo.Dataset)
	mrng := rand.New(rand.NewPCG(42, 1))
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	require.NoError(t, err)
	enc, err := backbone.NewSASRec(mrng, cfg)
	require.NoError(t, err)
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(mrng, split.NumItems, enc.Dim()), backbone.ModelConfig{Loss: backbone.LossBCE})
	require.NoError(t, err)
	tc := backbone.DefaultTrainConfig()
	tc.Epochs = 1
	_, err = backbone.Train(context.Background(), m, split.Train, tc, backbone.TrainOptions{})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "beauty.safetensors")
	require.NoError(t, m.Save(path))
	return path, histories, fmt.Sprintf("Beauty SASRec trained 1 epoch here (%d items, d=%d)", split.NumItems, enc.Dim())
}

// gomaxprocs returns GOMAXPROCS.
func gomaxprocs() int { return runtime.GOMAXPROCS(0) }
