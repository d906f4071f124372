package safetensors

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// allocated returns the bytes allocated while fn runs.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Issue 21, row 7: headers under the size cap that declare huge counts (one
// tensor of millions of dimensions, hundreds of thousands of empty tensors,
// a million metadata keys) are refused at a bound, and parsing them costs
// memory proportional to the header's length (a few copies of it), not
// 10-23x. Before the bounds the three cases allocated 13x, 11x and 13x
// their header.
func TestHeaderMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds headers of 4-10 MB")
	}
	var b strings.Builder
	// one tensor with 2M dimensions of size 1 (4 MB of "1,")
	b.WriteString(`{"t":{"dtype":"F32","shape":[`)
	b.WriteString(strings.Repeat("1,", 2_000_000))
	b.WriteString(`1],"data_offsets":[0,4]}}`)
	bigShape := handFile(b.String(), make([]byte, 4))

	b.Reset()
	b.WriteString("{")
	for i := range 100_000 {
		b.WriteString(`"` + strconv.Itoa(i) + `":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},`)
	}
	b.WriteString(`"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`)
	manyTensors := handFile(b.String(), nil)

	b.Reset()
	b.WriteString(`{"__metadata__":{`)
	for i := range 1_000_000 {
		b.WriteString(`"` + strconv.Itoa(i) + `":"",`)
	}
	b.WriteString(`"x":""}}`)
	manyKeys := handFile(b.String(), nil)

	for _, c := range []struct {
		name string
		file []byte
		msg  string
	}{
		{"44M-style shape", bigShape, "more than 64 values"},
		{"many empty tensors", manyTensors, "more than 16384 tensors"},
		{"many metadata keys", manyKeys, "more than 4096 keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			used := allocated(func() { _, err = ReadBytes(c.file) })
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, c.msg)
			ratio := float64(used) / float64(len(c.file))
			t.Logf("header %d bytes, allocated %d (%.1fx)", len(c.file), used, ratio)
			require.Less(t, ratio, 6.0, "parsing allocated %.1fx the header", ratio)
		})
	}
}

// The bounds refuse only what exceeds them: a shape of MaxRank dimensions
// and MaxMetadataEntries keys still read.
func TestHeaderBoundsInclusive(t *testing.T) {
	shape := strings.TrimSuffix(strings.Repeat("1,", MaxRank), ",")
	var meta strings.Builder
	for i := range MaxMetadataEntries {
		if i > 0 {
			meta.WriteString(",")
		}
		meta.WriteString(`"` + strconv.Itoa(i) + `":"v"`)
	}
	hdr := `{"__metadata__":{` + meta.String() + `},"t":{"dtype":"F32","shape":[` + shape + `],"data_offsets":[0,4]}}`
	f, err := ReadBytes(handFile(hdr, make([]byte, 4)))
	require.NoError(t, err)
	in, _ := f.Info("t")
	require.Len(t, in.Shape, MaxRank)
	require.Len(t, f.Metadata, MaxMetadataEntries)
	require.Equal(t, "v", f.Metadata["17"])
}
