package serve

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/llmrec/llmrec/backbone"
)

// DefaultK is the k of a request that sends none (capped at Options.MaxK).
const DefaultK = 10

// RecommendRequest is the body of POST /recommend (a plain value, like
// the other request and response types).
type RecommendRequest struct {
	// History is the user's chronological item ids (1..items), oldest
	// first. Required and non-empty.
	History []int `json:"history"`
	// K is the number of items wanted (default DefaultK, at most
	// Options.MaxK).
	K *int `json:"k,omitempty"`
	// ExcludeHistory drops the history's items from the answer (default
	// true).
	ExcludeHistory *bool `json:"exclude_history,omitempty"`
}

// RecommendResponse is the answer of POST /recommend: items best first and
// their scores, index by index.
type RecommendResponse struct {
	Items  []int     `json:"items"`
	Scores []float32 `json:"scores"`
}

// ItemsRequest is the body of POST /items.
type ItemsRequest struct {
	// Embeddings holds one row per new item: its raw LLM embedding when
	// the handler has Options.LLM, its item vector otherwise (Health's
	// EmbeddingDim is the width).
	Embeddings [][]float64 `json:"embeddings"`
}

// ItemsResponse is the answer of POST /items.
type ItemsResponse struct {
	// IDs are the new items' ids, in the order of the rows.
	IDs []int `json:"ids"`
	// Items is the number of items served now.
	Items int `json:"items"`
	// Persisted tells whether the additions were appended to the items
	// log (a Handler from Open) before being served.
	Persisted bool `json:"persisted"`
}

// Health is the answer of GET /healthz (Handler.Health).
type Health struct {
	Status string `json:"status"`
	// Items is the number of items served (added ones included).
	Items int `json:"items"`
	// Dim is the width of the item vectors; absent for a model without a
	// single item table (a mixture).
	Dim        int   `json:"dim,omitempty"`
	MaxK       int   `json:"max_k"`
	MaxHistory int   `json:"max_history"`
	MaxBody    int64 `json:"max_body"`
	// Kind is the Loader's kind ("backbone", "moe", ...).
	Kind string `json:"kind,omitempty"`
	// EmbeddingDim is the width of a POST /items row (0: no additions).
	EmbeddingDim int `json:"embedding_dim"`
	// FromText tells whether POST /items takes raw LLM embeddings (else
	// item vectors).
	FromText bool `json:"from_text"`
	// Writes tells whether POST /items is enabled (Options.AddToken).
	Writes bool `json:"writes"`
	// Added is the number of items added to the model; MaxAdded the cap.
	Added    int `json:"added"`
	MaxAdded int `json:"max_added"`
	// Reloads is the number of times the model file was reloaded.
	Reloads int64 `json:"reloads"`
}

// ErrorResponse is the body of every 4xx and 5xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// routes registers the endpoints on the handler's own mux with Go's
// method-and-path patterns; the bare paths catch other methods (405) and
// "/" everything else (404), both answered in JSON.
func (h *Handler) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /recommend", h.recommend)
	m.HandleFunc("POST /items", h.items)
	m.HandleFunc("GET /healthz", h.healthz)
	for path, allow := range map[string]string{"/recommend": "POST", "/items": "POST", "/healthz": "GET, HEAD"} {
		m.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (use %s)", r.Method, path, strings.Split(allow, ",")[0]))
		})
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such path %q (use POST /recommend, POST /items or GET /healthz)", r.URL.Path))
	})
	h.mux = m
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

// ServeHTTP answers POST /recommend, POST /items and GET /healthz, and
// reports every request to Options.Metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h.mux.ServeHTTP(sw, r)
	route := "other"
	switch r.URL.Path {
	case "/recommend", "/items", "/healthz":
		route = r.URL.Path
	}
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	h.opt.Metrics.Request(route, sw.status, time.Since(start))
}

// Health returns what GET /healthz answers: the model served now, the
// limits and whether writes are enabled.
func (h *Handler) Health() Health {
	sv := h.cur.Load()
	hl := Health{Status: "ok", Items: sv.rec.NumItems(), MaxK: h.opt.MaxK, MaxHistory: h.opt.MaxHistory,
		MaxBody: h.opt.MaxBody, Kind: sv.kind, EmbeddingDim: sv.addDim, FromText: sv.fromText,
		Writes: h.opt.AddToken != "", Added: sv.rec.NumItems() - sv.base, MaxAdded: h.opt.MaxAdded, Reloads: sv.reloads}
	if v := sv.rec.ItemVectors(); v != nil {
		hl.Dim = v.Cols()
	}
	return hl
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(h.Health()) // ints, bools and strings always marshal
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(b, '\n'))
	}
}

// requestError is a client error with its HTTP status.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func (h *Handler) recommend(w http.ResponseWriter, r *http.Request) {
	req, rerr := h.parseRecommend(w, r)
	if rerr != nil {
		writeError(w, rerr.status, rerr.msg)
		return
	}
	k := min(DefaultK, h.opt.MaxK)
	if req.K != nil {
		k = *req.K
	}
	var exclude []int
	if req.ExcludeHistory == nil || *req.ExcludeHistory {
		exclude = req.History
	}
	top, err := h.cur.Load().rec.TopK(req.History, k, exclude)
	if err != nil {
		writeError(w, statusOf(err), "recommend: "+err.Error())
		return
	}
	resp := RecommendResponse{Items: make([]int, len(top)), Scores: make([]float32, len(top))}
	for i, s := range top {
		resp.Items[i], resp.Scores[i] = s.Item, s.Score
	}
	writeJSON(w, http.StatusOK, resp)
}

// parseRecommend reads and validates the body of a POST /recommend.
func (h *Handler) parseRecommend(w http.ResponseWriter, r *http.Request) (*RecommendRequest, *requestError) {
	if rerr := checkJSON(r, h.opt.MaxBody); rerr != nil {
		return nil, rerr
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opt.MaxBody))
	if err != nil {
		return nil, readError(err, h.opt.MaxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("empty body (send a JSON object with a \"history\" array)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req RecommendRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("%s", jsonMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("invalid JSON: data after the request object at byte %d", dec.InputOffset())
	}
	switch {
	case req.History == nil:
		return nil, badRequest("missing field \"history\" (an array of item ids, oldest first)")
	case len(req.History) == 0:
		return nil, badRequest("\"history\" is empty: at least one item id is needed")
	case len(req.History) > h.opt.MaxHistory:
		return nil, badRequest("\"history\" has %d items, more than the limit of %d", len(req.History), h.opt.MaxHistory)
	case req.K != nil && (*req.K < 1 || *req.K > h.opt.MaxK):
		return nil, badRequest("\"k\" is %d, want 1..%d", *req.K, h.opt.MaxK)
	}
	return &req, nil
}

// checkJSON checks the Content-Type and the declared length of a body.
func checkJSON(r *http.Request, limit int64) *requestError {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return &requestError{http.StatusUnsupportedMediaType, "missing Content-Type (send application/json)"}
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &requestError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q not supported (send application/json)", ct)}
	}
	if r.ContentLength > limit {
		return &requestError{http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)}
	}
	return nil
}

// readError maps an error reading a body limited by http.MaxBytesReader.
func readError(err error, limit int64) *requestError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", limit)}
	}
	return badRequest("reading body: %v", err)
}

// jsonMessage turns a decoding error into a message for the client.
func jsonMessage(err error) string {
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("invalid JSON at byte %d: %v", e.Offset, e)
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := e.Field
		if field == "" {
			return fmt.Sprintf("invalid request: expected a JSON object, got %s", e.Value)
		}
		want := "an integer"
		switch field {
		case "history":
			want = "an array of integer item ids"
		case "exclude_history":
			want = "true or false"
		}
		if strings.HasPrefix(field, "history.") || (field == "history" && e.Value == "number") {
			want = "an integer item id"
		}
		return fmt.Sprintf("invalid request: field %q: got %s, want %s", field, e.Value, want)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: unexpected end of body"
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "invalid request: unknown field " + rest + " (known: history, k, exclude_history)"
	}
	return "invalid request: " + strings.TrimPrefix(msg, "json: ")
}

// statusOf maps a library error to the HTTP status of the answer: bad input
// (an item id outside 1..items, an empty history, a bad k) is the client's
// fault, 400; anything else (a non-finite score, a broken model) is the
// server's, 500. Item ids are checked by the library, not re-validated here,
// so the two cannot disagree.
func statusOf(err error) int {
	switch {
	case errors.Is(err, backbone.ErrItemOutOfRange), errors.Is(err, backbone.ErrEmptyHistory), errors.Is(err, backbone.ErrBadK):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// authorized compares the request's bearer token with want in constant
// time (of the hashes, so that the length does not leak either).
func authorized(r *http.Request, want string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && ok
}

// items serves POST /items: the token, then a bounded slot to decode the
// body as a stream (limits applied while decoding), then AddItems.
func (h *Handler) items(w http.ResponseWriter, r *http.Request) {
	if h.opt.AddToken == "" {
		writeError(w, http.StatusForbidden, ErrWritesDisabled.Error()+" (the server enables them with a token)")
		return
	}
	if !authorized(r, h.opt.AddToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="llmrec items"`)
		writeError(w, http.StatusUnauthorized, "POST /items needs \"Authorization: Bearer <token>\" with the server's token")
		return
	}
	if rerr := checkJSON(r, h.opt.MaxItemsBody); rerr != nil {
		writeError(w, rerr.status, rerr.msg)
		return
	}
	select {
	case h.adds <- struct{}{}:
		defer func() { <-h.adds }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%d additions are being decoded; retry later", cap(h.adds)))
		return
	}
	sv := h.cur.Load()
	if sv.addDim == 0 {
		writeError(w, http.StatusConflict, ErrCannotAdd.Error()+" (a mixture needs Options.LLM)")
		return
	}
	rows, rerr := decodeRows(http.MaxBytesReader(w, r.Body, h.opt.MaxItemsBody), sv.addDim, h.opt.MaxAddRows, h.opt.MaxItemsBody)
	if rerr != nil {
		writeError(w, rerr.status, rerr.msg)
		return
	}
	first, err := h.AddItems(rows)
	if err != nil {
		writeError(w, statusOfAdd(err), "add items: "+err.Error())
		return
	}
	resp := ItemsResponse{Items: first + rows.Rows() - 1, Persisted: h.log != nil}
	for i := range rows.Rows() {
		resp.IDs = append(resp.IDs, first+i)
	}
	writeJSON(w, http.StatusOK, resp)
}

// statusOfAdd maps an addition error: bad rows are the client's fault, a
// full catalog or a model that takes none a conflict, the rest the server's.
func statusOfAdd(err error) int {
	switch {
	case errors.Is(err, ErrCatalogFull), errors.Is(err, ErrCannotAdd):
		return http.StatusConflict
	case errors.Is(err, ErrRejected), errors.Is(err, backbone.ErrNonFinite), errors.Is(err, backbone.ErrBadConfig):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorResponse{Error: "encoding response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

// finite32 reports whether v is finite as a float32.
func finite32(v float64) bool {
	f := float64(float32(v))
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}
