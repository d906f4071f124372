package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/llmrec/llmrec/tensor"
)

// decodeRows decodes a POST /items body, {"embeddings": [[...], ...]}, as a
// stream of tokens, applying the limits while decoding: a row longer than
// width or a row beyond maxRows stops it at once, so memory stays within
// maxRows x width values whatever the body holds (a 16 MiB body of 4M
// one-value rows is refused at its second row, not held as 4M slices).
func decodeRows(body io.Reader, width, maxRows int, limit int64) (*tensor.Tensor, *requestError) {
	dec := json.NewDecoder(body)
	fail := func(err error) *requestError {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", limit)}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return badRequest("invalid JSON: unexpected end of body")
		}
		return badRequest("invalid JSON at byte %d: %v", dec.InputOffset(), err)
	}
	expect := func(d json.Delim, what string) *requestError {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		if tok != d {
			return badRequest("invalid request: %s: got %v, want %q", what, tok, string(d))
		}
		return nil
	}
	if rerr := expect('{', "the body"); rerr != nil {
		if rerr.msg == "invalid JSON: unexpected end of body" {
			rerr.msg = "empty body (send a JSON object with an \"embeddings\" array)"
		}
		return nil, rerr
	}
	var data []float32
	rows, seen := 0, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		if tok != "embeddings" {
			return nil, badRequest("invalid request: unknown field %q (known: embeddings)", tok)
		}
		if seen {
			return nil, badRequest("invalid request: \"embeddings\" given twice")
		}
		seen = true
		if rerr := expect('[', "\"embeddings\""); rerr != nil {
			return nil, rerr
		}
		for dec.More() {
			if rows == maxRows {
				return nil, badRequest("more than %d rows, the limit per request", maxRows)
			}
			if rerr := expect('[', fmt.Sprintf("row %d", rows)); rerr != nil {
				return nil, rerr
			}
			n := 0
			for dec.More() {
				if n == width {
					return nil, badRequest("row %d has more than %d values, want %d", rows, width, width)
				}
				tok, err := dec.Token()
				if err != nil {
					return nil, fail(err)
				}
				v, ok := tok.(float64)
				if !ok {
					return nil, badRequest("row %d value %d is %v, not a number", rows, n, tok)
				}
				if !finite32(v) {
					return nil, badRequest("row %d value %d (%v) is not a finite float32", rows, n, v)
				}
				data = append(data, float32(v))
				n++
			}
			if rerr := expect(']', fmt.Sprintf("row %d", rows)); rerr != nil {
				return nil, rerr
			}
			if n != width {
				return nil, badRequest("row %d has %d values, want %d", rows, n, width)
			}
			rows++
		}
		if rerr := expect(']', "\"embeddings\""); rerr != nil {
			return nil, rerr
		}
	}
	if rerr := expect('}', "the body"); rerr != nil {
		return nil, rerr
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fail(err)
		}
		return nil, badRequest("invalid JSON: data after the request object")
	}
	if rows == 0 {
		return nil, badRequest("\"embeddings\" is missing or empty: send one row per new item")
	}
	return tensor.FromSlice(data, rows, width), nil
}
