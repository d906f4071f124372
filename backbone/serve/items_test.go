package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/internal/servetest"
	"github.com/llmrec/llmrec/tensor"
)

const token = "s3cret-token"

// copyModel copies the tiny model into a fresh folder (so that its items
// log is the test's own) and returns the new path.
func copyModel(t *testing.T) string {
	src, _ := tinyModel(t)
	dst := filepath.Join(t.TempDir(), "m.safetensors")
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o644))
	return dst
}

// saveOther writes a different model over path (servetest.SaveOther).
func saveOther(t *testing.T, path string, numItems int, seed uint64) {
	t.Helper()
	require.NoError(t, servetest.SaveOther(path, numItems, seed))
}

// llmTable returns synthetic raw LLM embeddings for n items (row 0 zero),
// width 12.
func llmTable(n int, seed uint64) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	t := tensor.New(n+1, 12)
	for i := 12; i < len(t.Data); i++ {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

// rowsJSON returns a POST /items body of the rows of t.
func rowsJSON(t *tensor.Tensor) string {
	rows := make([][]float32, t.Rows())
	for i := range rows {
		rows[i] = t.Row(i)
	}
	b, _ := json.Marshal(map[string]any{"embeddings": rows})
	return string(b)
}

// filled returns an n x d tensor whose values cycle through v, 2v, 3v.
func filled(n, d int, v float32) *tensor.Tensor {
	t := tensor.New(n, d)
	for i := range t.Data {
		t.Data[i] = v * float32(1+i%3)
	}
	return t
}

func postItems(h http.Handler, auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

func openTest(t *testing.T, path string, opt Options) *Handler {
	t.Helper()
	h, err := Open(path, opt)
	require.NoError(t, err)
	return h
}

// Writes are off unless a token enables them, and then need it (issue 21:
// before, anyone could add items).
func TestWritesNeedAToken(t *testing.T) {
	path := copyModel(t)
	h := openTest(t, path, Options{})
	rr := postItems(h, token, rowsJSON(filled(1, 16, 0.1)))
	require.Equal(t, http.StatusForbidden, rr.Code, rr.Body.String())
	assertJSONError(t, rr, "catalog writes are disabled")

	h = openTest(t, path, Options{AddToken: token})
	for _, auth := range []string{"", "wrong", token + "x", token[:len(token)-1]} {
		rr = postItems(h, auth, rowsJSON(filled(1, 16, 0.1)))
		require.Equal(t, http.StatusUnauthorized, rr.Code, "token %q", auth)
		assert.Contains(t, rr.Header().Get("WWW-Authenticate"), "Bearer")
	}
	req := httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(rowsJSON(filled(1, 16, 0.1))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic "+token)
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	require.Equal(t, http.StatusUnauthorized, rr.Code, "only a bearer token")
	require.Equal(t, 20, h.NumItems())

	rr = postItems(h, token, rowsJSON(filled(2, 16, 0.1)))
	require.Equal(t, http.StatusOK, rr.Code, rr.Body.String())
	var got ItemsResponse
	decodeStrict(t, rr.Body.Bytes(), &got)
	require.Equal(t, ItemsResponse{IDs: []int{21, 22}, Items: 22, Persisted: true}, got)
}

// Issue 21, row 1: rows of huge finite values (±3e38) are refused before
// they are committed (before: 200 and persisted, then every /recommend
// answered 500 and a restart refused to start). With LLM rows, an item's own
// row scaled by 1e6 is refused (before: accepted, and it ranked first for
// every user); the row itself is accepted.
func TestAddRejectsHugeRows(t *testing.T) {
	path := copyModel(t)
	h := openTest(t, path, Options{AddToken: token})
	huge := tensor.New(1, 16)
	for i := range huge.Data {
		huge.Data[i] = 3e38 * float32(1-2*(i%2))
	}
	rr := postItems(h, token, rowsJSON(huge))
	require.Equal(t, http.StatusBadRequest, rr.Code, rr.Body.String())
	assertJSONError(t, rr, "above the bound")
	_, err := h.AddItems(huge)
	require.ErrorIs(t, err, ErrRejected)
	require.Equal(t, 20, h.NumItems())
	require.NoFileExists(t, ItemsLogPath(path), "nothing persisted")
	require.Equal(t, http.StatusOK, post(h, `{"history":[1,2,3]}`).Code)
	_, err = Open(path, Options{})
	require.NoError(t, err, "a restart serves")

	// LLM rows
	llm := llmTable(20, 1)
	h = openTest(t, path, Options{AddToken: token, LLM: llm})
	own := tensor.FromSlice(append([]float32(nil), llm.Row(5)...), 1, 12)
	scaled := own.Clone()
	for i := range scaled.Data {
		scaled.Data[i] *= 1e6
	}
	rr = postItems(h, token, rowsJSON(scaled))
	require.Equal(t, http.StatusBadRequest, rr.Code, rr.Body.String())
	assertJSONError(t, rr, "LLM embedding norm")
	rr = postItems(h, token, rowsJSON(own))
	require.Equal(t, http.StatusOK, rr.Code, rr.Body.String())
	require.Equal(t, 21, h.NumItems())
}

// A planted bug: with the norm bound off (a huge factor), the huge row of
// TestAddRejectsHugeRows gets through the norm check and the probe
// histories catch what it does to the scores, so the check that matters
// is not the norm alone.
func TestProbeCatchesOverflowingItems(t *testing.T) {
	path := copyModel(t)
	h := openTest(t, path, Options{AddToken: token, NormFactor: 1e300})
	huge := tensor.New(1, 16)
	huge.Fill(3e38)
	_, err := h.AddItems(huge)
	require.ErrorIs(t, err, ErrRejected)
	require.ErrorIs(t, err, backbone.ErrNonFinite)
	require.ErrorContains(t, err, "probe history")
	require.Equal(t, 20, h.NumItems())
}

// Issue 21, row 2: the POST /items body is decoded as a stream with the
// limits applied while decoding: 16 MiB of 4.2M one-value rows is refused
// at its first row having too few values, holding almost nothing (before:
// decoded whole, RSS 17 -> 470 MB, 2.8 GiB for eight at once).
func TestItemsBodyIsStreamed(t *testing.T) {
	path := copyModel(t)
	h := openTest(t, path, Options{AddToken: token})
	var b strings.Builder
	b.WriteString(`{"embeddings":[`)
	for i := range 4_190_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("[1]")
	}
	b.WriteString("]}")
	body := b.String()
	require.Less(t, len(body), 16<<20)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	rr := postItems(h, token, body)
	runtime.ReadMemStats(&ms1)
	require.Equal(t, http.StatusBadRequest, rr.Code)
	assertJSONError(t, rr, "row 0 has 1 values, want 16")
	used := ms1.TotalAlloc - ms0.TotalAlloc
	t.Logf("allocated %d bytes for a %d-byte body", used, len(body))
	require.Less(t, used, uint64(1<<20), "the body was not decoded as a stream")

	// too many rows: refused at the first row over the limit
	h = openTest(t, copyModel(t), Options{AddToken: token, MaxAddRows: 3})
	rr = postItems(h, token, rowsJSON(filled(1000, 16, 0.1)))
	require.Equal(t, http.StatusBadRequest, rr.Code)
	assertJSONError(t, rr, "more than 3 rows")
	// a long row: refused at its 17th value
	rr = postItems(h, token, `{"embeddings":[[`+strings.Repeat("1,", 100000)+`1]]}`)
	require.Equal(t, http.StatusBadRequest, rr.Code)
	assertJSONError(t, rr, "row 0 has more than 16 values")
	for name, bad := range map[string]string{
		"NaN literal":      `{"embeddings":[[NaN` + strings.Repeat(",1", 15) + `]]}`,
		"NaN string":       `{"embeddings":[["NaN"` + strings.Repeat(",1", 15) + `]]}`,
		"float32 overflow": `{"embeddings":[[1e39` + strings.Repeat(",1", 15) + `]]}`,
		"float64 overflow": `{"embeddings":[[1e999` + strings.Repeat(",1", 15) + `]]}`,
		"ragged":           `{"embeddings":[[` + strings.Repeat("1,", 15) + `1],[1]]}`,
		"no rows":          `{"embeddings":[]}`,
		"missing field":    `{}`,
		"empty":            ``,
		"null":             `null`,
		"unknown field":    `{"vectors":[]}`,
		"twice":            `{"embeddings":[[` + strings.Repeat("1,", 15) + `1]],"embeddings":[]}`,
		"trailing data":    rowsJSON(filled(1, 16, 0.1)) + `{}`,
		"truncated":        `{"embeddings":[[1,2`,
	} {
		rr := postItems(h, token, bad)
		assert.Equal(t, http.StatusBadRequest, rr.Code, "%s: %s", name, rr.Body)
		assert.Contains(t, rr.Body.String(), `"error"`, name)
	}
	require.Equal(t, 20, h.NumItems())
	// the byte limit holds while streaming (chunked body, no length)
	h = openTest(t, copyModel(t), Options{AddToken: token, MaxItemsBody: 1000})
	req := httptest.NewRequest(http.MethodPost, "/items", io.MultiReader(strings.NewReader(`{"embeddings":[[`), strings.NewReader(strings.Repeat(" ", 5000))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, rr.Code, rr.Body.String())
}

// blockingBody is a request body that blocks until release is closed.
type blockingBody struct {
	started chan struct{}
	release chan struct{}
	r       io.Reader
}

func (b *blockingBody) Read(p []byte) (int, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-b.release
	return b.r.Read(p)
}

// Issue 21, row 2: concurrent decodes are bounded; one more answers 503
// with Retry-After before its body is read.
func TestConcurrentDecodesBounded(t *testing.T) {
	h := openTest(t, copyModel(t), Options{AddToken: token, MaxConcurrentAdds: 1})
	slow := &blockingBody{started: make(chan struct{}, 1), release: make(chan struct{}), r: strings.NewReader(rowsJSON(filled(1, 16, 0.1)))}
	done := make(chan int)
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/items", slow)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		done <- rr.Code
	}()
	<-slow.started
	rr := postItems(h, token, rowsJSON(filled(1, 16, 0.1)))
	require.Equal(t, http.StatusServiceUnavailable, rr.Code, rr.Body.String())
	require.Equal(t, "1", rr.Header().Get("Retry-After"))
	close(slow.release)
	require.Equal(t, http.StatusOK, <-done)
	rr = postItems(h, token, rowsJSON(filled(1, 16, 0.1)))
	require.Equal(t, http.StatusOK, rr.Code, "the slot is released")
}

// Issue 21, row 3: additions are appended to the items log (each add costs
// its own rows: the file before an add is a prefix of the file after it,
// and grows by about the rows' text), and the cap on added items is a
// clear 409 (before: the catalog grew without bound and every add rewrote
// and synced the whole file).
func TestItemsLogAppendsAndCaps(t *testing.T) {
	path := copyModel(t)
	h := openTest(t, path, Options{AddToken: token, MaxAdded: 25})
	var prev []byte
	for i := range 5 {
		body := rowsJSON(filled(5, 16, 0.01*float32(i+1)))
		rr := postItems(h, token, body)
		require.Equal(t, http.StatusOK, rr.Code, rr.Body.String())
		cur, err := os.ReadFile(ItemsLogPath(path))
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(cur, prev), "add %d rewrote the log", i)
		grew := len(cur) - len(prev)
		require.InDelta(t, len(body), grew, float64(len(body))/2, "add %d grew the log by %d for a %d-byte body", i, grew, len(body))
		prev = cur
	}
	require.Equal(t, 45, h.NumItems())
	rr := postItems(h, token, rowsJSON(filled(1, 16, 0.1)))
	require.Equal(t, http.StatusConflict, rr.Code)
	assertJSONError(t, rr, "25 items added, 1 more would pass the cap of 25 (Options.MaxAdded)")
	_, err := h.AddItems(filled(1, 16, 0.1))
	require.ErrorIs(t, err, ErrCatalogFull)

	// a restart serves the same items with the same ids and vectors
	h2 := openTest(t, path, Options{MaxAdded: 25})
	require.Equal(t, 45, h2.NumItems())
	require.Equal(t, h.Recommender().ItemVectors().Data, h2.Recommender().ItemVectors().Data)
	// a lower cap than the log holds: refused, not cut
	_, err = Open(path, Options{MaxAdded: 10})
	require.ErrorIs(t, err, ErrReloadRefused)
}

// A last line cut short by a crash is dropped and cut from the log; the
// additions before it are kept and the next append starts a clean line.
func TestItemsLogTornTail(t *testing.T) {
	path := copyModel(t)
	h := openTest(t, path, Options{AddToken: token})
	_, err := h.AddItems(filled(2, 16, 0.1))
	require.NoError(t, err)
	good, err := os.ReadFile(ItemsLogPath(path))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(ItemsLogPath(path), append(append([]byte(nil), good...), `{"first":23,"kind":"vec`...), 0o644))
	h = openTest(t, path, Options{AddToken: token})
	require.Equal(t, 22, h.NumItems())
	after, err := os.ReadFile(ItemsLogPath(path))
	require.NoError(t, err)
	require.Equal(t, good, after)
	first, err := h.AddItems(filled(1, 16, 0.2))
	require.NoError(t, err)
	require.Equal(t, 23, first)
	require.Equal(t, 23, openTest(t, path, Options{}).NumItems())

	// a malformed line in the middle is an error, never guessed at
	b, _ := os.ReadFile(ItemsLogPath(path))
	require.NoError(t, os.WriteFile(ItemsLogPath(path), append([]byte("{oops}\n"), b...), 0o644))
	_, err = Open(path, Options{})
	require.ErrorContains(t, err, "line 1")
}

// llmLoader is LoadSeqModel counting its calls.
func encodeWith(t *testing.T, path string, llm, rows *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	rec, _, err := LoadSeqModel(path, llm)
	require.NoError(t, err)
	enc, err := backbone.NewItemEncoder(rec.SeqModel().Items, backbone.ItemEncoderOptions{LLM: llm})
	require.NoError(t, err)
	v, err := enc.Encode(rows)
	require.NoError(t, err)
	return v
}

// Issue 21, row 4: additions survive reloads correctly. Before: reloading a
// model with another item count overwrote the additions file (the items
// were lost and their ids went to other items), and a retrained model of
// the same size silently reused the old model's item vectors.
func TestReloadKeepsAdditions(t *testing.T) {
	t.Run("text rows are re-encoded by the new model", func(t *testing.T) {
		path := copyModel(t)
		llm := llmTable(20, 2)
		h := openTest(t, path, Options{AddToken: token, LLM: llm})
		rows := tensor.FromSlice(append([]float32(nil), llm.Data[12*3:12*8]...), 5, 12)
		first, err := h.AddItems(rows)
		require.NoError(t, err)
		require.Equal(t, 21, first)

		// another item count (its LLM rows do not fit either): the old
		// model keeps serving its 25 items
		saveOther(t, path, 30, 1)
		require.Error(t, h.Reload())
		require.Equal(t, 25, h.NumItems())
		// adds still work and are kept
		first, err = h.AddItems(tensor.FromSlice(append([]float32(nil), llm.Row(9)...), 1, 12))
		require.NoError(t, err)
		require.Equal(t, 26, first)

		// a retrained model of the same size: the rows are re-encoded
		// through its own item encoder, not reused
		saveOther(t, path, 20, 7)
		require.NoError(t, h.Reload())
		require.Equal(t, 26, h.NumItems())
		want := encodeWith(t, path, llm, concatRows([]*tensor.Tensor{rows, tensor.FromSlice(append([]float32(nil), llm.Row(9)...), 1, 12)}))
		got := h.Recommender().ItemVectors()
		require.Equal(t, want.Data, got.Data[21*16:27*16], "the new model's encoding of the sent rows")
		old := encodeWith(t, copyModel(t), llm, rows)
		require.NotEqual(t, old.Data, got.Data[21*16:26*16], "not the old model's vectors")
		var gh Health
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		decodeStrict(t, rr.Body.Bytes(), &gh)
		require.Equal(t, 6, gh.Added)
		require.EqualValues(t, 1, gh.Reloads)
	})
	t.Run("item vectors are only for their model", func(t *testing.T) {
		path := copyModel(t)
		h := openTest(t, path, Options{AddToken: token})
		_, err := h.AddItems(filled(3, 16, 0.1))
		require.NoError(t, err)
		// another item count: refused, ids would change
		saveOther(t, path, 30, 1)
		err = h.Reload()
		require.ErrorIs(t, err, ErrReloadRefused)
		require.ErrorContains(t, err, "ids would change")
		require.Equal(t, 23, h.NumItems())
		first, err := h.AddItems(filled(1, 16, 0.2))
		require.NoError(t, err)
		require.Equal(t, 24, first, "adds go on beside the refused model")
		saveOther(t, path, 20, 9) // same size, other weights
		err = h.Reload()
		require.ErrorIs(t, err, ErrReloadRefused)
		require.ErrorContains(t, err, "cannot be re-encoded")
		require.Equal(t, 24, h.NumItems(), "the old model keeps serving")
		_, err = Open(path, Options{})
		require.ErrorIs(t, err, ErrReloadRefused, "nor does a restart reuse them")
		// the same model again: kept
		src, _ := tinyModel(t)
		b, _ := os.ReadFile(src)
		require.NoError(t, os.WriteFile(path, b, 0o644))
		require.NoError(t, h.Reload())
		require.Equal(t, 24, h.NumItems())
		// text rows logged, but the model is served without LLM rows
		llm := llmTable(20, 3)
		h = openTest(t, path, Options{AddToken: token, LLM: llm})
		_, err = h.AddItems(tensor.FromSlice(append([]float32(nil), llm.Row(2)...), 1, 12))
		require.NoError(t, err)
		_, err = Open(path, Options{})
		require.ErrorIs(t, err, ErrReloadRefused)
		require.ErrorContains(t, err, "without LLM rows")
	})
}

// metricsRecorder records the reload results.
type metricsRecorder struct {
	nopMetrics
	reloads chan string
}

func (m *metricsRecorder) Reload(r string) { m.reloads <- r }

// A refused reload is counted as such (ReloadRefused), a broken file as an
// error.
func TestReloadMetrics(t *testing.T) {
	path := copyModel(t)
	m := &metricsRecorder{reloads: make(chan string, 4)}
	h := openTest(t, path, Options{AddToken: token, Metrics: m})
	_, err := h.AddItems(filled(1, 16, 0.1))
	require.NoError(t, err)
	saveOther(t, path, 21, 1)
	require.Error(t, h.Reload())
	require.Equal(t, ReloadRefused, <-m.reloads)
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o644))
	require.Error(t, h.Reload())
	require.Equal(t, ReloadError, <-m.reloads)
}

// Issue 21, row 5: a file that fails slowly and is replaced by a good one
// while it fails: the watcher loads the good one (before: the failed load
// recorded the good file's size and time, so it was never loaded).
func TestWatchAfterSlowFailure(t *testing.T) {
	path := copyModel(t)
	entered, release := make(chan struct{}), make(chan struct{})
	slowBad := func(p string, llm *tensor.Tensor) (*backbone.Recommender, string, error) {
		b, _ := os.ReadFile(p)
		if bytes.HasPrefix(b, []byte("bad")) {
			entered <- struct{}{}
			<-release
			return nil, "", fmt.Errorf("bad model")
		}
		return LoadSeqModel(p, llm)
	}
	h := openTest(t, path, Options{Load: slowBad})
	require.False(t, h.changed())
	require.NoError(t, os.WriteFile(path, []byte("bad model, slow to fail"), 0o644))
	require.True(t, h.changed())
	errc := make(chan error)
	go func() { errc <- h.Reload() }()
	<-entered
	saveOther(t, path, 20, 3) // the good file lands while the bad one fails
	close(release)
	require.Error(t, <-errc)
	require.True(t, h.changed(), "the good file is a new version")
	require.NoError(t, h.Reload())
	require.False(t, h.changed())
	// a failed version is not retried until it changes
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o644))
	require.True(t, h.changed())
	require.Error(t, h.Reload())
	require.False(t, h.changed())
}

func TestNormBoundsFromTrainedItems(t *testing.T) {
	_, rec := tinyModel(t)
	v := rec.ItemVectors()
	want := 0.0
	for i := 1; i < v.Rows(); i++ {
		var s float64
		for _, x := range v.Row(i) {
			s += float64(x) * float64(x)
		}
		want = math.Max(want, math.Sqrt(s))
	}
	require.InDelta(t, want, maxRowNorm(v, 1, v.Rows()), 1e-9)
}
