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
	"sync"
	"testing"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/require"
)

// TestLoad is a bounded load test on loopback: 8 concurrent keep-alive
// clients each send a fixed number of POST /recommend requests (k=10,
// exclude_history) to one model behind a real listener on 127.0.0.1:0, with
// a time cap; it reports throughput and latency percentiles with t.Log and
// checks every answer, never the timing.
//
// With -short it serves the tiny synthetic model (8 x 50 requests). Without
// it serves an Amazon Beauty model (12,101 items, SASRec d=64, window 50,
// 2 blocks) with real user histories from Beauty.txt, 8 x 500 requests: the
// model saved at $LLMREC_SERVE_MODEL if set (e.g. one trained by
// examples/sasrec -out), else one trained here for 1 epoch (the cost of a
// request does not depend on how long the model was trained).
func TestLoad(t *testing.T) {
	const clients = 8
	perClient, timeCap := 500, 3*time.Minute
	var rec *backbone.Recommender
	var histories [][]int
	var what string
	if testing.Short() {
		perClient = 50
		_, rec = tinyModel(t)
		rng := rand.New(rand.NewPCG(7, 7))
		for range 100 {
			h := make([]int, 1+rng.IntN(8))
			for j := range h {
				h[j] = 1 + rng.IntN(tinyItems)
			}
			histories = append(histories, h)
		}
		what = "tiny synthetic model (20 items, d=16)"
	} else {
		rec, histories, what = beautyModel(t)
	}
	srv := httptest.NewServer(mustHandler(t, rec, defaultOptions()))
	defer srv.Close()

	bodies := make([][]byte, len(histories))
	for i, h := range histories {
		b, err := json.Marshal(map[string]any{"history": h, "k": 10, "exclude_history": true})
		require.NoError(t, err)
		bodies[i] = b
	}
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), timeCap)
	defer cancel()

	// warm up: one request per client connection
	for c := 0; c < clients; c++ {
		_, err := doRecommend(ctx, client, srv.URL, bodies[c%len(bodies)])
		require.NoError(t, err)
	}

	lat := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[c] = make([]time.Duration, 0, perClient)
			for i := 0; i < perClient && ctx.Err() == nil; i++ {
				body := bodies[(c*perClient+i)%len(bodies)]
				t0 := time.Now()
				n, err := doRecommend(ctx, client, srv.URL, body)
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
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
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
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	t.Logf("load: %s; %d clients x %d requests (k=10, exclude_history) on loopback, GOMAXPROCS=%d",
		what, clients, perClient, gomaxprocs())
	t.Logf("load: %d requests in %v: throughput %.0f req/s, latency p50 %v p90 %v p99 %v max %v",
		len(all), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond),
		pct(0.99).Round(10*time.Microsecond), all[len(all)-1].Round(10*time.Microsecond))
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

// beautyModel returns a Recommender for Amazon Beauty (see TestLoad) and
// request histories: the users' full sequences, capped at the default
// -max-history.
func beautyModel(t testing.TB) (*backbone.Recommender, [][]int, string) {
	t.Helper()
	dir := sharedtest.Dir(t, "amazon-beauty")
	fo, err := data.LoadDir(dir, data.Options{})
	require.NoError(t, err)
	ds := fo.Dataset
	var histories [][]int
	for _, s := range ds.Seqs {
		if len(s) > 0 {
			histories = append(histories, s[max(0, len(s)-defaultOptions().MaxHistory):])
		}
	}
	rng := rand.New(rand.NewPCG(3, 3))
	rng.Shuffle(len(histories), func(i, j int) { histories[i], histories[j] = histories[j], histories[i] })

	if p := os.Getenv("LLMREC_SERVE_MODEL"); p != "" {
		rec, err := backbone.LoadRecommender(p)
		require.NoError(t, err)
		require.Equal(t, ds.NumItems, rec.NumItems(), "LLMREC_SERVE_MODEL is not a Beauty model")
		return rec, histories, fmt.Sprintf("Beauty model %s (%d items, d=%d)", filepath.Base(p), rec.NumItems(), rec.ItemVectors().Shape[1])
	}
	split := data.LeaveOneOut(ds)
	mrng := rand.New(rand.NewPCG(42, 1))
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	require.NoError(t, err)
	enc, err := backbone.NewSASRec(mrng, cfg)
	require.NoError(t, err)
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(mrng, split.NumItems, enc.Dim()), backbone.ModelConfig{})
	require.NoError(t, err)
	tc := backbone.DefaultTrainConfig()
	tc.Epochs = 1
	_, err = backbone.Train(context.Background(), m, split.Train, tc, backbone.TrainOptions{})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "beauty.safetensors")
	require.NoError(t, m.Save(path))
	rec, err := backbone.LoadRecommender(path)
	require.NoError(t, err)
	return rec, histories, fmt.Sprintf("Beauty SASRec trained 1 epoch here (%d items, d=%d)", rec.NumItems(), enc.Dim())
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }
