package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"

	"github.com/llmrec/llmrec/tensor"
)

// MaxHeaderSize is the largest JSON header Read accepts (100 MB). A larger
// declared length is treated as a corrupt or hostile file rather than
// allocated.
const MaxHeaderSize = 100 << 20

// Bounds on what a header may declare, so that parsing one costs memory
// proportional to its length with a small factor (not to the counts it
// declares): far above any real checkpoint (a 70B-parameter LLM has about a
// thousand tensors of rank <= 4 and a handful of metadata keys).
const (
	// MaxRank is the largest number of dimensions of one tensor.
	MaxRank = 64
	// MaxTensors is the largest number of tensors in one file.
	MaxTensors = 1 << 14
	// MaxMetadataEntries is the largest number of "__metadata__" keys.
	MaxMetadataEntries = 1 << 12
)

// ErrFormat is wrapped by every error that reports a malformed file, so that
// callers can tell a bad file (errors.Is(err, ErrFormat)) from an I/O error.
var ErrFormat = errors.New("safetensors: invalid file")

// DType names an element type as spelled in the header ("F32", "BF16", ...).
// A string value, safe for concurrent use.
type DType string

// The element types of the format. Tensor converts the floating-point ones to
// float32; Int64s converts the integer and boolean ones to int64. F8 types are
// recognised (so files holding them validate) but not converted.
const (
	BOOL    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	F8E5M2  DType = "F8_E5M2"
	F8E4M3  DType = "F8_E4M3"
	I16     DType = "I16"
	U16     DType = "U16"
	F16     DType = "F16"
	BF16    DType = "BF16"
	I32     DType = "I32"
	U32     DType = "U32"
	F32     DType = "F32"
	I64     DType = "I64"
	U64     DType = "U64"
	F64     DType = "F64"
	metaKey       = "__metadata__"
)

// Size returns the number of bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case I64, U64, F64:
		return 8
	}
	return 0
}

// Info describes one stored tensor as declared by the header. A plain value
// (File.Info returns a copy), safe to read concurrently.
type Info struct {
	// DType is the element type.
	DType DType
	// Shape is the tensor's shape; an empty shape is a scalar.
	Shape []int
	// Begin and End are the byte offsets of the tensor's data, relative to
	// the start of the data buffer (just after the header).
	Begin, End int64
}

// Len returns the number of elements (the product of Shape).
func (in Info) Len() int {
	n := 1
	for _, d := range in.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file: a validated header and a way to read the
// tensors' bytes on demand.
//
// A File is safe for concurrent use by multiple goroutines as long as its
// underlying io.ReaderAt is (an *os.File and a *bytes.Reader are); callers
// must not modify Metadata concurrently with reads of it.
type File struct {
	// Metadata holds the header's optional "__metadata__" string map (nil
	// when absent).
	Metadata map[string]string

	r       io.ReaderAt
	base    int64 // file offset of the data buffer
	names   []string
	infos   map[string]Info
	closer  io.Closer
	display string // name used in error messages
}

// Read parses and validates the header of a safetensors file of the given
// total size read through r. Tensor data is read later, on demand, by Tensor
// and Int64s. Every structural problem (header length beyond the file, a
// header that is not a JSON object, unknown dtype, negative dimension, byte
// size not matching shape, offsets out of range, overlapping or leaving gaps,
// truncated data) is reported as an error wrapping ErrFormat.
func Read(r io.ReaderAt, size int64) (*File, error) {
	return read(r, size, "safetensors")
}

// ReadBytes is Read over an in-memory file. b is not copied and must not be
// modified while the File is in use.
func ReadBytes(b []byte) (*File, error) {
	return read(bytes.NewReader(b), int64(len(b)), "safetensors")
}

// Open opens and validates the safetensors file at path. The File keeps the
// file open to read tensors on demand; Close releases it.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := read(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Close releases the file opened by Open. It is a no-op for Files made by
// Read or ReadBytes.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}

func formatErr(where, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrFormat, where, fmt.Sprintf(format, args...))
}

// rawInfo is the JSON shape of one tensor entry.
type rawInfo struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

func read(r io.ReaderAt, size int64, where string) (*File, error) {
	if size < 8 {
		return nil, formatErr(where, "file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header length: %w", where, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, formatErr(where, "header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, formatErr(where, "header length %d exceeds the %d bytes after the length prefix", n, size-8)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header: %w", where, err)
	}
	f := &File{r: r, base: 8 + int64(n), infos: map[string]Info{}, display: where}
	if err := f.parseHeader(hdr); err != nil {
		return nil, err
	}
	if err := f.checkOffsets(size - f.base); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) parseHeader(hdr []byte) error {
	where := f.display
	if len(hdr) == 0 || hdr[0] != '{' {
		return formatErr(where, "header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return formatErr(where, "header is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return formatErr(where, "header is not valid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return formatErr(where, "header is not valid JSON: key %v", tok)
		}
		if seen[key] {
			return formatErr(where, "duplicate key %q in header", key)
		}
		seen[key] = true
		if key != metaKey && len(f.names) >= MaxTensors {
			return formatErr(where, "more than %d tensors in header", MaxTensors)
		}
		// each value is decoded from the header's own token stream: no
		// copy of it, and counts are checked as they are read
		if key == metaKey {
			if err := decodeMetadata(dec, &f.Metadata); err != nil {
				return formatErr(where, "__metadata__ must be an object of strings: %v", err)
			}
			continue
		}
		info, err := decodeInfo(dec)
		if err != nil {
			return formatErr(where, "tensor %q: %v", key, err)
		}
		f.infos[key] = info
		f.names = append(f.names, key)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return formatErr(where, "header is not a complete JSON object")
	}
	// Only whitespace (the spec pads with spaces) may follow the object.
	rest := hdr[dec.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return formatErr(where, "trailing bytes after the header's JSON object")
	}
	sort.Strings(f.names)
	return nil
}

// decodeMetadata decodes the "__metadata__" object of strings token by
// token, stopping at MaxMetadataEntries keys (a map of millions of tiny keys
// costs ~100 bytes per key, many times its text).
func decodeMetadata(dec *json.Decoder, dst *map[string]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null
		return nil
	}
	if tok != json.Delim('{') {
		return errors.New("not an object")
	}
	m := map[string]string{}
	for dec.More() {
		if len(m) >= MaxMetadataEntries {
			return fmt.Errorf("more than %d keys", MaxMetadataEntries)
		}
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		vt, err := dec.Token()
		if err != nil {
			return err
		}
		v, ok := vt.(string)
		if !ok {
			return fmt.Errorf("key %q: value %v is not a string", kt, vt)
		}
		m[kt.(string)] = v
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*dst = m
	return nil
}

// entryJSON is one tensor entry as decoded: the arrays are kept raw until
// their length is known (counted in the raw text), so that a declared shape
// of 44M dimensions is refused after a scan, not allocated.
type entryJSON struct {
	DType       *string         `json:"dtype"`
	Shape       json.RawMessage `json:"shape"`
	DataOffsets json.RawMessage `json:"data_offsets"`
}

// boundedInts decodes raw, a JSON array of integers, into a slice of at
// most limit values.
func boundedInts(raw json.RawMessage, limit int, what string) (*[]int64, error) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	// a JSON array of n numbers has n-1 commas outside strings, and a
	// number holds no comma, so the count bounds n before decoding
	if n := bytes.Count(raw, []byte(",")); n >= limit {
		return nil, fmt.Errorf("%s has more than %d values", what, limit)
	}
	var v []int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	return &v, nil
}

// decodeRawInfo decodes one tensor entry {dtype, shape, data_offsets} from
// the header's decoder (shape at most MaxRank values).
func decodeRawInfo(dec *json.Decoder) (rawInfo, error) {
	var e entryJSON
	if err := dec.Decode(&e); err != nil {
		return rawInfo{}, fmt.Errorf("invalid JSON: %v", err)
	}
	ri := rawInfo{DType: e.DType}
	var err error
	if ri.Shape, err = boundedInts(e.Shape, MaxRank, "shape"); err != nil {
		return ri, err
	}
	if ri.DataOffsets, err = boundedInts(e.DataOffsets, 3, "data_offsets"); err != nil {
		return ri, err
	}
	return ri, nil
}

func decodeInfo(dec *json.Decoder) (Info, error) {
	ri, err := decodeRawInfo(dec)
	if err != nil {
		return Info{}, fmt.Errorf("entry is not a JSON object {dtype, shape, data_offsets}: %v", err)
	}
	if ri.DType == nil || ri.Shape == nil || ri.DataOffsets == nil {
		return Info{}, errors.New("entry needs dtype, shape and data_offsets")
	}
	dt := DType(*ri.DType)
	if dt.Size() == 0 {
		return Info{}, fmt.Errorf("unknown dtype %q", *ri.DType)
	}
	offs := *ri.DataOffsets
	if len(offs) != 2 {
		return Info{}, fmt.Errorf("data_offsets has %d values, want 2", len(offs))
	}
	if offs[0] < 0 || offs[1] < offs[0] {
		return Info{}, fmt.Errorf("data_offsets [%d, %d] are not 0 <= begin <= end", offs[0], offs[1])
	}
	shape := make([]int, len(*ri.Shape))
	nbytes := uint64(dt.Size())
	overflow := false
	for i, d := range *ri.Shape {
		if d < 0 {
			return Info{}, fmt.Errorf("negative dimension %d in shape %v", d, *ri.Shape)
		}
		shape[i] = int(d)
		hi, lo := bits.Mul64(nbytes, uint64(d))
		overflow = overflow || hi != 0
		nbytes = lo
	}
	if slices.Contains(shape, 0) {
		nbytes, overflow = 0, false
	}
	span := uint64(offs[1] - offs[0])
	if overflow {
		return Info{}, fmt.Errorf("shape %v of %s needs more than 2^64 bytes", *ri.Shape, dt)
	}
	if nbytes != span {
		return Info{}, fmt.Errorf("shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d",
			*ri.Shape, dt, nbytes, offs[0], offs[1], span)
	}
	return Info{DType: dt, Shape: shape, Begin: offs[0], End: offs[1]}, nil
}

// checkOffsets verifies that the tensors tile the data buffer exactly: sorted
// by offset, each begins where the previous ended, the first at 0 and the
// last at the end of the buffer.
func (f *File) checkOffsets(bufLen int64) error {
	order := slices.Clone(f.names)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := f.infos[order[i]], f.infos[order[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var pos int64
	prev := ""
	for _, name := range order {
		in := f.infos[name]
		switch {
		case in.Begin < pos:
			return formatErr(f.display, "tensor %q data [%d, %d] overlaps tensor %q ending at %d", name, in.Begin, in.End, prev, pos)
		case in.Begin > pos:
			return formatErr(f.display, "gap in data buffer: bytes [%d, %d] before tensor %q belong to no tensor", pos, in.Begin, name)
		}
		if in.End > bufLen {
			return formatErr(f.display, "tensor %q data [%d, %d] runs past the %d-byte data buffer (truncated file?)", name, in.Begin, in.End, bufLen)
		}
		pos = in.End
		prev = name
	}
	if pos != bufLen {
		return formatErr(f.display, "data buffer is %d bytes but the tensors cover %d", bufLen, pos)
	}
	return nil
}

// Names returns the tensor names in lexical order (without "__metadata__").
// The slice is a copy.
func (f *File) Names() []string { return slices.Clone(f.names) }

// NumElements returns the total number of elements of the file's tensors,
// counted from their byte spans, so that it is at most the file's size: a
// loader compares what a config declares with it before allocating.
func (f *File) NumElements() int64 {
	var n int64
	for _, in := range f.infos {
		n += (in.End - in.Begin) / int64(in.DType.Size())
	}
	return n
}

// Info returns the header entry of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	if ok {
		in.Shape = slices.Clone(in.Shape)
	}
	return in, ok
}

func (f *File) lookup(name string) (Info, error) {
	in, ok := f.infos[name]
	if !ok {
		return Info{}, fmt.Errorf("safetensors: %s: no tensor named %q", f.display, name)
	}
	return in, nil
}

// chunk is the number of bytes converted at a time, so that reading a large
// tensor needs no second full-size buffer.
const chunk = 1 << 16

// each reads the tensor's bytes in chunks aligned to the element size and
// calls fn with the element index of the chunk's first element.
func (f *File) each(name string, in Info, fn func(first int, b []byte)) error {
	es := int64(in.DType.Size())
	total := in.End - in.Begin
	step := int64(chunk) / es * es
	buf := make([]byte, min(step, total))
	for off := int64(0); off < total; off += step {
		b := buf[:min(step, total-off)]
		if _, err := f.r.ReadAt(b, f.base+in.Begin+off); err != nil {
			return fmt.Errorf("safetensors: %s: reading tensor %q: %w", f.display, name, err)
		}
		fn(int(off/es), b)
	}
	return nil
}

// Tensor reads the named tensor and returns it as float32. F32 is read as
// is; F64 is rounded to float32; F16 and BF16 are widened exactly. Integer,
// boolean and F8 tensors return an error (use Int64s for integers).
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	var conv func(dst []float32, b []byte)
	switch in.DType {
	case F32:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
	case F64:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
			}
		}
	case F16:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = Float16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
			}
		}
	case BF16:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
		}
	default:
		return nil, fmt.Errorf("safetensors: %s: tensor %q has dtype %s, not a float type Tensor converts (F32, F64, F16, BF16)", f.display, name, in.DType)
	}
	t := tensor.New(in.Shape...)
	es := in.DType.Size()
	err = f.each(name, in, func(first int, b []byte) {
		conv(t.Data[first:first+len(b)/es], b)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Int64s reads the named integer or boolean tensor (I8..I64, U8..U64, BOOL)
// as int64 values in row-major order, with its shape. A U64 value above
// math.MaxInt64 is an error.
func (f *File) Int64s(name string) ([]int64, []int, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	var get func(b []byte) (int64, bool)
	switch in.DType {
	case BOOL, U8:
		get = func(b []byte) (int64, bool) { return int64(b[0]), true }
	case I8:
		get = func(b []byte) (int64, bool) { return int64(int8(b[0])), true }
	case I16:
		get = func(b []byte) (int64, bool) { return int64(int16(binary.LittleEndian.Uint16(b))), true }
	case U16:
		get = func(b []byte) (int64, bool) { return int64(binary.LittleEndian.Uint16(b)), true }
	case I32:
		get = func(b []byte) (int64, bool) { return int64(int32(binary.LittleEndian.Uint32(b))), true }
	case U32:
		get = func(b []byte) (int64, bool) { return int64(binary.LittleEndian.Uint32(b)), true }
	case I64:
		get = func(b []byte) (int64, bool) { return int64(binary.LittleEndian.Uint64(b)), true }
	case U64:
		get = func(b []byte) (int64, bool) {
			u := binary.LittleEndian.Uint64(b)
			return int64(u), u <= math.MaxInt64
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q has dtype %s, not an integer type", f.display, name, in.DType)
	}
	out := make([]int64, in.Len())
	es := in.DType.Size()
	bad := -1
	err = f.each(name, in, func(first int, b []byte) {
		for i := 0; i < len(b)/es; i++ {
			v, ok := get(b[i*es:])
			if !ok && bad < 0 {
				bad = first + i
			}
			out[first+i] = v
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if bad >= 0 {
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q element %d does not fit in int64", f.display, name, bad)
	}
	return out, slices.Clone(in.Shape), nil
}

// Float16ToFloat32 converts an IEEE 754 binary16 value (given by its bits) to
// float32 exactly, including subnormals, infinities and NaN.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias 15 -> 127
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant * 2^-24, exactly representable as a float32.
	v := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
