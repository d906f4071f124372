// Command serve answers recommendation requests over HTTP with JSON for a
// saved model (a .safetensors file with its .json config beside it): a
// backbone.SeqModel, as written by examples/sasrec -out, or a PAD phase-3
// moe.Mixture, as written by examples/pad -out:
//
//	go run ./examples/sasrec -data ../shared/data/amazon-beauty -epochs 5 -out beauty.safetensors
//	go run ./examples/serve -model beauty.safetensors [-addr 127.0.0.1:8080] [-max-k 100] [-max-body 64KiB] [-max-history 1000]
//	    [-llm ../shared/data/amazon-beauty/item_emb_use_lite_512.npy] [-watch 2s] [-max-add-rows 1000] [-max-items-body 16MiB]
//
//	go run ./examples/pad -data ../shared/data/amazon-pantry -seeds 1 -out pad.safetensors
//	go run ./examples/serve -model pad.safetensors
//
// The kind of model is read from the checkpoint's metadata (moe.IsCheckpoint)
// and both kinds are served by the same handler through a
// backbone.Recommender (backbone.LoadRecommender or moe.LoadRecommender).
//
// Endpoints:
//
//	POST /recommend  {"history": [12, 7, 301], "k": 10, "exclude_history": true}
//	              -> {"items": [...], "scores": [...]}   items best first, ids as in the dataset
//	GET  /healthz    -> {"status": "ok", "items": 12101, "dim": 64, "max_k": 100, ...}
//
//	POST /items      {"embeddings": [[0.1, ...], ...]}
//	              -> {"ids": [12102, ...], "items": 12103, "persisted": true}
//	GET  /metrics    Prometheus text format
//
// ("dim", the width of the item vectors, is given for a SeqModel only: a
// mixture's experts each have their own.)
//
// New items, without retraining: POST /items adds one item per row and
// answers their ids (they continue after the model's items). With -llm
// FILE.npy (the raw LLM embeddings of the model's items, row i = item i)
// a row is a new item's raw LLM embedding, turned into item vectors by
// backbone.NewItemEncoder (an adapter is run; an ID table gets a ridge map
// fit on its trained rows; a PAD mixture uses each expert's text path and
// its coldest popularity bin); without it a row is an item vector of the
// model's width ("embedding_dim" in /healthz). Rows are checked before
// anything changes (at most -max-add-rows rows, -max-items-body bytes, the
// right width, finite float32 values: 400 otherwise); requests in flight
// are not blocked (the library swaps a copy-on-write snapshot). All
// additions are saved atomically beside the model (NAME.items.safetensors)
// and served again after a restart or reload of the same model.
//
// Hot reload: on SIGHUP, or with -watch DURATION whenever the model file's
// size or modification time changes, the model is loaded, checked and
// swapped in atomically; requests in flight finish on the old model and
// none is dropped (tested under 8 concurrent clients). A file that fails
// to load leaves the old model serving (logged; counted in /metrics).
//
// /metrics (github.com/prometheus/client_golang, in this example only; the
// library packages do not import it): llmrec_http_requests_total{path,code},
// llmrec_http_request_duration_seconds{path} (histogram),
// llmrec_items_served, llmrec_items_added_total,
// llmrec_model_reloads_total{result}, and the Go and process collectors.
//
// "history" is required and must hold 1..max-history item ids in 1..items,
// oldest first (an empty history is a 400: the model has nothing to encode
// and would rank every item equally). "k" defaults to 10 (or max-k when
// smaller) and must be in 1..max-k; "exclude_history" defaults to true. Every error is a JSON
// {"error": "..."} saying what is wrong: 400 for malformed JSON, unknown
// fields, wrong types, out-of-range ids or k; 413 for a body over -max-body;
// 405 for a wrong method; 415 for a Content-Type other than
// application/json; 404 for other paths. Item ids and empty histories are
// checked by the library: the handler maps its errors with errors.Is,
// backbone.ErrItemOutOfRange and backbone.ErrEmptyHistory to 400 and
// anything else (backbone.ErrNonFinite: a NaN or infinite score) to 500.
//
// The command refuses to start, with a one-line error and exit status 2,
// on a model it cannot serve: a malformed or truncated file, sizes beyond
// what the file holds, unknown config fields or out-of-range values,
// non-finite weights (all rejected by the loaders, wrapping
// backbone.ErrBadCheckpoint, ErrBadConfig or ErrNonFinite), or weights
// that load but give a NaN or infinite score for a one-item history.
//
// The server sets read, write and idle timeouts, logs one line per request
// to stderr (log/slog), and on SIGTERM or SIGINT stops accepting
// connections and lets requests in flight finish (up to -shutdown-timeout).
//
// # Measured serving figures
//
// Amazon Beauty (12,101 items), SASRec d=64, window 50, 2 blocks, trained 5
// epochs by examples/sasrec (the first command above); requests are real
// user histories from Beauty.txt, k=10 with exclude_history; 8 concurrent
// keep-alive clients on loopback against one model, 8 x 500 requests;
// GOMAXPROCS=2 on a 2-core machine that other jobs were loading at the time
// (load average about 14), so these are pessimistic. Three runs:
//
//	throughput 704-752 req/s, p50 7.9-9.3 ms, p90 22.4-23.5 ms, p99 34-39 ms
//
// Reproduce with
//
//	LLMREC_SERVE_MODEL=beauty.safetensors go test ./examples/serve/ -count=1 -run TestLoad -v
//
// (without LLMREC_SERVE_MODEL the test trains a 1-epoch Beauty model
// itself, which serves at the same cost; with -short it load-tests a tiny
// synthetic model instead). Per-request cost, serially, side by side:
//
//	go test ./examples/serve/ -run '^$' -bench Recommend -benchtime 2000x -benchmem
//
// On the loaded machine these vary by 2x from run to run (TopK alone 0.9-1.3
// ms, handler 1.0-1.8 ms, loopback 0.5-1.7 ms per request, load average
// 14-19); a CPU profile of the handler benchmark puts about 90% of the time
// in Recommender.TopK (72% in its per-item dot products over the 12,101
// item vectors) and only a few percent in JSON decoding and encoding, so
// serving cost is the model's, not the service's.
//
// The handler is fuzzed on the request body (no panic, only 200/400/413,
// and every 200 checked against an independent reading of the request);
// a 90 s run (about 780,000 bodies) found no crash:
//
//	go test ./examples/serve/ -run '^$' -fuzz '^FuzzRecommend$' -fuzztime 90s -parallel 1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/moe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			// one line, whatever the error says
			fmt.Fprintln(os.Stderr, "serve:", strings.Join(strings.Fields(err.Error()), " "))
		}
		stop()
		os.Exit(2)
	}
}

// options are the command-line flags.
type options struct {
	model           string
	addr            string
	lim             limits
	shutdownTimeout time.Duration
	llm             string
	watch           time.Duration
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{lim: defaultLimits()}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", "", "saved model (.safetensors with its .json beside it)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.IntVar(&o.lim.MaxK, "max-k", o.lim.MaxK, "largest k a request may ask for")
	fs.Var((*byteSize)(&o.lim.MaxBody), "max-body", "largest request body (bytes; suffixes KiB, MiB, KB, MB)")
	fs.IntVar(&o.lim.MaxHistory, "max-history", o.lim.MaxHistory, "longest history a request may send")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long requests in flight may take to finish on SIGTERM")
	fs.StringVar(&o.llm, "llm", "", "raw LLM embeddings of the model's items (.npy, row i = item i): POST /items then takes LLM embeddings")
	fs.DurationVar(&o.watch, "watch", 0, "reload the model when its file changes, checking this often (0: only on SIGHUP)")
	fs.IntVar(&o.lim.MaxAddRows, "max-add-rows", o.lim.MaxAddRows, "most items one POST /items may add")
	fs.Var((*byteSize)(&o.lim.MaxItemsBody), "max-items-body", "largest POST /items body (bytes; suffixes as -max-body)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.model == "":
		return nil, errors.New("-model is required")
	case o.lim.MaxK < 1:
		return nil, fmt.Errorf("-max-k %d: want >= 1", o.lim.MaxK)
	case o.lim.MaxBody < 1:
		return nil, fmt.Errorf("-max-body %d: want >= 1", o.lim.MaxBody)
	case o.lim.MaxHistory < 1:
		return nil, fmt.Errorf("-max-history %d: want >= 1", o.lim.MaxHistory)
	case o.shutdownTimeout <= 0:
		return nil, fmt.Errorf("-shutdown-timeout %v: want > 0", o.shutdownTimeout)
	case o.watch < 0:
		return nil, fmt.Errorf("-watch %v: want >= 0", o.watch)
	case o.lim.MaxAddRows < 1 || o.lim.MaxItemsBody < 1:
		return nil, fmt.Errorf("-max-add-rows %d, -max-items-body %d: want >= 1", o.lim.MaxAddRows, o.lim.MaxItemsBody)
	}
	return o, nil
}

// run loads the model, serves until ctx is done, then shuts down
// gracefully. ready, when not nil, is called with the listening address.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	start := time.Now()
	svc, err := newFileService(o.model, o.llm, log)
	if err != nil {
		return err
	}
	sv := svc.cur.Load()
	rec, kind := sv.rec, sv.kind
	attrs := []any{"path", o.model, "kind", kind, "items", rec.NumItems(), "add_width", sv.embDim, "from_text", sv.fromText}
	if d := itemDim(rec); d > 0 { // a mixture has no single item width
		attrs = append(attrs, "dim", d)
	}
	log.Info("model loaded", append(attrs, "took", time.Since(start).Round(time.Millisecond))...)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	h := newServiceHandler(svc, o.lim)
	m := newMetrics(svc)
	h.metrics = m.handler()
	srv := &http.Server{
		Handler:           logRequests(m.instrument(h), log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "max_k", o.lim.MaxK, "max_body", o.lim.MaxBody, "max_history", o.lim.MaxHistory)
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	if o.watch > 0 {
		go svc.watch(o.watch, stopWatch)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-stopWatch:
				return
			case <-hup:
				if err := svc.reload(); err != nil {
					log.Error("reload failed; the previous model keeps serving", "path", o.model, "err", err)
				}
			}
		}
	}()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// loadRecommender loads the model saved at path, a backbone.SeqModel or a
// moe.Mixture (told apart by moe.IsCheckpoint), as the Recommender that
// serves it, and says which kind it is ("backbone" or "moe").
func loadRecommender(path string) (*backbone.Recommender, string, error) {
	isMoE, err := moe.IsCheckpoint(path)
	if err != nil {
		return nil, "", err
	}
	if isMoE {
		rec, err := moe.LoadRecommender(path)
		return rec, "moe", err
	}
	rec, err := backbone.LoadRecommender(path)
	return rec, "backbone", err
}

// checkServable scores every item for a one-item history and returns an
// error (wrapping backbone.ErrNonFinite) when a score is NaN or infinite: a
// model whose weights load but overflow (say, weights of ±3e38) would
// otherwise answer every request with a 500. The loaders already reject
// malformed files and non-finite weights; this catches what only running
// the model shows.
func checkServable(rec *backbone.Recommender) error {
	out := make([]float32, rec.NumItems()+1)
	if err := rec.ScoreAll([][]int{{1}}, out); err != nil {
		return err
	}
	for it, v := range out[1:] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("probe history [1]: item %d scores %v: %w", it+1, v, backbone.ErrNonFinite)
		}
	}
	return nil
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// logRequests logs one line per request: Debug for successes, Info for
// client errors, Error for server errors.
func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		level := slog.LevelDebug
		switch {
		case sw.status >= 500:
			level = slog.LevelError
		case sw.status >= 400:
			level = slog.LevelInfo
		}
		log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"remote", r.RemoteAddr, "took", time.Since(start))
	})
}

// byteSize is a flag.Value for a size in bytes with an optional unit.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

// parseByteSize reads "65536", "64KiB", "64KB", "1MiB", "1MB", "2GiB" (units
// are case-insensitive; "K", "M", "G" alone are binary).
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	}
	mult := int64(1)
	lower := strings.ToLower(t)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a non-negative integer with an optional unit (KiB, MiB, KB, MB)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}
