package serve

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var longNumber = regexp.MustCompile(`[-0-9.eE+]{60,}`)

// FuzzDecodeRows checks the hand-written POST /items scanner against
// encoding/json as the oracle (width 3, at most 4 rows): whatever it
// accepts, encoding/json reads as the same rows; whatever encoding/json
// reads as a valid request (one "embeddings" key, 1..4 rows of 3 finite
// float32 values), it accepts. Bodies the scanner refuses on purpose are
// left out of the second direction: escaped keys and numbers of 60 or more
// characters.
func FuzzDecodeRows(f *testing.F) {
	for _, s := range []string{
		`{"embeddings":[[1,2,3]]}`, ` { "embeddings" : [ [ 1 , -2.5e-3 , 3E2 ] , [0,0,0] ] } `,
		`{"embeddings":[[1,2]]}`, `{"embeddings":[]}`, `{}`, `[]`, `null`, ``,
		`{"embeddings":[[1,2,3],]}`, `{"embeddings":[[01,2,3]]}`, `{"embeddings":[[1.,2,3]]}`,
		`{"embeddings":[[1e39,2,3]]}`, `{"embeddings":[[NaN,2,3]]}`, `{"embe\u0064dings":[[1,2,3]]}`,
		`{"embeddings":[[1,2,3]],"x":1}`, `{"embeddings":[[1,2,3]]} x`, `{"embeddings":[[1,2,3],[1,2,3],[1,2,3],[1,2,3],[1,2,3]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, rerr := decodeRows(bytes.NewReader(body), 3, 4, 1<<20)
		var req ItemsRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		jerr := dec.Decode(&req)
		if jerr == nil {
			if _, err := dec.Token(); err == nil {
				jerr = errTrailing
			}
		}
		var keys map[string]json.RawMessage
		oneKey := json.Unmarshal(body, &keys) == nil && len(keys) == 1
		if rerr == nil {
			require.NoError(t, jerr, "scanner accepted %q", body)
			require.Equal(t, len(req.Embeddings), got.Rows())
			for i, row := range req.Embeddings {
				require.Len(t, row, 3)
				for j, v := range row {
					require.Equal(t, float32(v), got.Row(i)[j], "row %d value %d of %q", i, j, body)
				}
			}
			return
		}
		require.NotEqual(t, 0, rerr.status)
		if jerr != nil || !oneKey || bytes.ContainsRune(body, '\\') || longNumber.Match(body) {
			return
		}
		valid := len(req.Embeddings) >= 1 && len(req.Embeddings) <= 4
		for _, row := range req.Embeddings {
			valid = valid && len(row) == 3
			for _, v := range row {
				valid = valid && finite32(v)
			}
		}
		if valid && !strings.Contains(string(body), `"embeddings":null`) {
			t.Fatalf("encoding/json reads a valid request from %q; the scanner refused it: %s", body, rerr.msg)
		}
	})
}

var errTrailing = &requestError{msg: "trailing data"}
