package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// The .npy reader is our own: we need only 2-D float arrays, and a small,
// fuzzed reader avoids a dependency for that.

var npyMagic = []byte("\x93NUMPY")

// maxNPYHeader bounds the header length a reader accepts (1 MiB).
const maxNPYHeader = 1 << 20

// maxNPYElems bounds rows*cols (2^32 elements, 16 GiB as float32).
const maxNPYElems = 1 << 32

// LoadNPY reads a 2-D float .npy file (format versions 1.0, 2.0 and 3.0;
// dtypes <f4, >f4, <f8, >f8; C or Fortran order) into a row-major float32
// tensor of the stored shape. float64 values are rounded to float32.
func LoadNPY(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return ReadNPY(bufio.NewReaderSize(f, 1<<16), filepath.Base(path))
}

// ReadNPY reads a 2-D float .npy array from r (see LoadNPY); name labels
// errors. It allocates as data arrives, so a header that claims a huge shape
// over a short stream fails with "truncated" instead of exhausting memory.
func ReadNPY(r io.Reader, name string) (*tensor.Tensor, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("data: %s: %s: %w", name, fmt.Sprintf(format, args...), ErrBadNPY)
	}
	l, err := readNPYLayout(r, maxNPYElems, fail)
	if err != nil {
		return nil, err
	}
	rows, cols, size, order := l.rows, l.cols, l.size, l.order
	total := rows * cols
	data := make([]float32, 0, min(total, 1<<20))
	buf := make([]byte, 1<<16)
	for len(data) < total {
		want := min((total-len(data))*size, len(buf))
		n, err := io.ReadFull(r, buf[:want])
		for i := 0; i+size <= n; i += size {
			if size == 4 {
				data = append(data, math.Float32frombits(order.Uint32(buf[i:])))
			} else {
				data = append(data, float32(math.Float64frombits(order.Uint64(buf[i:]))))
			}
		}
		if err != nil {
			return nil, fail("truncated data: %d of %d elements (shape %v)", len(data), total, l.shape)
		}
	}
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return nil, fail("trailing bytes after %d elements (shape %v)", total, l.shape)
	}
	t := tensor.FromSlice(data, rows, cols)
	if l.fortran && rows > 1 && cols > 1 {
		rm := make([]float32, total)
		for c := 0; c < cols; c++ {
			for r := 0; r < rows; r++ {
				rm[r*cols+c] = data[c*rows+r]
			}
		}
		t.Data = rm
	}
	return t, nil
}

type npyHeader struct {
	descr   string
	fortran bool
	shape   []int
}

// parseNPYHeader parses the Python dict literal of a .npy header, e.g.
// "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }".
func parseNPYHeader(s string) (npyHeader, error) {
	var h npyHeader
	p := &pyLex{s: strings.TrimRight(s, " \n\x00")}
	if !p.eat('{') {
		return h, errors.New("want '{'")
	}
	seen := map[string]bool{}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		if !p.eat(':') {
			return h, fmt.Errorf("want ':' after %q", clip(key))
		}
		if seen[key] {
			return h, fmt.Errorf("repeated key %q", clip(key))
		}
		seen[key] = true
		switch key {
		case "descr":
			if h.descr, err = p.str(); err != nil {
				return h, err
			}
		case "fortran_order":
			p.space()
			switch {
			case strings.HasPrefix(p.s[p.i:], "True"):
				h.fortran = true
				p.i += 4
			case strings.HasPrefix(p.s[p.i:], "False"):
				p.i += 5
			default:
				return h, errors.New("fortran_order is not True or False")
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return h, err
			}
		default:
			return h, fmt.Errorf("unknown key %q", clip(key))
		}
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return h, errors.New("want ',' or '}'")
	}
	if p.space(); p.i != len(p.s) {
		return h, errors.New("trailing characters after '}'")
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return h, errors.New("missing descr, fortran_order or shape")
	}
	return h, nil
}

type pyLex struct {
	s string
	i int
}

func (p *pyLex) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *pyLex) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLex) str() (string, error) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("want a quoted string")
	}
	q := p.s[p.i]
	j := strings.IndexByte(p.s[p.i+1:], q)
	if j < 0 {
		return "", errors.New("unterminated string")
	}
	out := p.s[p.i+1 : p.i+1+j]
	p.i += j + 2
	return out, nil
}

func (p *pyLex) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("shape: want '('")
	}
	var out []int
	for {
		if p.eat(')') {
			return out, nil
		}
		p.space()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i || j-p.i > 18 {
			return nil, errors.New("shape: want a non-negative integer")
		}
		v, _ := strconv.Atoi(p.s[p.i:j])
		p.i = j
		if len(out) >= 32 {
			return nil, errors.New("shape: too many dimensions")
		}
		out = append(out, v)
		if p.eat(',') {
			continue
		}
		if p.eat(')') {
			return out, nil
		}
		return nil, errors.New("shape: want ',' or ')'")
	}
}

// EncodeNPY writes t (2-D) to w as a .npy v1.0 file with dtype <f4, C order.
// It panics with tensor.ErrShape when t is not 2-D.
func EncodeNPY(w io.Writer, t *tensor.Tensor) error {
	if len(t.Shape) != 2 {
		panic(fmt.Errorf("%w: EncodeNPY: shape %v is not 2-D", tensor.ErrShape, t.Shape))
	}
	nw, err := NewNPYWriter(w, t.Shape[0], t.Shape[1])
	if err != nil {
		return err
	}
	if err := nw.Write(t.Data); err != nil {
		return err
	}
	return nw.Close()
}

// WriteNPY writes t (2-D) to path as .npy v1.0 <f4, atomically: it writes
// a temporary file in the same folder and renames it over path.
func WriteNPY(path string, t *tensor.Tensor) error {
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { return EncodeNPY(w, t) }); err != nil {
		return fmt.Errorf("data: write %s: %w", path, err)
	}
	return nil
}
