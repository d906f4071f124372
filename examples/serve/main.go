// Command serve answers recommendation requests over HTTP with JSON for a
// saved model: a backbone.SeqModel, as written by examples/sasrec -out, or a
// PAD phase-3 moe.Mixture, as written by examples/pad -out. It is a thin
// main around the library package backbone/serve, which holds the handler,
// the checks on writes and the items log (go doc ./backbone/serve is the
// user's guide); this command adds flags, a loader that tells the two
// model kinds apart (moe.IsCheckpoint), Prometheus metrics and signals:
//
//	go run ./examples/sasrec -data ../shared/data/amazon-beauty -epochs 5 -out beauty.safetensors
//	go run ./examples/serve -model beauty.safetensors [-addr 127.0.0.1:8080] [-max-k 100] [-max-body 64KiB] [-max-history 1000]
//	    [-llm ../shared/data/amazon-beauty/item_emb_use_lite_512.npy] [-watch 2s]
//	    [-add-token-file token.txt] [-max-add-rows 1000] [-max-items-body 16MiB] [-max-added 10000]
//
//	go run ./examples/pad -data ../shared/data/amazon-pantry -seeds 1 -out pad.safetensors
//	go run ./examples/serve -model pad.safetensors
//
// Endpoints (see backbone/serve for the bodies and every status):
//
//	POST /recommend  {"history": [12, 7, 301], "k": 10, "exclude_history": true}
//	              -> {"items": [...], "scores": [...]}
//	GET  /healthz    -> {"status": "ok", "items": 12101, "dim": 64, "max_k": 100, "writes": false, ...}
//	POST /items      Authorization: Bearer <token>   {"embeddings": [[0.1, ...], ...]}
//	              -> {"ids": [12102, ...], "items": 12103, "persisted": true}
//	GET  /metrics    Prometheus text format
//
// What each endpoint exposes: /recommend and /healthz are open (rankings
// and scores of the model; sizes and limits). /metrics is open (request
// counts and latencies, items served and added, reloads, Go and process
// statistics): bind -addr to a private interface if that matters.
// POST /items changes the catalog: it is off (403) unless a token is given
// with -add-token-file FILE (or the LLMREC_ADD_TOKEN environment
// variable, so that it does not show in the process list), and then needs
// "Authorization: Bearer <token>". With -llm FILE.npy (the raw LLM
// embeddings of the model's items, row i = item i) a row is a new item's
// raw LLM embedding; without it a row is an item vector of the model's
// width ("embedding_dim" in /healthz). Rows are checked before anything is
// committed (streamed decoding with -max-add-rows and the width, finite
// values, a norm bound from the trained items, probe histories); at most
// -max-added items may be added. Additions are appended to
// NAME.items.jsonl beside the model and re-encoded through every model
// reloaded later; a model that cannot keep them is refused and the old one
// keeps serving (logged, and counted in llmrec_model_reloads_total{result="refused"}).
//
// Hot reload: on SIGHUP, or with -watch DURATION whenever the model file's
// size or modification time changes, the model is loaded, checked and
// swapped in atomically; requests in flight finish on the old model and
// none is dropped. A file that fails to load leaves the old model serving
// (logged; counted in /metrics), and is not retried until it changes.
//
// /metrics (github.com/prometheus/client_golang, in this example only; the
// library implements no metrics client, it calls serve.Metrics):
// llmrec_http_requests_total{path,code},
// llmrec_http_request_duration_seconds{path} (histogram),
// llmrec_items_served, llmrec_items_added_total,
// llmrec_model_reloads_total{result}, and the Go and process collectors.
//
// The command refuses to start, with a one-line error and exit status 2,
// on a model it cannot serve: a malformed or truncated file, sizes beyond
// what the file holds, unknown config fields or out-of-range values,
// non-finite weights (all rejected by the loaders), weights that load but
// give a NaN or infinite score for probe histories of several lengths up
// to the window, or an items log the model cannot keep.
//
// The server sets read, write and idle timeouts, logs one line per request
// to stderr (log/slog, from the serve.Metrics calls), and on SIGTERM or SIGINT stops accepting
// connections and lets requests in flight finish (up to -shutdown-timeout).
//
// Measured serving figures (the library's handler against the service of
// the commit before it, side by side) are in README.md beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/tensor"
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
	opt             serve.Options
	shutdownTimeout time.Duration
	llm             string
	watch           time.Duration
	tokenFile       string
}

// defaultOptions are the flag defaults: the library's.
func defaultOptions() serve.Options {
	return serve.Options{MaxK: 100, MaxBody: 64 << 10, MaxHistory: 1000, MaxItemsBody: 16 << 20, MaxAddRows: 1000, MaxAdded: 10000}
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{opt: defaultOptions()}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", "", "saved model (.safetensors)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.IntVar(&o.opt.MaxK, "max-k", o.opt.MaxK, "largest k a request may ask for")
	fs.Var((*byteSize)(&o.opt.MaxBody), "max-body", "largest request body (bytes; suffixes KiB, MiB, KB, MB)")
	fs.IntVar(&o.opt.MaxHistory, "max-history", o.opt.MaxHistory, "longest history a request may send")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long requests in flight may take to finish on SIGTERM")
	fs.StringVar(&o.llm, "llm", "", "raw LLM embeddings of the model's items (.npy, row i = item i): POST /items then takes LLM embeddings")
	fs.DurationVar(&o.watch, "watch", 0, "reload the model when its file changes, checking this often (0: only on SIGHUP)")
	fs.StringVar(&o.tokenFile, "add-token-file", "", "file holding the bearer token that enables POST /items (or set LLMREC_ADD_TOKEN); without one, writes are off")
	fs.IntVar(&o.opt.MaxAddRows, "max-add-rows", o.opt.MaxAddRows, "most items one POST /items may add")
	fs.Var((*byteSize)(&o.opt.MaxItemsBody), "max-items-body", "largest POST /items body (bytes; suffixes as -max-body)")
	fs.IntVar(&o.opt.MaxAdded, "max-added", o.opt.MaxAdded, "most items that may be added to the model in all")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.model == "":
		return nil, errors.New("-model is required")
	case o.opt.MaxK < 1:
		return nil, fmt.Errorf("-max-k %d: want >= 1", o.opt.MaxK)
	case o.opt.MaxBody < 1:
		return nil, fmt.Errorf("-max-body %d: want >= 1", o.opt.MaxBody)
	case o.opt.MaxHistory < 1:
		return nil, fmt.Errorf("-max-history %d: want >= 1", o.opt.MaxHistory)
	case o.shutdownTimeout <= 0:
		return nil, fmt.Errorf("-shutdown-timeout %v: want > 0", o.shutdownTimeout)
	case o.watch < 0:
		return nil, fmt.Errorf("-watch %v: want >= 0", o.watch)
	case o.opt.MaxAddRows < 1 || o.opt.MaxItemsBody < 1 || o.opt.MaxAdded < 1:
		return nil, fmt.Errorf("-max-add-rows %d, -max-items-body %d, -max-added %d: want >= 1", o.opt.MaxAddRows, o.opt.MaxItemsBody, o.opt.MaxAdded)
	}
	return o, nil
}

// addToken reads the write token: from -add-token-file (one line; at most
// 4 KiB), else from LLMREC_ADD_TOKEN, else none (writes off).
func addToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("LLMREC_ADD_TOKEN"), nil
	}
	fh, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("-add-token-file: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, 4<<10))
	if err != nil {
		return "", fmt.Errorf("-add-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("-add-token-file %s: want one token on one line", file)
	}
	return tok, nil
}

// loadModel is the service's serve.Loader: a moe.Mixture when the file is
// one (moe.IsCheckpoint), a backbone.SeqModel otherwise (with its kinds
// registered, a user's own too). With llm, the Recommender takes new items
// from raw LLM embeddings (an item encoder; a mixture's text path).
func loadModel(path string, llm *tensor.Tensor) (*backbone.Recommender, string, error) {
	isMoE, err := moe.IsCheckpoint(path)
	if err != nil {
		return nil, "", err
	}
	if !isMoE {
		return serve.LoadSeqModel(path, llm)
	}
	m, err := moe.Load(path)
	if err != nil {
		return nil, "", err
	}
	if llm == nil {
		rec, err := m.NewRecommender()
		return rec, "moe", err
	}
	sc, err := m.NewScorerWithText(backbone.ItemEncoderOptions{LLM: llm})
	if err != nil {
		return nil, "", fmt.Errorf("-llm: %w", err)
	}
	return sc.Recommender, "moe", nil
}

// run loads the model, serves until ctx is done, then shuts down
// gracefully. ready, when not nil, is called with the listening address.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if o.opt.AddToken, err = addToken(o.tokenFile); err != nil {
		return err
	}
	if o.llm != "" {
		if o.opt.LLM, err = data.LoadNPY(o.llm); err != nil {
			return err
		}
	}
	var h *serve.Handler
	m := newMetrics(func() int { return h.NumItems() }, log)
	o.opt.Load, o.opt.Logger, o.opt.Metrics = loadModel, log, m
	start := time.Now()
	h, err = serve.Open(o.model, o.opt)
	if err != nil {
		return err
	}
	hl := h.Health()
	attrs := []any{"path", o.model, "kind", hl.Kind, "items", hl.Items, "added", hl.Added, "writes", hl.Writes, "add_width", hl.EmbeddingDim, "from_text", hl.FromText}
	if hl.Dim > 0 { // a mixture has no single item width
		attrs = append(attrs, "dim", hl.Dim)
	}
	log.Info("model loaded", append(attrs, "took", time.Since(start).Round(time.Millisecond))...)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("GET /metrics", m.handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "max_k", o.opt.MaxK, "max_body", o.opt.MaxBody, "max_history", o.opt.MaxHistory)
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go h.Watch(wctx, o.watch) // returns at once when -watch is 0
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-wctx.Done():
				return
			case <-hup:
				_ = h.Reload() // logged and counted by the handler
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
