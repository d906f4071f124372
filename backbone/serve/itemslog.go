package serve

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"

	"github.com/llmrec/llmrec/tensor"
)

// The items log keeps what clients added, one JSON line per addition,
// appended (an addition costs its own rows, never a rewrite of the file):
//
//	{"first":1683,"kind":"llm","model":"sha256:…","rows":2,"cols":512,"data":"…"}
//
// "kind" is "llm" (raw LLM embeddings, re-encoded through the item encoder
// of whatever model is loaded) or "vectors" (item vectors, usable only by
// the model whose fingerprint "model" is). "data" holds the rows as sent,
// row after row, as little-endian float32 in base64: exact, and a third of
// the size and parse time of decimal text. Lines are written with one
// write and an fsync; a last line cut short by a crash is dropped (and cut
// from the file) when the log is next read.
const (
	kindLLM     = "llm"
	kindVectors = "vectors"
)

// logRecord is one line of the items log.
type logRecord struct {
	First int    `json:"first"`
	Kind  string `json:"kind"`
	Model string `json:"model"`
	Rows  int    `json:"rows"`
	Cols  int    `json:"cols"`
	Data  []byte `json:"data"` // encoding/json writes []byte as base64
	rows  *tensor.Tensor
}

// itemsLog is the append-only file of additions. Its methods are called
// with the Handler's lock held.
type itemsLog struct {
	path     string
	maxLine  int64 // longest line read (a bound on one addition's text)
	maxItems int   // most items the log may hold (Options.MaxAdded)
}

// append writes r as one line at the end of the log and syncs it.
func (l *itemsLog) append(r *logRecord) error {
	r.Rows, r.Cols = r.rows.Rows(), r.rows.Cols()
	r.Data = make([]byte, 0, 4*len(r.rows.Data))
	for _, v := range r.rows.Data {
		r.Data = binary.LittleEndian.AppendUint32(r.Data, math.Float32bits(v))
	}
	b, err := json.Marshal(r)
	r.Data = nil
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return err
	}
	_, err = fh.Write(append(b, '\n'))
	if err == nil {
		err = fh.Sync()
	}
	if err != nil {
		// cut what was written, so the next line starts clean (the
		// addition is not served: the log must not hold it either)
		_ = fh.Truncate(st.Size())
		fh.Close()
		return err
	}
	return fh.Close()
}

// read returns the log's records in order (none when the file does not
// exist). Lines are bounded (maxLine) and so is the total (maxItems); a
// torn last line is dropped and cut from the file, so that the next append
// starts a clean line. Any other malformed line is an error: the log is not
// guessed at.
func (l *itemsLog) read(log *slog.Logger) ([]*logRecord, error) {
	fh, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("items log %s is not a regular file", l.path)
	}
	br := bufio.NewReaderSize(fh, 1<<16)
	var out []*logRecord
	var good int64 // bytes of complete lines
	items := 0
	for line := 1; ; line++ {
		b, err := readLine(br, l.maxLine)
		if err == io.EOF && len(b) == 0 {
			break
		}
		if err == io.EOF { // no newline: a torn last line
			log.Warn("items log: dropping a last line cut short (an interrupted write)", "path", l.path, "bytes", len(b))
			if err := fh.Truncate(good); err != nil {
				return nil, fmt.Errorf("items log %s: cutting a torn last line: %w", l.path, err)
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("items log %s: line %d: %w", l.path, line, err)
		}
		good += int64(len(b)) + 1
		r, err := parseRecord(b)
		if err != nil {
			return nil, fmt.Errorf("items log %s: line %d: %w", l.path, line, err)
		}
		if items += r.rows.Rows(); items > l.maxItems {
			return nil, fmt.Errorf("items log %s holds more than %d items (Options.MaxAdded)", l.path, l.maxItems)
		}
		out = append(out, r)
	}
	return out, nil
}

// readLine returns the next line without its newline; io.EOF with the
// bytes read when the input ends without one.
func readLine(br *bufio.Reader, limit int64) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if int64(len(buf)+len(chunk)) > limit+1 {
			return nil, fmt.Errorf("line longer than %d bytes", limit)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

func parseRecord(b []byte) (*logRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r logRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("malformed record: %w", err)
	}
	if r.Kind != kindLLM && r.Kind != kindVectors {
		return nil, fmt.Errorf("record kind %q, want %q or %q", r.Kind, kindLLM, kindVectors)
	}
	if r.Rows < 1 || r.Cols < 1 || r.First < 1 || len(r.Data) != 4*r.Rows*r.Cols || len(r.Data)/4/r.Cols != r.Rows {
		return nil, fmt.Errorf("record of %d x %d values from id %d holds %d bytes", r.Rows, r.Cols, r.First, len(r.Data))
	}
	t := tensor.New(r.Rows, r.Cols)
	for i := range t.Data {
		v := math.Float32frombits(binary.LittleEndian.Uint32(r.Data[4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("record from id %d: value %d is %v", r.First, i, v)
		}
		t.Data[i] = v
	}
	r.Data, r.rows = nil, t
	return &r, nil
}
