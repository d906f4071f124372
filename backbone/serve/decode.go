package serve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/llmrec/llmrec/tensor"
)

// decodeRows decodes a POST /items body, {"embeddings": [[...], ...]}, as a
// stream, applying the limits while decoding: a row longer than width or a
// row beyond maxRows stops it at once, so memory stays within maxRows x
// width values whatever the body holds (a 16 MiB body of 4M one-value rows
// is refused at its first row, not held as 4M slices).
//
// It is a small hand-written scanner for exactly this shape (the one
// object key, arrays of JSON numbers): encoding/json's token API costs a
// microsecond and an allocation per number, which made an addition of
// 1,000 rows of 64 values spend 70% of its time in it.
func decodeRows(body io.Reader, width, maxRows int, limit int64) (*tensor.Tensor, *requestError) {
	s := &rowScanner{r: bufio.NewReaderSize(body, 32<<10), limit: limit}
	t, err := s.body(width, maxRows)
	if err != nil {
		if e, ok := errors.AsType[*requestError](err); ok {
			return nil, e
		}
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", limit)}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if s.off == 0 {
				return nil, badRequest("empty body (send a JSON object with an \"embeddings\" array)")
			}
			return nil, badRequest("invalid JSON: unexpected end of body")
		}
		return nil, badRequest("reading body: %v", err)
	}
	return t, nil
}

// rowScanner reads the items body byte by byte (buffered).
type rowScanner struct {
	r     *bufio.Reader
	off   int64 // bytes consumed
	limit int64
	num   []byte // the current number's text
}

func (s *rowScanner) syntax(format string, args ...any) error {
	return badRequest("invalid JSON at byte %d: %s", s.off, fmt.Sprintf(format, args...))
}

// next returns the next byte that is not JSON whitespace.
func (s *rowScanner) next() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		s.off++
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

func (s *rowScanner) expect(want byte, what string) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != want {
		return s.syntax("%s: got %q, want %q", what, c, want)
	}
	return nil
}

// key reads an object key (after its opening quote) up to its closing
// quote; keys are short, so a long one is an error.
func (s *rowScanner) key() (string, error) {
	var k []byte
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return "", err
		}
		s.off++
		switch {
		case c == '"':
			return string(k), nil
		case c == '\\' || c < 0x20:
			return "", badRequest("invalid request: unknown field (known: embeddings)")
		case len(k) >= 64:
			return "", badRequest("invalid request: unknown field %q... (known: embeddings)", k)
		}
		k = append(k, c)
	}
}

// number reads a JSON number whose first byte is c and returns it and the
// byte after it (not whitespace-skipped).
func (s *rowScanner) number(c byte) (float64, byte, error) {
	s.num = append(s.num[:0], c)
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return 0, 0, err
		}
		s.off++
		if (b >= '0' && b <= '9') || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-' {
			if len(s.num) >= 64 {
				return 0, 0, s.syntax("number longer than 64 characters")
			}
			s.num = append(s.num, b)
			continue
		}
		if !jsonNumber(s.num) {
			return 0, 0, s.syntax("%q is not a JSON number", s.num)
		}
		v, err := strconv.ParseFloat(string(s.num), 64)
		if err != nil {
			return 0, 0, badRequest("value %s is out of range", s.num)
		}
		return v, b, nil
	}
}

// jsonNumber reports whether b is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// afterValue skips whitespace from c (the byte after a value) and returns
// the first byte that is not whitespace.
func (s *rowScanner) afterValue(c byte) (byte, error) {
	switch c {
	case ' ', '\t', '\n', '\r':
		return s.next()
	}
	return c, nil
}

// body decodes the whole request: the object and its one key, the rows
// (each exactly width values, at most maxRows of them), the closing brace
// and nothing after it.
func (s *rowScanner) body(width, maxRows int) (*tensor.Tensor, error) {
	if err := s.openEmbeddings(); err != nil {
		return nil, err
	}
	var data []float32
	rows := 0
	c, err := s.next()
	if err != nil {
		return nil, err
	}
	for c != ']' {
		if rows == maxRows {
			return nil, badRequest("more than %d rows, the limit per request", maxRows)
		}
		if c != '[' {
			return nil, s.syntax("row %d: got %q, want '['", rows, c)
		}
		if data, err = s.row(data, rows, width); err != nil {
			return nil, err
		}
		rows++
		if c, err = s.next(); err != nil {
			return nil, err
		}
		switch c {
		case ',':
			if c, err = s.next(); err != nil {
				return nil, err
			}
			if c == ']' {
				return nil, s.syntax("trailing comma after row %d", rows-1)
			}
		case ']':
		default:
			return nil, s.syntax("got %q after row %d", c, rows-1)
		}
	}
	if err := s.closeBody(); err != nil {
		return nil, err
	}
	if rows == 0 {
		return nil, badRequest("\"embeddings\" is missing or empty: send one row per new item")
	}
	return tensor.FromSlice(data, rows, width), nil
}

// openEmbeddings reads the request up to the rows: the opening brace, the
// one key "embeddings", the colon and the opening bracket of its array.
func (s *rowScanner) openEmbeddings() error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != '{' {
		return badRequest("invalid request: expected a JSON object with an \"embeddings\" array")
	}
	c, err = s.next()
	if err != nil {
		return err
	}
	if c == '}' {
		return badRequest("\"embeddings\" is missing or empty: send one row per new item")
	}
	if c != '"' {
		return s.syntax("expected a key")
	}
	k, err := s.key()
	if err != nil {
		return err
	}
	if k != "embeddings" {
		return badRequest("invalid request: unknown field %q (known: embeddings)", k)
	}
	if err := s.expect(':', "after the key"); err != nil {
		return err
	}
	return s.expect('[', "\"embeddings\"")
}

// row reads row number rows after its opening bracket through its closing
// one: exactly width finite float32 values, appended to data.
func (s *rowScanner) row(data []float32, rows, width int) ([]float32, error) {
	n := 0
	c, err := s.next()
	if err != nil {
		return data, err
	}
	for c != ']' {
		if n == width {
			return data, badRequest("row %d has more than %d values, want %d", rows, width, width)
		}
		if c != '-' && (c < '0' || c > '9') {
			return data, badRequest("row %d value %d is not a number (at byte %d)", rows, n, s.off)
		}
		v, after, err := s.number(c)
		if err != nil {
			return data, err
		}
		if !finite32(v) {
			return data, badRequest("row %d value %d (%s) is not a finite float32", rows, n, s.num)
		}
		data = append(data, float32(v))
		n++
		if c, err = s.afterValue(after); err != nil {
			return data, err
		}
		switch c {
		case ',':
			if c, err = s.next(); err != nil {
				return data, err
			}
			if c == ']' {
				return data, s.syntax("trailing comma in row %d", rows)
			}
		case ']':
		default:
			return data, s.syntax("row %d: got %q after a value", rows, c)
		}
	}
	if n != width {
		return data, badRequest("row %d has %d values, want %d", rows, n, width)
	}
	return data, nil
}

// closeBody reads what follows the rows: the object's closing brace (a
// second field is refused) and the end of the body.
func (s *rowScanner) closeBody() error {
	c, err := s.next()
	if err != nil {
		return err
	}
	switch c {
	case '}':
	case ',':
		return badRequest("invalid request: only the field \"embeddings\" is known")
	default:
		return s.syntax("got %q after \"embeddings\"", c)
	}
	if _, err := s.next(); err != io.EOF {
		if err != nil {
			return err
		}
		return badRequest("invalid JSON: data after the request object")
	}
	return nil
}
