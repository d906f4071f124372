package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strings"

	"github.com/llmrec/llmrec/backbone"
)

// limits bounds what one request may ask for.
type limits struct {
	// MaxK is the largest k a request may ask for.
	MaxK int
	// MaxBody is the largest request body in bytes (413 beyond it).
	MaxBody int64
	// MaxHistory is the longest history a request may send.
	MaxHistory int
	// MaxItemsBody is the largest POST /items body in bytes.
	MaxItemsBody int64
	// MaxAddRows is the largest number of items one POST /items may add.
	MaxAddRows int
}

// defaultLimits are the command's flag defaults.
func defaultLimits() limits {
	return limits{MaxK: 100, MaxBody: 64 << 10, MaxHistory: 1000, MaxItemsBody: 16 << 20, MaxAddRows: 1000}
}

// defaultK is the k used when a request does not send one (capped at
// limits.MaxK).
const defaultK = 10

// recommendRequest is the body of POST /recommend.
type recommendRequest struct {
	// History is the user's chronological item ids (1..NumItems), oldest
	// first. Required and non-empty.
	History []int `json:"history"`
	// K is the number of items wanted (default 10, or limits.MaxK when that
	// is smaller; at most limits.MaxK).
	K *int `json:"k"`
	// ExcludeHistory drops the history's items from the answer (default true).
	ExcludeHistory *bool `json:"exclude_history"`
}

// recommendResponse is the answer of POST /recommend: items best first and
// their scores, index by index.
type recommendResponse struct {
	Items  []int     `json:"items"`
	Scores []float32 `json:"scores"`
}

// healthResponse is the answer of GET /healthz.
type healthResponse struct {
	Status string `json:"status"`
	Items  int    `json:"items"`
	// Dim is the width of the item vectors; absent for a model without
	// a single item table (a mixture).
	Dim        int   `json:"dim,omitempty"`
	MaxK       int   `json:"max_k"`
	MaxHistory int   `json:"max_history"`
	MaxBody    int64 `json:"max_body"`
	// Kind is "backbone" or "moe".
	Kind string `json:"kind,omitempty"`
	// EmbeddingDim is the width of a POST /items row (0: no additions).
	EmbeddingDim int `json:"embedding_dim"`
	// FromText tells whether POST /items takes raw LLM embeddings (else
	// item vectors).
	FromText bool `json:"from_text"`
	// Reloads is the number of times the model file was reloaded.
	Reloads int64 `json:"reloads"`
}

// errorResponse is the body of every 4xx/5xx answer.
type errorResponse struct {
	Error string `json:"error"`
}

// handler serves /recommend, /items, /healthz and /metrics for the
// service's current model, whatever it is (a SeqModel or a moe.Mixture).
// It is safe for concurrent use: every request reads the model once (a
// reload swaps it atomically) and the Recommender is safe for concurrent
// use.
type handler struct {
	svc     *service
	lim     limits
	metrics http.Handler // nil: no /metrics
}

// newHandler returns the service's HTTP handler for a fixed rec (no
// reload, additions in memory only). Limits that are not positive take
// their defaults.
func newHandler(rec *backbone.Recommender, lim limits) http.Handler {
	return newServiceHandler(newFixedService(rec, slog.New(slog.DiscardHandler)), lim)
}

// newServiceHandler returns the HTTP handler of svc.
func newServiceHandler(svc *service, lim limits) *handler {
	def := defaultLimits()
	if lim.MaxK <= 0 {
		lim.MaxK = def.MaxK
	}
	if lim.MaxBody <= 0 {
		lim.MaxBody = def.MaxBody
	}
	if lim.MaxHistory <= 0 {
		lim.MaxHistory = def.MaxHistory
	}
	if lim.MaxItemsBody <= 0 {
		lim.MaxItemsBody = def.MaxItemsBody
	}
	if lim.MaxAddRows <= 0 {
		lim.MaxAddRows = def.MaxAddRows
	}
	return &handler{svc: svc, lim: lim}
}

// itemDim returns the width of the item vectors rec scores with, or 0 when
// it serves a model other than a SeqModel (a mixture's experts each have
// their own).
func itemDim(rec *backbone.Recommender) int {
	if v := rec.ItemVectors(); v != nil && len(v.Shape) == 2 {
		return v.Shape[1]
	}
	return 0
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/recommend":
		h.recommend(w, r)
	case "/healthz":
		h.healthz(w, r)
	case "/items":
		h.addItems(w, r)
	case "/metrics":
		if h.metrics != nil {
			h.metrics.ServeHTTP(w, r)
			return
		}
		fallthrough
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such path %q (use POST /recommend, POST /items, GET /healthz or GET /metrics)", r.URL.Path))
	}
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /healthz (use GET)", r.Method))
		return
	}
	sv := h.svc.cur.Load()
	health, err := json.Marshal(healthResponse{Status: "ok", Items: sv.rec.NumItems(), Dim: itemDim(sv.rec),
		MaxK: h.lim.MaxK, MaxHistory: h.lim.MaxHistory, MaxBody: h.lim.MaxBody, Kind: sv.kind,
		EmbeddingDim: sv.embDim, FromText: sv.fromText, Reloads: sv.generation})
	if err != nil { // a struct of ints and strings always marshals
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(health, '\n'))
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

func (h *handler) recommend(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /recommend (use POST)", r.Method))
		return
	}
	req, rerr := h.parse(w, r)
	if rerr != nil {
		writeError(w, rerr.status, rerr.msg)
		return
	}
	k := min(defaultK, h.lim.MaxK)
	if req.K != nil {
		k = *req.K
	}
	var exclude []int
	if req.ExcludeHistory == nil || *req.ExcludeHistory {
		exclude = req.History
	}
	top, err := h.svc.cur.Load().rec.TopK(req.History, k, exclude)
	if err != nil {
		writeError(w, statusOf(err), "recommend: "+err.Error())
		return
	}
	resp := recommendResponse{Items: make([]int, len(top)), Scores: make([]float32, len(top))}
	for i, s := range top {
		if math.IsInf(float64(s.Score), 0) || math.IsNaN(float64(s.Score)) {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("recommend: model gave item %d the score %v", s.Item, s.Score))
			return
		}
		resp.Items[i], resp.Scores[i] = s.Item, s.Score
	}
	writeJSON(w, http.StatusOK, resp)
}

// parse reads and validates the body of a POST /recommend.
func (h *handler) parse(w http.ResponseWriter, r *http.Request) (*recommendRequest, *requestError) {
	body, rerr := h.readBody(w, r, h.lim.MaxBody)
	if rerr != nil {
		return nil, rerr
	}
	req, rerr := decodeRequest(body)
	if rerr != nil {
		return nil, rerr
	}
	if err := h.validate(req); err != nil {
		return nil, err
	}
	return req, nil
}

// readBody checks the Content-Type and reads a body of at most limit bytes.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *requestError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, &requestError{http.StatusUnsupportedMediaType, "missing Content-Type (send application/json)"}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return nil, &requestError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q not supported (send application/json)", ct)}
	}
	if r.ContentLength > limit {
		return nil, &requestError{http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &requestError{http.StatusRequestEntityTooLarge,
				fmt.Sprintf("body exceeds the limit of %d bytes", limit)}
		}
		return nil, badRequest("reading body: %v", err)
	}
	return body, nil
}

// decodeRequest decodes one JSON object, strictly: no unknown fields, no
// trailing data.
func decodeRequest(body []byte) (*recommendRequest, *requestError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("empty body (send a JSON object with a \"history\" array)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req recommendRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("%s", jsonMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("invalid JSON: data after the request object at byte %d", dec.InputOffset())
	}
	return &req, nil
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

// validate checks the decoded request against the model and the limits.
func (h *handler) validate(req *recommendRequest) *requestError {
	if req.History == nil {
		return badRequest("missing field \"history\" (an array of item ids, oldest first)")
	}
	if len(req.History) == 0 {
		return badRequest("\"history\" is empty: at least one item id is needed")
	}
	if len(req.History) > h.lim.MaxHistory {
		return badRequest("\"history\" has %d items, more than the limit of %d", len(req.History), h.lim.MaxHistory)
	}
	if req.K != nil && (*req.K < 1 || *req.K > h.lim.MaxK) {
		return badRequest("\"k\" is %d, want 1..%d", *req.K, h.lim.MaxK)
	}
	return nil
}

// statusOf maps a library error to the HTTP status of the answer: the
// library's bad-input errors (an item id outside 1..NumItems, an empty
// history) are the client's fault, 400; anything else (a non-finite score,
// a broken model) is the server's, 500. Item ids are checked by the
// library, not re-validated here, so the two cannot disagree.
func statusOf(err error) int {
	switch {
	case errors.Is(err, backbone.ErrItemOutOfRange), errors.Is(err, backbone.ErrEmptyHistory):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorResponse{Error: "encoding response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}
