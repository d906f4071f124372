package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

// handFile assembles a file per the spec: 8-byte little-endian header length,
// the header text as given, then the data bytes. It does not use Write.
func handFile(header string, data []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

func le32(vs ...float32) []byte {
	var out []byte
	for _, v := range vs {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}

func TestReadHandWritten(t *testing.T) {
	// "w": F32 [2,2] = 1, -2, 0.5, 3 at [0,16)
	// "h": F16 [3]   = 1.0 (0x3C00), -2.0 (0xC000), 2^-24 (0x0001, smallest subnormal) at [16,22)
	// "b": BF16 [2]  = 1.0 (0x3F80), -0.5 (0xBF00) at [22,26)
	// "d": F64 [1]   = 0.1 at [26,34)
	// "ids": I64 [2] = 7, -3 at [34,50)
	// "i32": I32 [1] = -5 at [50,54)
	var data []byte
	data = append(data, le32(1, -2, 0.5, 3)...)
	data = append(data, 0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00)
	data = append(data, 0x80, 0x3F, 0x00, 0xBF)
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(0.1))
	data = binary.LittleEndian.AppendUint64(data, 7)
	data = binary.LittleEndian.AppendUint64(data, uint64(0xFFFFFFFFFFFFFFFD)) // -3
	data = binary.LittleEndian.AppendUint32(data, uint32(0xFFFFFFFB))         // -5
	header := `{"__metadata__":{"format":"pt","note":"hand"},` +
		`"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},` +
		`"h":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},` +
		`"b":{"dtype":"BF16","shape":[2],"data_offsets":[22,26]},` +
		`"d":{"dtype":"F64","shape":[1],"data_offsets":[26,34]},` +
		`"ids":{"dtype":"I64","shape":[2],"data_offsets":[34,50]},` +
		`"i32":{"dtype":"I32","shape":[1],"data_offsets":[50,54]}}   ` // space padding is allowed
	f, err := ReadBytes(handFile(header, data))
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "d", "h", "i32", "ids", "w"}, f.Names())
	assert.Equal(t, map[string]string{"format": "pt", "note": "hand"}, f.Metadata)

	w, err := f.Tensor("w")
	require.NoError(t, err)
	assert.Equal(t, []int{2, 2}, w.Shape)
	assert.Equal(t, []float32{1, -2, 0.5, 3}, w.Data)

	h, err := f.Tensor("h")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, -2, float32(math.Ldexp(1, -24))}, h.Data)

	b, err := f.Tensor("b")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, -0.5}, b.Data)

	d, err := f.Tensor("d")
	require.NoError(t, err)
	assert.Equal(t, []float32{float32(0.1)}, d.Data)

	ids, shape, err := f.Int64s("ids")
	require.NoError(t, err)
	assert.Equal(t, []int64{7, -3}, ids)
	assert.Equal(t, []int{2}, shape)
	i32, _, err := f.Int64s("i32")
	require.NoError(t, err)
	assert.Equal(t, []int64{-5}, i32)

	in, ok := f.Info("h")
	require.True(t, ok)
	assert.Equal(t, Info{DType: F16, Shape: []int{3}, Begin: 16, End: 22}, in)

	_, err = f.Tensor("ids")
	assert.Error(t, err, "integer tensor through Tensor")
	_, _, err = f.Int64s("w")
	assert.Error(t, err, "float tensor through Int64s")
	_, err = f.Tensor("nope")
	assert.ErrorContains(t, err, `"nope"`)
}

func TestFloat16Special(t *testing.T) {
	assert.True(t, math.IsInf(float64(Float16ToFloat32(0x7C00)), 1))
	assert.True(t, math.IsInf(float64(Float16ToFloat32(0xFC00)), -1))
	assert.True(t, math.IsNaN(float64(Float16ToFloat32(0x7E00))))
	assert.Equal(t, float32(65504), Float16ToFloat32(0x7BFF))                        // largest normal
	assert.Equal(t, float32(math.Ldexp(1, -14)), Float16ToFloat32(0x0400))           // smallest normal
	assert.Equal(t, float32(math.Ldexp(1023, -24)), Float16ToFloat32(0x03FF))        // largest subnormal
	assert.Equal(t, float32(-math.Ldexp(3, -24)), Float16ToFloat32(0x8003))          // negative subnormal
	assert.Equal(t, float32(1+1.0/1024), Float16ToFloat32(0x3C01))                   // 1 + ulp
	assert.True(t, math.Signbit(float64(Float16ToFloat32(0x8000))), "negative zero") // -0
}

func TestRoundTrip(t *testing.T) {
	a := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	s := tensor.FromSlice([]float32{float32(math.Inf(-1))}) // scalar
	e := tensor.New(0, 4)                                   // empty
	nan := tensor.FromSlice([]float32{float32(math.NaN()), -0.0, math.SmallestNonzeroFloat32}, 3)
	in := []Named{{"layer.weight", a}, {"scalar", s}, {"empty", e}, {`odd "name"<&>`, nan}}
	meta := map[string]string{"epoch": "3", "quote": `a"b`}

	var buf bytes.Buffer
	require.NoError(t, Write(&buf, in, meta))
	hdrLen := binary.LittleEndian.Uint64(buf.Bytes())
	assert.Zero(t, (8+hdrLen)%8, "data buffer aligned to 8 bytes")

	f, err := ReadBytes(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, meta, f.Metadata)
	assert.Len(t, f.Names(), 4)
	for _, nt := range in {
		got, err := f.Tensor(nt.Name)
		require.NoError(t, err, nt.Name)
		assert.Equal(t, nt.Tensor.Shape, got.Shape, nt.Name)
		require.Len(t, got.Data, len(nt.Tensor.Data))
		for i := range got.Data {
			assert.Equal(t, math.Float32bits(nt.Tensor.Data[i]), math.Float32bits(got.Data[i]), "%s[%d] bit-identical", nt.Name, i)
		}
	}
}

func TestRoundTripLarge(t *testing.T) {
	// Larger than the 64 KiB conversion chunk, with a size that is not a
	// multiple of it.
	n := 3*chunk/4 + 17
	x := tensor.New(n, 4)
	for i := range x.Data {
		x.Data[i] = float32(i) * 0.25
	}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, []Named{{"x", x}}, nil))
	f, err := ReadBytes(buf.Bytes())
	require.NoError(t, err)
	assert.Nil(t, f.Metadata)
	got, err := f.Tensor("x")
	require.NoError(t, err)
	assert.Equal(t, x.Data, got.Data)
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	x := tensor.FromSlice([]float32{1, 2}, 2)
	require.NoError(t, WriteFile(path, []Named{{"x", x}}, map[string]string{"k": "v"}))

	f, err := Open(path)
	require.NoError(t, err)
	got, err := f.Tensor("x")
	require.NoError(t, err)
	assert.Equal(t, x.Data, got.Data)
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "second Close is a no-op")

	// A failed write leaves the old file and no temp file behind.
	err = WriteFile(path, []Named{{"x", x}, {"x", x}}, nil)
	require.ErrorContains(t, err, "duplicate")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temp file left")
	f, err = Open(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, map[string]string{"k": "v"}, f.Metadata)

	_, err = Open(filepath.Join(dir, "missing.safetensors"))
	assert.Error(t, err)
}

func TestWriteInvalid(t *testing.T) {
	x := tensor.New(2)
	for name, in := range map[string][]Named{
		"empty name": {{"", x}},
		"reserved":   {{"__metadata__", x}},
		"duplicate":  {{"a", x}, {"a", x}},
		"nil":        {{"a", nil}},
		"bad shape":  {{"a", &tensor.Tensor{Shape: []int{3}, Data: make([]float32, 2)}}},
	} {
		var buf bytes.Buffer
		assert.Error(t, Write(&buf, in, nil), name)
	}
}

func TestReadInvalid(t *testing.T) {
	ok4 := le32(1)
	big := make([]byte, 8)
	binary.LittleEndian.PutUint64(big, MaxHeaderSize+1)
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, math.MaxUint64)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short file", []byte{1, 2, 3}, "shorter than"},
		{"header past end", handFile(`{}`, nil)[:9], "exceeds"},
		{"absurd header", append(big, make([]byte, 64)...), "limit"},
		{"max u64 header", append(huge, make([]byte, 64)...), "limit"},
		{"not json", handFile(`{"a":`, nil), "JSON"},
		{"not object", handFile(`[1,2]`, nil), "'{'"},
		{"garbage after", handFile(`{} x`, nil), "trailing"},
		{"unknown dtype", handFile(`{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, ok4), "unknown dtype"},
		{"missing field", handFile(`{"a":{"dtype":"F32","shape":[1]}}`, ok4), "data_offsets"},
		{"entry not object", handFile(`{"a":5}`, nil), `"a"`},
		{"bad metadata", handFile(`{"__metadata__":{"k":1}}`, nil), "__metadata__"},
		{"duplicate key", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, ok4), "duplicate"},
		{"negative dim", handFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, ok4), "negative"},
		{"shape mismatch", handFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, ok4), "needs 8 bytes"},
		{"dtype size mismatch", handFile(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,4]}}`, ok4), "needs 8 bytes"},
		{"overflowing shape", handFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, ok4), "needs"},
		{"three offsets", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, ok4), "2"},
		{"reversed offsets", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, ok4), "begin <= end"},
		{"negative offset", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, ok4), "begin <= end"},
		{"out of range", handFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, ok4), "runs past"},
		{"truncated data", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, ok4), "truncated"},
		{"overlap", handFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, le32(1, 2)), "overlaps"},
		{"gap", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, le32(1, 2)), "gap"},
		{"trailing data", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, le32(1, 2)), "cover 4"},
		{"float offsets", handFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}`, ok4), `"a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadBytes(c.file)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrFormat), "wraps ErrFormat: %v", err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	require.NoError(t, os.WriteFile(path, handFile(`{"a":{"dtype":"Q","shape":[],"data_offsets":[0,0]}}`, nil), 0o644))
	_, err := Open(path)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "bad.safetensors"), err.Error())
}

func TestZeroSizedTensors(t *testing.T) {
	// Zero-sized tensors share offsets with their neighbours; that is not an
	// overlap.
	hdr := `{"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},` +
		`"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"e2":{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]}}`
	f, err := ReadBytes(handFile(hdr, le32(2)))
	require.NoError(t, err)
	e, err := f.Tensor("e1")
	require.NoError(t, err)
	assert.Equal(t, 0, e.Len())
	v, shape, err := f.Int64s("e2")
	require.NoError(t, err)
	assert.Empty(t, v)
	assert.Equal(t, []int{3, 0}, shape)
}

func TestU64Overflow(t *testing.T) {
	data := binary.LittleEndian.AppendUint64(nil, math.MaxUint64)
	f, err := ReadBytes(handFile(`{"u":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}`, data))
	require.NoError(t, err)
	_, _, err = f.Int64s("u")
	assert.ErrorContains(t, err, "int64")
}

// The generic atomic writer: mode 0644 (not CreateTemp's 0600), the old
// content kept and no temp file left when the writer fails half-way.
func TestWriteFileAtomicGeneric(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg.json")
	require.NoError(t, WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("v1")); return err }))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	boom := errors.New("disk on fire")
	err = WriteFileAtomic(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("half of v2"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "v1", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temp file left")

	require.Error(t, WriteFileAtomic(filepath.Join(dir, "no-such-dir", "x"), func(io.Writer) error { return nil }))
}
