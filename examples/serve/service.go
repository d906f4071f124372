package main

import (
	"bytes"
	"encoding/json"
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
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/tensor"
)

// served is what the service answers with at one moment: a Recommender and
// how POST /items reads its rows. It is immutable; a reload swaps in a new
// one, and a request keeps the one it started with.
type served struct {
	rec  *backbone.Recommender
	kind string // "backbone" or "moe"
	// embDim is the width of a POST /items row: the raw LLM embedding width
	// when fromText, the item vector width otherwise; 0 when the model cannot
	// take new items (a mixture without -llm).
	embDim   int
	fromText bool
	// generation counts the reloads before this model (0: the first load).
	generation int64
}

// service holds the model being served and what changes it: item additions
// and reloads, one at a time (mu), never blocking a request in flight.
type service struct {
	cur atomic.Pointer[served]
	mu  sync.Mutex // serializes additions and reloads

	modelPath string // "" when the service serves a fixed Recommender
	llmPath   string
	log       *slog.Logger
	metrics   *metrics

	// stat is the model file's size and modification time at the last load
	// (for -watch).
	statSize int64
	statTime time.Time
}

// itemsPath returns the file beside the model where added items are kept.
func itemsPath(model string) string {
	return strings.TrimSuffix(model, filepath.Ext(model)) + ".items.safetensors"
}

// newFixedService serves rec as it is (no reload; POST /items adds item
// vectors to a SeqModel's Recommender, in memory only).
func newFixedService(rec *backbone.Recommender, log *slog.Logger) *service {
	s := &service{log: log}
	kind, dim := "moe", 0
	if v := rec.ItemVectors(); v != nil {
		kind, dim = "backbone", v.Cols()
	}
	s.cur.Store(&served{rec: rec, kind: kind, embDim: dim})
	return s
}

// newFileService loads the model at modelPath (with the raw LLM embeddings
// of its items at llmPath, if any, so that POST /items takes LLM
// embeddings) and the items added to it before.
func newFileService(modelPath, llmPath string, log *slog.Logger) (*service, error) {
	s := &service{modelPath: modelPath, llmPath: llmPath, log: log}
	sv, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(sv)
	return s, nil
}

// load reads the model file (and the added items beside it) into a new
// served value, checked servable; it does not swap it in.
func (s *service) load() (*served, error) {
	st, err := os.Stat(s.modelPath)
	if err != nil {
		return nil, err
	}
	var llm *tensor.Tensor
	if s.llmPath != "" {
		if llm, err = data.LoadNPY(s.llmPath); err != nil {
			return nil, err
		}
	}
	sv := &served{}
	isMoE, err := moe.IsCheckpoint(s.modelPath)
	if err != nil {
		return nil, err
	}
	if isMoE {
		sv.kind = "moe"
		m, err := moe.Load(s.modelPath)
		if err != nil {
			return nil, err
		}
		if llm != nil {
			sc, err := m.NewScorerWithText(backbone.ItemEncoderOptions{LLM: llm})
			if err != nil {
				return nil, fmt.Errorf("-llm %s: %w", s.llmPath, err)
			}
			sv.rec, sv.embDim, sv.fromText = sc.Recommender, llm.Cols(), true
		} else if sv.rec, err = m.NewRecommender(); err != nil {
			return nil, err
		}
	} else {
		sv.kind = "backbone"
		m, err := backbone.Load(s.modelPath)
		if err != nil {
			return nil, err
		}
		sv.rec = backbone.NewRecommender(m)
		sv.embDim = m.Items.Dim()
		if llm != nil {
			enc, err := backbone.NewItemEncoder(m.Items, backbone.ItemEncoderOptions{LLM: llm})
			if err != nil {
				return nil, fmt.Errorf("-llm %s: %w", s.llmPath, err)
			}
			if err := sv.rec.SetItemEncoder(enc); err != nil {
				return nil, err
			}
			sv.embDim, sv.fromText = llm.Cols(), true
		}
	}
	if _, err := os.Stat(itemsPath(s.modelPath)); err == nil {
		n, err := sv.rec.LoadItems(itemsPath(s.modelPath))
		if err != nil {
			// a model of another size: the saved additions do not apply
			s.log.Warn("added items not loaded", "path", itemsPath(s.modelPath), "err", err)
		} else {
			s.log.Info("added items loaded", "path", itemsPath(s.modelPath), "items", n)
		}
	}
	if err := checkServable(sv.rec); err != nil {
		return nil, fmt.Errorf("model %s cannot be served: %w", s.modelPath, err)
	}
	s.statSize, s.statTime = st.Size(), st.ModTime()
	return sv, nil
}

// reload loads the model file again and swaps it in; requests in flight
// finish on the old one. On error the old model keeps serving.
func (s *service) reload() error {
	if s.modelPath == "" {
		return errors.New("no model file to reload")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, err := s.load()
	if err != nil {
		// do not retry the same bad file on every -watch tick
		if st, serr := os.Stat(s.modelPath); serr == nil {
			s.statSize, s.statTime = st.Size(), st.ModTime()
		}
		s.metrics.reload(false)
		return err
	}
	sv.generation = s.cur.Load().generation + 1
	s.cur.Store(sv)
	s.metrics.reload(true)
	s.log.Info("model reloaded", "path", s.modelPath, "kind", sv.kind, "items", sv.rec.NumItems())
	return nil
}

// changed reports whether the model file's size or modification time
// differs from the last load.
func (s *service) changed() bool {
	st, err := os.Stat(s.modelPath)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return st.Size() != s.statSize || !st.ModTime().Equal(s.statTime)
}

// watch reloads the model whenever its file changes, checking every
// interval until stop is closed.
func (s *service) watch(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if s.changed() {
				if err := s.reload(); err != nil {
					s.log.Error("reload failed; the previous model keeps serving", "path", s.modelPath, "err", err)
				}
			}
		}
	}
}

// itemsRequest is the body of POST /items.
type itemsRequest struct {
	// Embeddings holds one row per new item: its raw LLM embedding (when
	// the service was started with -llm) or its item vector.
	Embeddings [][]float64 `json:"embeddings"`
}

// itemsResponse is the answer of POST /items.
type itemsResponse struct {
	// IDs are the new items' ids, in the order of the rows.
	IDs []int `json:"ids"`
	// Items is the number of items served now.
	Items int `json:"items"`
	// Persisted tells whether the additions were saved beside the model.
	Persisted bool `json:"persisted"`
}

// addItems serves POST /items: it validates every row (count, width,
// finite float32 values) before changing anything, adds the items, and
// saves all additions beside the model (atomically).
func (h *handler) addItems(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /items (use POST)", r.Method))
		return
	}
	body, rerr := h.readBody(w, r, h.lim.MaxItemsBody)
	if rerr != nil {
		writeError(w, rerr.status, rerr.msg)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req itemsRequest
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request: "+strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid JSON: data after the request object")
		return
	}
	s := h.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.cur.Load()
	rows, rerr := h.validateRows(req.Embeddings, sv.embDim)
	if rerr != nil {
		writeError(w, rerr.status, rerr.msg)
		return
	}
	var first int
	var err error
	if sv.fromText {
		first, err = sv.rec.AddItems(rows)
	} else {
		first, err = sv.rec.AddItemVectors(rows)
	}
	if err != nil {
		writeError(w, statusOfAdd(err), "add items: "+err.Error())
		return
	}
	h.svc.metrics.added(rows.Rows())
	resp := itemsResponse{Items: sv.rec.NumItems()}
	for i := range rows.Rows() {
		resp.IDs = append(resp.IDs, first+i)
	}
	if s.modelPath != "" {
		if err := sv.rec.SaveItems(itemsPath(s.modelPath)); err != nil {
			s.log.Error("added items not saved", "path", itemsPath(s.modelPath), "err", err)
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("items %d..%d are served but could not be saved: %v", first, first+rows.Rows()-1, err))
			return
		}
		resp.Persisted = true
	}
	writeJSON(w, http.StatusOK, resp)
}

// statusOfAdd maps an addition error: bad rows are the client's fault.
func statusOfAdd(err error) int {
	if errors.Is(err, backbone.ErrNonFinite) || errors.Is(err, backbone.ErrBadConfig) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// validateRows checks the rows of a POST /items and returns them as a
// tensor.
func (h *handler) validateRows(rows [][]float64, dim int) (*tensor.Tensor, *requestError) {
	if dim == 0 {
		return nil, &requestError{http.StatusConflict, "this model cannot take new items (a mixture needs -llm)"}
	}
	if len(rows) == 0 {
		return nil, badRequest("\"embeddings\" is missing or empty: send one row per new item")
	}
	if len(rows) > h.lim.MaxAddRows {
		return nil, badRequest("%d rows, more than the limit of %d per request", len(rows), h.lim.MaxAddRows)
	}
	t := tensor.New(len(rows), dim)
	for i, row := range rows {
		if len(row) != dim {
			return nil, badRequest("row %d has %d values, want %d", i, len(row), dim)
		}
		for j, v := range row {
			f := float32(v)
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, badRequest("row %d value %d (%v) is not a finite float32", i, j, v)
			}
			t.Data[i*dim+j] = f
		}
	}
	return t, nil
}
