package data

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmrec/llmrec/tensor"
)

// ErrBadNPY is wrapped by the errors of NPYStream for a stream that is not a
// readable 2-D float .npy array: bad magic or header, unsupported dtype or
// shape, truncated data, trailing bytes. A NaN or infinite value wraps
// tensor.ErrNonFinite instead, and a truncation also wraps
// io.ErrUnexpectedEOF. It wraps ErrBadInput, as every data error about a
// malformed file does; ReadNPY's errors wrap it too.
var ErrBadNPY = fmt.Errorf("bad .npy file (%w)", ErrBadInput)

// maxNPYStreamCols bounds the row length an NPYStream accepts (2^24
// columns), so that one row always fits in memory.
const maxNPYStreamCols = 1 << 24

// npyLayout is what a .npy header says about the data that follows it.
type npyLayout struct {
	rows, cols int
	size       int // bytes per element, 4 or 8
	order      binary.ByteOrder
	fortran    bool
	shape      []int
	dataOff    int64 // offset of the first element from the start of the file
}

// readNPYLayout reads the preamble and header of a 2-D float .npy file from
// r. fail formats an error (it is given the message without a prefix).
// maxElems bounds rows*cols (0: only int64 overflow is checked).
func readNPYLayout(r io.Reader, maxElems int, fail func(format string, args ...any) error) (npyLayout, error) {
	var l npyLayout
	var pre [8]byte
	if n, err := io.ReadFull(r, pre[:]); err != nil {
		if n == 0 {
			return l, fail("empty file, not .npy")
		}
		return l, fail("truncated .npy preamble (%d bytes)", n)
	}
	if string(pre[:6]) != string(npyMagic) {
		return l, fail("not a .npy file (bad magic)")
	}
	major, minor := pre[6], pre[7]
	var hlen int
	switch {
	case minor != 0 || major < 1 || major > 3:
		return l, fail("unsupported .npy version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	case major == 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return l, fail("truncated .npy header length")
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
		l.dataOff = 10
	default:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return l, fail("truncated .npy header length")
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		l.dataOff = 12
	}
	if hlen > maxNPYHeader {
		return l, fail("header length %d > %d", hlen, maxNPYHeader)
	}
	hdr := make([]byte, hlen)
	if n, err := io.ReadFull(r, hdr); err != nil {
		return l, fail("truncated header: %d of %d bytes", n, hlen)
	}
	l.dataOff += int64(hlen)
	h, err := parseNPYHeader(string(hdr))
	if err != nil {
		return l, fail("header: %v", err)
	}
	switch h.descr {
	case "<f4", ">f4":
		l.size = 4
	case "<f8", ">f8":
		l.size = 8
	default:
		return l, fail("dtype %q not supported (want <f4, >f4, <f8 or >f8)", h.descr)
	}
	l.order = binary.LittleEndian
	if h.descr[0] == '>' {
		l.order = binary.BigEndian
	}
	if len(h.shape) != 2 {
		return l, fail("shape %v is %d-D; only 2-D arrays are supported", h.shape, len(h.shape))
	}
	l.shape, l.fortran = h.shape, h.fortran
	l.rows, l.cols = h.shape[0], h.shape[1]
	limit := maxElems
	if limit <= 0 {
		limit = math.MaxInt64 / 8
	}
	if l.cols > 0 && l.rows > limit/l.cols {
		return l, fail("shape %v too large", h.shape)
	}
	return l, nil
}

// NPYStream reads a 2-D float .npy array (format 1.0, 2.0 or 3.0; dtype
// <f4, >f4, <f8 or >f8) a chunk of rows at a time, so that a file larger
// than memory can be processed: it holds one chunk buffer (sized by the
// caller's destination) and never the whole array. Values are returned as
// float32 (float64 files are rounded). Every value is checked: a NaN or
// infinity is an error naming its row and column.
//
// Streams opened on a file (OpenNPYStream) check the file size against the
// header before the first read, can jump to any row (SeekRow) and read
// Fortran-ordered (column-major) files; a stream over a plain io.Reader
// (NewNPYStream) reads C-ordered files front to back and reports a
// truncation at the first missing row.
//
// An NPYStream is not safe for concurrent use; open one per goroutine.
type NPYStream struct {
	name   string
	l      npyLayout
	ra     io.ReaderAt // nil for a plain reader
	closer io.Closer
	br     *bufio.Reader // sequential source, positioned at row
	row    int           // next row to read
	ended  bool          // a plain reader's end was checked for trailing bytes
	raw    []byte
	err    error // sticky error
}

// OpenNPYStream opens a .npy file for chunked reading. The caller must Close
// the stream. It fails when the file is shorter or longer than its header
// says, naming the first incomplete row.
func OpenNPYStream(path string) (*NPYStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	s, err := newNPYStream(f, f, filepath.Base(path))
	if err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %w", err)
	}
	want := s.l.dataOff + int64(s.l.rows)*int64(s.l.cols)*int64(s.l.size)
	if got := st.Size(); got < want {
		full := (got - s.l.dataOff) / (int64(max(s.l.cols, 1)) * int64(s.l.size))
		f.Close()
		return nil, s.fail(io.ErrUnexpectedEOF, "truncated data: file has %d bytes, shape %v needs %d (row %d is incomplete)", got, s.l.shape, want, full)
	} else if got > want {
		f.Close()
		return nil, s.fail(nil, "trailing bytes: file has %d bytes, shape %v needs %d", got, s.l.shape, want)
	}
	s.closer = f
	return s, nil
}

// NewNPYStream reads a C-ordered .npy array from r front to back; name
// labels errors. Fortran-ordered data needs random access: wrap the data in
// an io.ReaderAt source with OpenNPYStream instead. NewNPYStream does not
// close r.
func NewNPYStream(r io.Reader, name string) (*NPYStream, error) {
	return newNPYStream(r, nil, name)
}

func newNPYStream(r io.Reader, ra io.ReaderAt, name string) (*NPYStream, error) {
	s := &NPYStream{name: name, ra: ra}
	br := bufio.NewReaderSize(r, 1<<16)
	l, err := readNPYLayout(br, 0, func(format string, args ...any) error {
		return s.fail(nil, format, args...)
	})
	if err != nil {
		return nil, err
	}
	s.l = l
	if l.cols > maxNPYStreamCols {
		return nil, s.fail(nil, "shape %v: %d columns > %d", l.shape, l.cols, maxNPYStreamCols)
	}
	if l.fortran && l.rows > 1 && l.cols > 1 && ra == nil {
		return nil, s.fail(nil, "Fortran-ordered data needs a file (random access) to stream rows")
	}
	s.br = br
	return s, nil
}

// fail builds an error "data: name: message" wrapping ErrBadNPY and, when
// non-nil, cause.
func (s *NPYStream) fail(cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if cause != nil {
		return fmt.Errorf("data: %s: %s: %w (%w)", s.name, msg, ErrBadNPY, cause)
	}
	return fmt.Errorf("data: %s: %s: %w", s.name, msg, ErrBadNPY)
}

// Rows returns the number of rows the header declares.
func (s *NPYStream) Rows() int { return s.l.rows }

// Cols returns the number of columns (values per row).
func (s *NPYStream) Cols() int { return s.l.cols }

// Row returns the index of the next row Next will read.
func (s *NPYStream) Row() int { return s.row }

// Next reads the next rows into dst, as many as fit (len(dst)/Cols) and
// remain, row-major, and returns how many it read. At the end of the data it
// returns 0, io.EOF. dst must hold at least one row. After an error every
// later call returns the same error. A NaN or infinite value is an error
// wrapping tensor.ErrNonFinite and naming its row and column; the rows
// before it in the chunk are not returned.
func (s *NPYStream) Next(dst []float32) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.row >= s.l.rows || s.l.cols == 0 {
		if s.ra == nil && !s.ended {
			// a plain reader: the data must end here
			s.ended = true
			var one [1]byte
			if n, _ := io.ReadFull(s.br, one[:]); n > 0 {
				s.err = s.fail(nil, "trailing bytes after %d rows (shape %v)", s.l.rows, s.l.shape)
				return 0, s.err
			}
		}
		return 0, io.EOF
	}
	cols := s.l.cols
	if len(dst) < cols {
		return 0, fmt.Errorf("data: %s: Next: destination holds %d values, a row has %d", s.name, len(dst), cols)
	}
	n := min(len(dst)/cols, s.l.rows-s.row)
	var err error
	if s.l.fortran && s.l.rows > 1 && cols > 1 {
		err = s.readFortran(dst, n)
	} else {
		err = s.readC(dst, n)
	}
	if err != nil {
		s.err = err
		return 0, err
	}
	if err := s.checkFinite(dst[:n*cols]); err != nil {
		s.err = err
		return 0, err
	}
	s.row += n
	return n, nil
}

// readC reads n C-ordered rows from the sequential source.
func (s *NPYStream) readC(dst []float32, n int) error {
	cols, size := s.l.cols, s.l.size
	rowBytes := cols * size
	// read in pieces of at most 1 MiB (whole rows, at least one)
	per := max(1, (1<<20)/rowBytes)
	for done := 0; done < n; {
		k := min(per, n-done)
		need := k * rowBytes
		if cap(s.raw) < need {
			s.raw = make([]byte, need)
		}
		buf := s.raw[:need]
		got, err := io.ReadFull(s.br, buf)
		if err != nil {
			bad := s.row + done + got/rowBytes
			return s.fail(io.ErrUnexpectedEOF, "truncated data at row %d of %d (shape %v)", bad, s.l.rows, s.l.shape)
		}
		s.decode(dst[done*cols:(done+k)*cols], buf)
		done += k
	}
	return nil
}

// readFortran reads n rows of a column-major file, one strided segment per
// column.
func (s *NPYStream) readFortran(dst []float32, n int) error {
	rows, cols, size := s.l.rows, s.l.cols, s.l.size
	need := n * size
	if cap(s.raw) < need {
		s.raw = make([]byte, need)
	}
	buf := s.raw[:need]
	col := make([]float32, n)
	for c := 0; c < cols; c++ {
		off := s.l.dataOff + (int64(c)*int64(rows)+int64(s.row))*int64(size)
		if got, err := s.ra.ReadAt(buf, off); got < need {
			return s.fail(io.ErrUnexpectedEOF, "truncated data in column %d at row %d (shape %v): %v", c, s.row+got/size, s.l.shape, err)
		}
		s.decode(col, buf)
		for i, v := range col {
			dst[i*cols+c] = v
		}
	}
	return nil
}

// decode converts the raw elements of buf into dst.
func (s *NPYStream) decode(dst []float32, buf []byte) {
	if s.l.size == 4 {
		for i := range dst {
			dst[i] = math.Float32frombits(s.l.order.Uint32(buf[4*i:]))
		}
		return
	}
	for i := range dst {
		dst[i] = float32(math.Float64frombits(s.l.order.Uint64(buf[8*i:])))
	}
}

// checkFinite reports the first NaN or infinite value of a chunk read at
// s.row.
func (s *NPYStream) checkFinite(v []float32) error {
	for i, x := range v {
		if x-x != 0 { // NaN or ±Inf (also a float64 outside float32's range)
			r, c := s.row+i/s.l.cols, i%s.l.cols
			return fmt.Errorf("data: %s: row %d column %d is %v: %w", s.name, r, c, x, tensor.ErrNonFinite)
		}
	}
	return nil
}

// SeekRow positions the stream so that the next read starts at row (0 <=
// row <= Rows). It needs a stream opened by OpenNPYStream, and clears a
// previous error only if it was not a bad header.
func (s *NPYStream) SeekRow(row int) error {
	if s.ra == nil {
		return fmt.Errorf("data: %s: SeekRow needs a stream opened on a file", s.name)
	}
	if row < 0 || row > s.l.rows {
		return fmt.Errorf("data: %s: SeekRow(%d) outside 0..%d", s.name, row, s.l.rows)
	}
	off := s.l.dataOff + int64(row)*int64(s.l.cols)*int64(s.l.size)
	end := s.l.dataOff + int64(s.l.rows)*int64(s.l.cols)*int64(s.l.size)
	s.br.Reset(io.NewSectionReader(s.ra, off, end-off))
	s.row = row
	s.err = nil
	return nil
}

// Close closes the file of a stream opened by OpenNPYStream (a no-op for
// NewNPYStream).
func (s *NPYStream) Close() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}

// NPYWriter writes a 2-D float32 .npy array (format 1.0, <f4, C order)
// whose shape is known in advance, a chunk of rows at a time, so that a
// matrix larger than memory can be written; EncodeNPY writes a whole tensor
// through it. It buffers at most 64 KiB. Not safe for concurrent use.
type NPYWriter struct {
	bw         *bufio.Writer
	rows, cols int
	written    int // values
	b          [4]byte
}

// NewNPYWriter writes the header of a rows x cols <f4 array to w and
// returns a writer for its values. It does not close w.
func NewNPYWriter(w io.Writer, rows, cols int) (*NPYWriter, error) {
	if rows < 0 || cols < 0 || (cols > 0 && rows > math.MaxInt64/8/cols) {
		return nil, fmt.Errorf("data: NewNPYWriter: invalid shape (%d, %d)", rows, cols)
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	// magic(6) + version(2) + len(2) + dict + padding + '\n' = multiple of 64.
	n := 10 + len(dict) + 1
	hdr := dict + strings.Repeat(" ", (64-n%64)%64) + "\n"
	nw := &NPYWriter{bw: bufio.NewWriterSize(w, 1<<16), rows: rows, cols: cols}
	nw.bw.Write(npyMagic)
	nw.bw.Write([]byte{1, 0})
	var l [2]byte
	binary.LittleEndian.PutUint16(l[:], uint16(len(hdr)))
	nw.bw.Write(l[:])
	if _, err := nw.bw.WriteString(hdr); err != nil {
		return nil, fmt.Errorf("data: write .npy header: %w", err)
	}
	return nw, nil
}

// Write appends whole rows (len(v) a multiple of the column count) and
// fails when they would exceed the declared row count.
func (nw *NPYWriter) Write(v []float32) error {
	if nw.cols == 0 || len(v)%nw.cols != 0 {
		if len(v) == 0 {
			return nil
		}
		return fmt.Errorf("data: NPYWriter: %d values are not whole rows of %d", len(v), nw.cols)
	}
	if nw.written+len(v) > nw.rows*nw.cols {
		return fmt.Errorf("data: NPYWriter: %d more rows than the %d declared", (nw.written+len(v))/nw.cols-nw.rows, nw.rows)
	}
	for _, x := range v {
		binary.LittleEndian.PutUint32(nw.b[:], math.Float32bits(x))
		nw.bw.Write(nw.b[:])
	}
	nw.written += len(v)
	return nil
}

// Close flushes the buffered values; it fails when fewer rows than declared
// were written (the file would be truncated). It does not close the
// underlying writer.
func (nw *NPYWriter) Close() error {
	if err := nw.bw.Flush(); err != nil {
		return fmt.Errorf("data: write .npy: %w", err)
	}
	if nw.written != nw.rows*nw.cols {
		return fmt.Errorf("data: NPYWriter: %d of %d declared rows written", nw.written/max(nw.cols, 1), nw.rows)
	}
	return nil
}
