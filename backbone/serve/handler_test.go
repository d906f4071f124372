package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testLimits are small so that each limit is easy to cross.
var testLimits = Options{MaxK: 5, MaxBody: 256, MaxHistory: 8}

func TestRecommendErrors(t *testing.T) {
	_, rec := tinyModel(t)
	h := newTestHandler(t, rec, testLimits)
	cases := []struct {
		name, body string
		status     int
		msg        string // substring of the error message
	}{
		{"unknown field", `{"history":[1,2],"k":3,"extra":1}`, 400, `unknown field "extra"`},
		{"history not array", `{"history":"abc"}`, 400, `field "history"`},
		{"history float id", `{"history":[1.5]}`, 400, `integer item id`},
		{"history string id", `{"history":["7"]}`, 400, `integer item id`},
		{"history huge id", `{"history":[99999999999999999999]}`, 400, `integer item id`},
		{"k string", `{"history":[1],"k":"10"}`, 400, `field "k"`},
		{"k float", `{"history":[1],"k":2.5}`, 400, `field "k"`},
		{"exclude not bool", `{"history":[1],"exclude_history":1}`, 400, `field "exclude_history"`},
		{"truncated", `{"history":[1,2`, 400, `unexpected end`},
		{"syntax", `{history:[1]}`, 400, `invalid JSON at byte`},
		{"trailing object", `{"history":[1]} {"history":[2]}`, 400, `data after the request object`},
		{"trailing garbage", `{"history":[1]}x`, 400, `invalid JSON`},
		{"array body", `[1,2,3]`, 400, `expected a JSON object`},
		{"string body", `"hi"`, 400, `expected a JSON object`},
		{"null body", `null`, 400, `missing field "history"`},
		{"empty body", ``, 400, `empty body`},
		{"blank body", " \n\t", 400, `empty body`},
		{"empty object", `{}`, 400, `missing field "history"`},
		{"history null", `{"history":null}`, 400, `missing field "history"`},
		{"empty history", `{"history":[]}`, 400, `"history" is empty`},
		{"id zero", `{"history":[0]}`, 400, `item id 0 outside 1..20`},
		{"id too big", `{"history":[1,21]}`, 400, `input 0: item id 21 outside 1..20`},
		{"id negative", `{"history":[4,5,-3]}`, 400, `item id -3 outside 1..20`},
		{"k zero", `{"history":[1],"k":0}`, 400, `"k" is 0, want 1..5`},
		{"k negative", `{"history":[1],"k":-1}`, 400, `"k" is -1, want 1..5`},
		{"k over max", `{"history":[1],"k":6}`, 400, `"k" is 6, want 1..5`},
		{"history too long", `{"history":[1,2,3,4,5,6,7,8,9]}`, 400, `9 items, more than the limit of 8`},
		{"body too large", `{"history":[1]` + strings.Repeat(" ", 300) + `}`, 413, `limit of 256 bytes`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr := post(h, c.body)
			require.Equal(t, c.status, rr.Code, "body %q -> %s", c.body, rr.Body)
			assertJSONError(t, rr, c.msg)
		})
	}
}

// assertJSONError checks that rr carries a JSON {"error": ...} containing msg.
func assertJSONError(t *testing.T, rr *httptest.ResponseRecorder, msg string) {
	t.Helper()
	assert.Equal(t, "application/json", rr.Header().Get("Content-Type"))
	var e ErrorResponse
	decodeStrict(t, rr.Body.Bytes(), &e)
	assert.Contains(t, e.Error, msg)
}

func TestRecommendBodyTooLargeChunked(t *testing.T) {
	// Without a Content-Length the limit is enforced while reading.
	_, rec := tinyModel(t)
	h := newTestHandler(t, rec, testLimits)
	body := `{"history":[1]` + strings.Repeat(" ", 1000) + `}`
	req := httptest.NewRequest(http.MethodPost, "/recommend", strings.NewReader(body))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, rr.Code, rr.Body.String())
	assertJSONError(t, rr, "exceeds the limit of 256 bytes")

	// Exactly at the limit is accepted.
	ok := `{"history":[1]`
	ok += strings.Repeat(" ", int(testLimits.MaxBody)-len(ok)-1) + "}"
	require.Len(t, ok, int(testLimits.MaxBody))
	assert.Equal(t, http.StatusOK, post(h, ok).Code)
}

func TestMethodContentTypePath(t *testing.T) {
	_, rec := tinyModel(t)
	h := newTestHandler(t, rec, testLimits)
	do := func(method, path, ct, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		return rr
	}
	good := `{"history":[3,4,5],"k":2}`

	rr := do(http.MethodGet, "/recommend", "", "")
	require.Equal(t, http.StatusMethodNotAllowed, rr.Code)
	assert.Equal(t, "POST", rr.Header().Get("Allow"))
	assertJSONError(t, rr, "method GET not allowed on /recommend")

	rr = do(http.MethodPut, "/recommend", "application/json", good)
	require.Equal(t, http.StatusMethodNotAllowed, rr.Code)
	assertJSONError(t, rr, "method PUT")

	rr = do(http.MethodPost, "/healthz", "application/json", good)
	require.Equal(t, http.StatusMethodNotAllowed, rr.Code)
	assert.Equal(t, "GET, HEAD", rr.Header().Get("Allow"))
	assertJSONError(t, rr, "method POST not allowed on /healthz")

	rr = do(http.MethodPost, "/recommend", "", good)
	require.Equal(t, http.StatusUnsupportedMediaType, rr.Code)
	assertJSONError(t, rr, "missing Content-Type")

	rr = do(http.MethodPost, "/recommend", "text/plain", good)
	require.Equal(t, http.StatusUnsupportedMediaType, rr.Code)
	assertJSONError(t, rr, `Content-Type "text/plain" not supported`)

	rr = do(http.MethodPost, "/recommend", "application/json;;;", good)
	require.Equal(t, http.StatusUnsupportedMediaType, rr.Code)

	rr = do(http.MethodPost, "/recommend", "application/json; charset=utf-8", good)
	require.Equal(t, http.StatusOK, rr.Code, rr.Body.String())

	rr = do(http.MethodGet, "/nope", "", "")
	require.Equal(t, http.StatusNotFound, rr.Code)
	assertJSONError(t, rr, `no such path "/nope"`)
}

func TestHealthz(t *testing.T) {
	_, rec := tinyModel(t)
	h := newTestHandler(t, rec, testLimits)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rr.Code)
	assert.Equal(t, "application/json", rr.Header().Get("Content-Type"))
	var got Health
	decodeStrict(t, rr.Body.Bytes(), &got)
	assert.Equal(t, Health{Status: "ok", Items: 20, Dim: 16, MaxK: 5, MaxHistory: 8, MaxBody: 256, Kind: "backbone", EmbeddingDim: 16, MaxAdded: 10000}, got)

	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodHead, "/healthz", nil))
	require.Equal(t, http.StatusOK, rr.Code)
	assert.Empty(t, rr.Body.Bytes())
}

// naiveTopK ranks items 1..n by score (ties: lower id first), skipping
// exclude, from scores computed one item at a time.
func naiveTopK(t *testing.T, history []int, k int, exclude []int) ([]int, []float32) {
	t.Helper()
	_, rec := tinyModel(t)
	type is struct {
		item  int
		score float64
	}
	var all []is
	for it := 1; it <= rec.NumItems(); it++ {
		if slices.Contains(exclude, it) {
			continue
		}
		s, err := rec.Score(nil, history, []int{it})
		require.NoError(t, err)
		all = append(all, is{it, float64(s[0])})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	var items []int
	var scores []float32
	for i := 0; i < k && i < len(all); i++ {
		items = append(items, all[i].item)
		scores = append(scores, float32(all[i].score))
	}
	return items, scores
}

func TestRecommendSuccess(t *testing.T) {
	_, rec := tinyModel(t)
	small := newTestHandler(t, rec, testLimits)
	wide := newTestHandler(t, rec, Options{MaxK: 100, MaxBody: 1 << 16, MaxHistory: 100})
	cases := []struct {
		name    string
		h       http.Handler
		body    string
		history []int
		k       int
		exclude bool
	}{
		{"explicit k, default exclude", small, `{"history":[3,4,5],"k":3}`, []int{3, 4, 5}, 3, true},
		{"default k capped at max-k", small, `{"history":[3,4,5]}`, []int{3, 4, 5}, 5, true},
		{"default k", wide, `{"history":[3,4,5]}`, []int{3, 4, 5}, 10, true},
		{"keep history", small, `{"history":[3,4,5],"k":5,"exclude_history":false}`, []int{3, 4, 5}, 5, false},
		{"exclude explicit", small, `{"exclude_history":true,"k":5,"history":[10,11]}`, []int{10, 11}, 5, true},
		{"fewer left than k", wide, `{"history":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18],"k":10}`,
			[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, 10, true},
		{"repeated items", small, `{"history":[7,7,7],"k":5}`, []int{7, 7, 7}, 5, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr := post(c.h, c.body)
			require.Equal(t, http.StatusOK, rr.Code, rr.Body.String())
			assert.Equal(t, "application/json", rr.Header().Get("Content-Type"))
			var got RecommendResponse
			decodeStrict(t, rr.Body.Bytes(), &got)
			var excl []int
			if c.exclude {
				excl = c.history
			}
			wantItems, wantScores := naiveTopK(t, c.history, c.k, excl)
			assert.Equal(t, wantItems, got.Items)
			require.Len(t, got.Scores, len(wantScores))
			for i := range wantScores {
				assert.InDelta(t, wantScores[i], got.Scores[i], 1e-5, "score %d", i)
			}
		})
	}
	// The synthetic model learned "i is followed by i+1".
	var got RecommendResponse
	decodeStrict(t, post(small, `{"history":[3,4,5],"k":1}`).Body.Bytes(), &got)
	assert.Equal(t, []int{6}, got.Items)
	// Only two items remain once 18 are excluded.
	decodeStrict(t, post(wide, `{"history":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18],"k":10}`).Body.Bytes(), &got)
	assert.ElementsMatch(t, []int{19, 20}, got.Items)
}

// The handler serves many goroutines at once with the same answers as one.
func TestRecommendConcurrent(t *testing.T) {
	_, rec := tinyModel(t)
	h := newTestHandler(t, rec, testLimits)
	want := make([]string, tinyItems-3)
	body := func(i int) string { return fmt.Sprintf(`{"history":[%d,%d,%d],"k":5}`, i, i+1, i+2) }
	for i := range want {
		want[i] = post(h, body(i+1)).Body.String()
	}
	done := make(chan []string, 4)
	for range 4 {
		go func() {
			var got []string
			for r := 0; r < 5; r++ {
				for i := range want {
					got = append(got, post(h, body(i+1)).Body.String())
				}
			}
			done <- got
		}()
	}
	for range 4 {
		got := <-done
		for j, g := range got {
			require.JSONEq(t, want[j%len(want)], g)
		}
	}
}

// recommendHTTP is what a client sees: decode a success body or fail.
func recommendHTTP(t *testing.T, c *http.Client, url, body string) RecommendResponse {
	t.Helper()
	resp, err := c.Post(url+"/recommend", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, buf.String())
	var got RecommendResponse
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	return got
}
