package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// Options configures a Handler. The zero value serves recommendations with
// the default limits and refuses every catalog write. New and Open copy it;
// changing it afterwards changes nothing.
type Options struct {
	// MaxK is the largest k a request may ask for (default 100).
	MaxK int
	// MaxHistory is the longest history a request may send (default 1000).
	MaxHistory int
	// MaxBody is the largest POST /recommend body in bytes (default 64 KiB).
	MaxBody int64

	// AddToken enables catalog writes (POST /items): a request must send
	// "Authorization: Bearer <AddToken>" (compared in constant time).
	// Empty, the default, disables writes (403).
	AddToken string
	// MaxAddRows is the largest number of items one POST /items may add
	// (default 1000). Rows beyond it stop the decoding (400).
	MaxAddRows int
	// MaxItemsBody is the largest POST /items body in bytes (default 16 MiB).
	MaxItemsBody int64
	// MaxAdded caps the number of items added to the model's own (default
	// 10,000; with Open, all the items log holds, across reloads and
	// restarts): every addition grows the table every request scores. An
	// addition beyond it is refused with ErrCatalogFull (409), and Open
	// refuses a log that holds more.
	MaxAdded int
	// MaxConcurrentAdds bounds the POST /items bodies decoded at once
	// (default 2); more answer 503 with Retry-After, before reading their
	// body.
	MaxConcurrentAdds int
	// NormFactor bounds the norm of an added row: at most NormFactor times
	// the largest norm among the trained items' rows of the same space
	// (item vectors, or the LLM embeddings of Options.LLM). Default 2.
	NormFactor float64

	// LLM holds the raw LLM embeddings of the model's own items
	// ((NumItems+1) x width, row i = item i). With it, POST /items takes
	// raw LLM embeddings and the Loader builds the item encoder from it;
	// additions are kept as these rows and re-encoded through every model
	// reloaded later. Without it a SeqModel takes item vectors of its own
	// width, which only the model they were sent to can use.
	LLM *tensor.Tensor
	// Load reads a model file (Open, Reload); nil means LoadSeqModel.
	Load Loader
	// ItemsLog is the file that additions are appended to (Open only);
	// empty means ItemsLogPath(model path).
	ItemsLog string

	// Logger receives reloads, refusals and persisted additions; nil
	// discards them. The handler never writes to stdout.
	Logger *slog.Logger
	// Metrics receives request, addition and reload counts; nil discards
	// them.
	Metrics Metrics
}

func (o *Options) fill() error {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxK, 100)
	def(&o.MaxHistory, 1000)
	def(&o.MaxAddRows, 1000)
	def(&o.MaxAdded, 10000)
	def(&o.MaxConcurrentAdds, 2)
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.MaxItemsBody <= 0 {
		o.MaxItemsBody = 16 << 20
	}
	if o.NormFactor == 0 {
		o.NormFactor = 2
	}
	if !(o.NormFactor >= 1) || math.IsInf(o.NormFactor, 0) {
		return fmt.Errorf("serve: Options.NormFactor %v: want a finite value >= 1: %w", o.NormFactor, backbone.ErrBadConfig)
	}
	if o.Load == nil {
		o.Load = LoadSeqModel
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.LLM != nil && (o.LLM.Dims() != 2 || o.LLM.Rows() < 2) {
		return fmt.Errorf("serve: Options.LLM of shape %v: want [NumItems+1 width]: %w", o.LLM.Shape, backbone.ErrBadConfig)
	}
	return nil
}

// A Loader reads the model file at path and returns the Recommender that
// serves it and the model's kind, which GET /healthz reports. When llm is
// not nil (Options.LLM), the Recommender must take AddItems of rows of
// llm's width (backbone.Recommender.SetItemEncoder, or a model that adds
// items itself such as moe's NewScorerWithText). Kinds registered with
// backbone.RegisterEncoder or RegisterTable load through LoadSeqModel.
type Loader func(path string, llm *tensor.Tensor) (rec *backbone.Recommender, kind string, err error)

// LoadSeqModel is the default Loader: backbone.LoadRecommender, with an
// item encoder (backbone.NewItemEncoder over the model's table) when llm is
// given. Its kind is "backbone".
func LoadSeqModel(path string, llm *tensor.Tensor) (*backbone.Recommender, string, error) {
	rec, err := backbone.LoadRecommender(path)
	if err != nil {
		return nil, "", err
	}
	if llm != nil {
		enc, err := backbone.NewItemEncoder(rec.SeqModel().Items, backbone.ItemEncoderOptions{LLM: llm})
		if err != nil {
			return nil, "", fmt.Errorf("item encoder: %w", err)
		}
		if err := rec.SetItemEncoder(enc); err != nil {
			return nil, "", err
		}
	}
	return rec, "backbone", nil
}

// ItemsLogPath returns where Open keeps the items added to the model at
// path by default: beside it, NAME.items.jsonl.
func ItemsLogPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".items.jsonl"
}

// served is what the handler answers with at one moment. It is immutable
// except for rec's own additions; a reload swaps in a new one.
type served struct {
	rec         *backbone.Recommender
	kind        string
	fingerprint string // of the model file; "" for New
	base        int    // the model's own items; ids above are added ones
	fromText    bool   // additions are LLM rows (else item vectors)
	addDim      int    // width of an added row; 0: no additions
	vecBound    float64
	llmBound    float64
	window      int
	reloads     int64
}

// fileStat identifies a version of the model file for the watcher.
type fileStat struct {
	size int64
	mod  time.Time
}

func statOf(path string) (fileStat, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStat{}, err
	}
	return fileStat{st.Size(), st.ModTime()}, nil
}

// Handler serves POST /recommend, POST /items and GET /healthz for one
// model (see the package documentation for the endpoints). It is an
// http.Handler, safe for concurrent use: every request reads the current
// snapshot once; additions and reloads are serialized and swapped in
// atomically, so a request never waits for them and never sees half of one.
type Handler struct {
	opt  Options
	mux  *http.ServeMux
	cur  atomic.Pointer[served]
	adds chan struct{} // bounds concurrent POST /items decodes

	mu      sync.Mutex // serializes additions and reloads
	path    string     // model file ("" for New)
	log     *itemsLog  // nil for New
	pending *logRecord // the addition being committed, persisted by the check
	loaded  fileStat   // the model file's version last loaded
	failed  fileStat   // the version that last failed (not retried by Watch)
}

// New returns a Handler serving rec as it is: no model file, no reload, and
// additions (when Options.AddToken enables them) kept in memory only. rec
// takes raw LLM embeddings when it has an item encoder or adds items itself
// (rec.LLMDim() > 0; Options.LLM is then required, to bound the rows), item
// vectors when it serves a SeqModel, and nothing otherwise. New sets rec's
// addition check (SetAddCheck): from then on, add items through the
// Handler (POST /items, AddItems), not through rec itself. It fails with
// ErrNotServable when rec gives a non-finite score to a probe history.
func New(rec *backbone.Recommender, opt Options) (*Handler, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	h := newHandler(opt)
	sv, err := h.prepare(rec, kindOf(rec), "")
	if err != nil {
		return nil, err
	}
	h.cur.Store(sv)
	return h, nil
}

// Open loads the model file at path with Options.Load, checks that it can
// be served, adds again the items recorded in the items log (Options.ItemsLog)
// and returns a Handler that can Reload and Watch the file. Every later
// addition is appended to the log before it is served. Errors: the
// loader's, ErrNotServable, ErrReloadRefused (the log cannot be kept by
// this model: the error says why; move the log aside to start afresh).
func Open(path string, opt Options) (*Handler, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	if opt.ItemsLog == "" {
		opt.ItemsLog = ItemsLogPath(path)
	}
	h := newHandler(opt)
	h.path = path
	h.log = &itemsLog{path: opt.ItemsLog, maxLine: 4*opt.MaxItemsBody + 1<<20, maxItems: opt.MaxAdded}
	sv, st, err := h.load()
	if err != nil {
		return nil, err
	}
	h.loaded = st
	h.cur.Store(sv)
	return h, nil
}

func newHandler(opt Options) *Handler {
	h := &Handler{opt: opt, adds: make(chan struct{}, opt.MaxConcurrentAdds)}
	h.routes()
	return h
}

func kindOf(rec *backbone.Recommender) string {
	if rec.SeqModel() != nil {
		return "backbone"
	}
	return "custom"
}

// fingerprintFile returns the SHA-256 of the file at path, streamed.
func fingerprintFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	d := sha256.New()
	if _, err := io.Copy(d, fh); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(d.Sum(nil)), nil
}

// load reads the model file, checks it, and replays the items log into it.
// It returns the new snapshot (not swapped in) and the file's version as it
// was before loading began.
func (h *Handler) load() (*served, fileStat, error) {
	st, err := statOf(h.path)
	if err != nil {
		return nil, st, err
	}
	fp, err := fingerprintFile(h.path)
	if err != nil {
		return nil, st, err
	}
	rec, kind, err := h.opt.Load(h.path, h.opt.LLM)
	if err != nil {
		return nil, st, err
	}
	if now, err := statOf(h.path); err != nil || now != st {
		// replaced while loading: what was read may be a mix; the watcher
		// sees the new version and loads it
		return nil, st, fmt.Errorf("serve: model %s changed while it was loading", h.path)
	}
	sv, err := h.prepare(rec, kind, fp)
	if err != nil {
		return nil, st, fmt.Errorf("model %s: %w", h.path, err)
	}
	recs, err := h.log.read(h.opt.Logger)
	if err != nil {
		return nil, st, fmt.Errorf("%w: %w", ErrReloadRefused, err)
	}
	if err := h.replay(sv, recs); err != nil {
		return nil, st, err
	}
	return sv, st, nil
}

// prepare checks rec servable and computes what additions need: their width
// and the norm bounds derived from the trained items.
func (h *Handler) prepare(rec *backbone.Recommender, kind, fp string) (*served, error) {
	sv := &served{rec: rec, kind: kind, fingerprint: fp, base: rec.NumItems(), window: rec.Window()}
	if sv.window <= 0 {
		sv.window = min(h.opt.MaxHistory, 200)
	}
	if err := checkServable(rec, sv.window); err != nil {
		return nil, err
	}
	if d := rec.LLMDim(); d > 0 {
		if h.opt.LLM == nil || h.opt.LLM.Cols() != d {
			return nil, fmt.Errorf("serve: the model takes %d-wide LLM rows; Options.LLM (the trained items' rows, to bound added ones) is missing or of another width: %w", d, backbone.ErrBadConfig)
		}
		sv.fromText, sv.addDim = true, d
		sv.llmBound = h.opt.NormFactor * maxRowNorm(h.opt.LLM, 1, h.opt.LLM.Rows())
	}
	if v := rec.ItemVectors(); v != nil {
		if sv.addDim == 0 {
			sv.addDim = v.Cols()
		}
		sv.vecBound = h.opt.NormFactor * maxRowNorm(v, 1, v.Rows())
	}
	rec.SetAddCheck(h.checkFor(sv))
	return sv, nil
}

// Reload loads the model file again (Open's checks and replay) and swaps it
// in; requests in flight finish on the old model. On error the old model
// keeps serving, the error is logged and counted (Metrics.Reload), and the
// file's version is remembered so that Watch does not retry it until it
// changes. It fails for a Handler made by New.
func (h *Handler) Reload() error {
	if h.path == "" {
		return errors.New("serve: Reload: no model file (the Handler was made by New)")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	sv, st, err := h.load()
	if err != nil {
		h.failed = st
		result := ReloadError
		if errors.Is(err, ErrReloadRefused) {
			result = ReloadRefused
		}
		h.opt.Metrics.Reload(result)
		h.opt.Logger.Error("reload "+result+"; the previous model keeps serving", "path", h.path, "err", err)
		return err
	}
	old := h.cur.Load()
	sv.reloads = old.reloads + 1
	old.rec.SetAddCheck(nil)
	h.cur.Store(sv)
	h.loaded = st
	h.opt.Metrics.Reload(ReloadOK)
	h.opt.Logger.Info("model reloaded", "path", h.path, "kind", sv.kind, "items", sv.rec.NumItems(), "added", sv.rec.NumItems()-sv.base, "model", sv.fingerprint)
	return nil
}

// changed reports whether the model file is a version neither loaded nor
// failed already.
func (h *Handler) changed() bool {
	st, err := statOf(h.path)
	if err != nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return st != h.loaded && st != h.failed
}

// Watch reloads the model whenever its file changes (size or modification
// time), checking every interval, until ctx is done. A version is recorded
// only once it has loaded, or once it has failed as it was when the load
// began: a file replaced while a slow load fails is seen as changed. It
// returns at once for a Handler made by New.
func (h *Handler) Watch(ctx context.Context, interval time.Duration) {
	if h.path == "" || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if h.changed() {
				_ = h.Reload() // logged and counted by Reload
			}
		}
	}
}

// NumItems returns the number of items served now (added ones included).
func (h *Handler) NumItems() int { return h.cur.Load().rec.NumItems() }

// Recommender returns the Recommender serving now (a reload replaces it),
// for direct calls such as TopK, ScoreAll or an evaluation. Items must be
// added through the Handler (AddItems), which checks and logs them.
func (h *Handler) Recommender() *backbone.Recommender { return h.cur.Load().rec }

// AddItems adds rows.Rows() items, as POST /items does without the token
// check: rows are raw LLM embeddings when the model takes them (Options.LLM)
// or item vectors otherwise. The rows are checked (width, finite, norm
// bound, probe histories) before anything is committed; with a model file
// the addition is appended to the items log before it is served. It
// returns the first new id (the others follow). Errors wrap ErrCannotAdd,
// ErrCatalogFull, ErrRejected, backbone.ErrBadConfig or ErrNonFinite;
// nothing is added then.
func (h *Handler) AddItems(rows *tensor.Tensor) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sv := h.cur.Load()
	if sv.addDim == 0 {
		return 0, fmt.Errorf("%w (a mixture needs Options.LLM)", ErrCannotAdd)
	}
	if rows == nil || rows.Dims() != 2 || rows.Cols() != sv.addDim || rows.Rows() == 0 {
		var shape []int
		if rows != nil {
			shape = rows.Shape
		}
		return 0, fmt.Errorf("serve: rows of shape %v, want [n %d] with n >= 1: %w", shape, sv.addDim, backbone.ErrBadConfig)
	}
	if added := sv.rec.NumItems() - sv.base; added+rows.Rows() > h.opt.MaxAdded {
		return 0, fmt.Errorf("%w: %d items added, %d more would pass the cap of %d (Options.MaxAdded)", ErrCatalogFull, added, rows.Rows(), h.opt.MaxAdded)
	}
	bound, space := sv.vecBound, "item vector"
	if sv.fromText {
		bound, space = sv.llmBound, "LLM embedding"
	}
	if err := checkRows(rows, bound, space); err != nil {
		return 0, err
	}
	if h.log != nil {
		kind := kindVectors
		if sv.fromText {
			kind = kindLLM
		}
		h.pending = &logRecord{Kind: kind, Model: sv.fingerprint, rows: rows}
		defer func() { h.pending = nil }()
	}
	var first int
	var err error
	if sv.fromText {
		first, err = sv.rec.AddItems(rows)
	} else {
		first, err = sv.rec.AddItemVectors(rows)
	}
	if err != nil {
		return 0, err
	}
	h.opt.Metrics.ItemsAdded(rows.Rows())
	h.opt.Logger.Info("items added", "first", first, "n", rows.Rows(), "persisted", h.log != nil)
	return first, nil
}

// checkFor returns the addition check of sv: the norms of the new item
// vectors, the probe histories, and, for an addition from AddItems, its
// record appended to the items log (the last step: the swap that follows a
// passing check cannot fail, so the log holds exactly what is served).
func (h *Handler) checkFor(sv *served) backbone.AddCheck {
	return func(next *backbone.Recommender, first, n int) error {
		if v := next.ItemVectors(); v != nil && sv.vecBound > 0 {
			for it := first; it < first+n; it++ {
				if nrm := rowNorm(v.Row(it)); !(nrm <= sv.vecBound) {
					return fmt.Errorf("%w: item %d: vector norm %.4g above the bound %.4g (%g x the largest trained norm)",
						ErrRejected, it, nrm, sv.vecBound, h.opt.NormFactor)
				}
			}
		}
		if err := probeNew(next, sv.window, first, n); err != nil {
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
		if h.pending != nil {
			h.pending.First = first
			if err := h.log.append(h.pending); err != nil {
				return fmt.Errorf("serve: items %d..%d not added: saving them: %w", first, first+n-1, err)
			}
		}
		return nil
	}
}

// replay adds the logged records to sv's Recommender, consecutive records
// of a kind at once, or refuses (ErrReloadRefused) when sv cannot keep them.
func (h *Handler) replay(sv *served, recs []*logRecord) error {
	if len(recs) == 0 {
		return nil
	}
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (items log %s)", ErrReloadRefused, fmt.Sprintf(format, args...), h.log.path)
	}
	if base := recs[0].First - 1; base != sv.base {
		return refuse("the log adds items from id %d, after a model of %d items; this model has %d, so the added items' ids would change", recs[0].First, base, sv.base)
	}
	next := recs[0].First
	for i := 0; i < len(recs); {
		j := i
		var rows []*tensor.Tensor
		for ; j < len(recs) && recs[j].Kind == recs[i].Kind; j++ {
			r := recs[j]
			if r.rows.Cols() != recs[i].rows.Cols() {
				return refuse("record %d holds %d-wide rows, record %d %d-wide", j, r.rows.Cols(), i, recs[i].rows.Cols())
			}
			if r.First != next {
				return refuse("record %d starts at id %d, want %d", j, r.First, next)
			}
			if r.Kind == kindVectors && r.Model != sv.fingerprint {
				return refuse("items %d..%d were sent as item vectors of model %s, not of this one (%s): vectors in one model's item space cannot be re-encoded",
					r.First, r.First+r.rows.Rows()-1, r.Model, sv.fingerprint)
			}
			next += r.rows.Rows()
			rows = append(rows, r.rows)
		}
		all := concatRows(rows)
		var err error
		switch {
		case recs[i].Kind == kindLLM && (!sv.fromText || all.Cols() != sv.addDim):
			return refuse("%d items were added from %d-wide LLM rows, and this model is served without LLM rows of that width (Options.LLM) to re-encode them", all.Rows(), all.Cols())
		case recs[i].Kind == kindLLM:
			_, err = sv.rec.AddItems(all)
		default:
			_, err = sv.rec.AddItemVectors(all)
		}
		if err != nil {
			return refuse("re-adding items %d..%d: %v", recs[i].First, next-1, err)
		}
		i = j
	}
	return nil
}

func concatRows(ts []*tensor.Tensor) *tensor.Tensor {
	if len(ts) == 1 {
		return ts[0]
	}
	n, d := 0, ts[0].Cols()
	for _, t := range ts {
		n += t.Rows()
	}
	out := tensor.New(n, d)
	off := 0
	for _, t := range ts {
		off += copy(out.Data[off:], t.Data)
	}
	return out
}
