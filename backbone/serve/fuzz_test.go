package serve

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRecommend sends arbitrary bodies to POST /recommend. Whatever the
// body, the handler must not panic, must answer 200, 400 or 413 with a JSON
// body, and a 200 must be a well-formed ranking that agrees with an
// independent reading of the request. The seed corpus is in
// testdata/fuzz/FuzzRecommend.
func FuzzRecommend(f *testing.F) {
	f.Add([]byte(`{"history":[3,4,5],"k":3,"exclude_history":true}`))
	f.Add([]byte(`{"history":[1],"k":0}`))
	_, rec := tinyModel(f)
	lim := Options{MaxK: 8, MaxBody: 512, MaxHistory: 16}
	h := newTestHandler(f, rec, lim)
	f.Fuzz(func(t *testing.T, body []byte) {
		rr := post(h, string(body))
		require.Equal(t, "application/json", rr.Header().Get("Content-Type"))
		switch rr.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e ErrorResponse
			require.NoError(t, json.Unmarshal(rr.Body.Bytes(), &e), "%q", rr.Body)
			require.NotEmpty(t, e.Error)
			if rr.Code == http.StatusRequestEntityTooLarge {
				require.Greater(t, int64(len(body)), lim.MaxBody)
			}
			return
		default:
			t.Fatalf("status %d for body %q: %s", rr.Code, body, rr.Body)
		}
		// A 200: the body must be a valid request, read here with a plain
		// (lenient) decoder as the oracle.
		require.LessOrEqual(t, int64(len(body)), lim.MaxBody)
		var req struct {
			History []int `json:"history"`
			K       *int  `json:"k"`
			Exclude *bool `json:"exclude_history"`
		}
		require.NoError(t, json.Unmarshal(body, &req), "accepted an undecodable body %q", body)
		require.NotEmpty(t, req.History)
		require.LessOrEqual(t, len(req.History), lim.MaxHistory)
		for _, it := range req.History {
			require.True(t, it >= 1 && it <= rec.NumItems(), "accepted item %d", it)
		}
		k := 10 // documented default, capped at the limit
		if lim.MaxK < k {
			k = lim.MaxK
		}
		if req.K != nil {
			k = *req.K
		}
		require.True(t, k >= 1 && k <= lim.MaxK, "accepted k %d", k)
		exclude := req.Exclude == nil || *req.Exclude

		var resp RecommendResponse
		decodeStrict(t, rr.Body.Bytes(), &resp)
		require.Len(t, resp.Scores, len(resp.Items))
		want := k
		if left := rec.NumItems() - distinct(req.History); exclude && left < want {
			want = left
		}
		require.Len(t, resp.Items, want)
		seen := map[int]bool{}
		for i, it := range resp.Items {
			require.True(t, it >= 1 && it <= rec.NumItems(), "item %d", it)
			require.False(t, seen[it], "item %d twice", it)
			seen[it] = true
			if exclude {
				require.NotContains(t, req.History, it)
			}
			if i > 0 {
				require.LessOrEqual(t, resp.Scores[i], resp.Scores[i-1], "scores not sorted")
			}
		}
	})
}

func distinct(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return len(slices.Compact(s))
}
