package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
)

// loadNpyF32 is a minimal reader for the shared 2-D little-endian float32
// .npy embedding tables (format version 1), enough to get a real-sized
// table into a tensor without depending on the data package.
func loadNpyF32(tb testing.TB, path string) *tensor.Tensor {
	tb.Helper()
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	require.True(tb, bytes.HasPrefix(b, []byte("\x93NUMPY\x01\x00")), "npy v1 magic")
	hlen := int(binary.LittleEndian.Uint16(b[8:10]))
	hdr := string(b[10 : 10+hlen])
	require.Contains(tb, hdr, "'descr': '<f4'")
	require.Contains(tb, hdr, "'fortran_order': False")
	m := regexp.MustCompile(`'shape': \((\d+), (\d+)\)`).FindStringSubmatch(hdr)
	require.NotNil(tb, m, "2-D shape in %q", hdr)
	rows, _ := strconv.Atoi(m[1])
	cols, _ := strconv.Atoi(m[2])
	raw := b[10+hlen:]
	require.Equal(tb, rows*cols*4, len(raw))
	t := tensor.New(rows, cols)
	for i := range t.Data {
		t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return t
}

// TestRealEmbeddingRoundTrip writes the Beauty LLM item-embedding table
// (12102 x 512) with WriteFile and reads it back through Open, bit for bit.
func TestRealEmbeddingRoundTrip(t *testing.T) {
	emb := loadNpyF32(t, sharedtest.File(t, "amazon-beauty/item_emb_use_lite_512.npy"))
	path := filepath.Join(t.TempDir(), "beauty.safetensors")
	require.NoError(t, WriteFile(path, []Named{{"item_emb", emb}}, map[string]string{"source": "amazon-beauty"}))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Less(t, st.Size()-int64(4*emb.Len()), int64(256), "header overhead")

	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	got, err := f.Tensor("item_emb")
	require.NoError(t, err)
	require.Equal(t, emb.Shape, got.Shape)
	for i := range emb.Data {
		if math.Float32bits(emb.Data[i]) != math.Float32bits(got.Data[i]) {
			t.Fatalf("element %d: %v != %v", i, got.Data[i], emb.Data[i])
		}
	}
}

// BenchmarkRealEmbedding measures writing (WriteFile, with fsync) and
// reading (Open + Tensor) the Beauty item-embedding table (24.8 MB).
func BenchmarkRealEmbedding(b *testing.B) {
	emb := loadNpyF32(b, sharedtest.File(b, "amazon-beauty/item_emb_use_lite_512.npy"))
	path := filepath.Join(b.TempDir(), "beauty.safetensors")
	b.Run("WriteFile", func(b *testing.B) {
		b.SetBytes(int64(4 * emb.Len()))
		for b.Loop() {
			if err := WriteFile(path, []Named{{"item_emb", emb}}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenTensor", func(b *testing.B) {
		b.SetBytes(int64(4 * emb.Len()))
		for b.Loop() {
			f, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Tensor("item_emb"); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("os.ReadFile", func(b *testing.B) { // baseline: raw read of the same bytes
		b.SetBytes(int64(4 * emb.Len()))
		for b.Loop() {
			if _, err := os.ReadFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
