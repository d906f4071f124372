package data

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
	"github.com/stretchr/testify/require"
)

// npyBytes builds a .npy file by hand (independently of EncodeNPY).
func npyBytes(major byte, descr string, fortran bool, shape string, vals []float64) []byte {
	fo := "False"
	if fortran {
		fo = "True"
	}
	dict := "{'descr': '" + descr + "', 'fortran_order': " + fo + ", 'shape': " + shape + ", }\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(major)
	b.WriteByte(0)
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(dict)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(dict)))
	}
	b.WriteString(dict)
	var order binary.ByteOrder = binary.LittleEndian
	if descr[0] == '>' {
		order = binary.BigEndian
	}
	for _, v := range vals {
		if descr[2] == '4' {
			binary.Write(&b, order, float32(v))
		} else {
			binary.Write(&b, order, v)
		}
	}
	return b.Bytes()
}

func TestReadNPYVariants(t *testing.T) {
	// logical 2x3 matrix [[1 2 3] [4 5 6]]
	cOrder := []float64{1, 2, 3, 4, 5, 6}
	fOrder := []float64{1, 4, 2, 5, 3, 6}
	want := []float32{1, 2, 3, 4, 5, 6}
	for _, major := range []byte{1, 2, 3} {
		for _, descr := range []string{"<f4", ">f4", "<f8", ">f8"} {
			for _, fortran := range []bool{false, true} {
				vals := cOrder
				if fortran {
					vals = fOrder
				}
				m, err := ReadNPY(bytes.NewReader(npyBytes(major, descr, fortran, "(2, 3)", vals)), "x.npy")
				require.NoError(t, err, "v%d %s fortran=%v", major, descr, fortran)
				require.Equal(t, []int{2, 3}, m.Shape)
				require.Equal(t, want, m.Data, "v%d %s fortran=%v", major, descr, fortran)
			}
		}
	}
	// float64 rounding to float32
	m, err := ReadNPY(bytes.NewReader(npyBytes(1, "<f8", false, "(1, 1)", []float64{0.1})), "x.npy")
	require.NoError(t, err)
	require.Equal(t, float32(0.1), m.Data[0])
}

func TestReadNPYErrors(t *testing.T) {
	good := npyBytes(1, "<f4", false, "(2, 3)", []float64{1, 2, 3, 4, 5, 6})
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":     {nil, "bad.npy: empty file"},
		"magic":     {[]byte("PK\x03\x04 not numpy"), "bad.npy: not a .npy file"},
		"version":   {append([]byte("\x93NUMPY\x04\x00"), good[8:]...), "unsupported .npy version 4.0"},
		"truncated": {good[:len(good)-5], "bad.npy: truncated data: 4 of 6 elements"},
		"header":    {good[:20], "bad.npy: truncated header"},
		"dtype":     {npyBytes(1, "<i8", false, "(2, 3)", nil), `dtype "<i8" not supported`},
		"1d":        {npyBytes(1, "<f4", false, "(6,)", nil), "only 2-D"},
		"3d":        {npyBytes(1, "<f4", false, "(1, 2, 3)", nil), "only 2-D"},
		"trailing":  {append(append([]byte{}, good...), 0, 0, 0, 0), "trailing bytes"},
		"huge":      {npyBytes(1, "<f4", false, "(100000000, 100000000)", nil), "too large"},
		"badshape":  {npyBytes(1, "<f4", false, "(2, x)", nil), "shape: want a non-negative integer"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadNPY(bytes.NewReader(c.in), "bad.npy")
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.True(t, strings.HasPrefix(err.Error(), "data: bad.npy: "), err.Error())
		})
	}
}

func TestWriteNPYRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "e.npy")
	m := tensor.FromSlice([]float32{0, 0, 1.5, -2, float32(math.Pi), 1e-30}, 3, 2)
	require.NoError(t, WriteNPY(p, m))
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	// header block is a multiple of 64 bytes, ends in '\n'; data follows.
	hl := int(binary.LittleEndian.Uint16(raw[8:10]))
	require.Zero(t, (10+hl)%64)
	require.Equal(t, byte('\n'), raw[10+hl-1])
	require.Equal(t, 10+hl+6*4, len(raw))
	require.Equal(t, math.Float32bits(1.5), binary.LittleEndian.Uint32(raw[10+hl+8:]))
	got, err := LoadNPY(p)
	require.NoError(t, err)
	require.Equal(t, m.Shape, got.Shape)
	require.Equal(t, m.Data, got.Data)
	ents, _ := os.ReadDir(dir)
	require.Len(t, ents, 1, "no temp file left behind")
}

func seqDataset(t *testing.T, text string, opts Options) *Dataset {
	d, err := ReadSeq(strings.NewReader(text), "toy.txt", opts)
	require.NoError(t, err)
	return d
}

func TestAlignEmbeddings(t *testing.T) {
	d := seqDataset(t, "1 1 2 3\n2 3 2\n", Options{}) // items 1..3
	m := tensor.FromSlice([]float32{9, 9, 1, 0, 0, 0, 0, 1}, 4, 2)
	out, rep, err := AlignEmbeddings(m, d, "e.npy", EmbeddingOptions{})
	require.NoError(t, err)
	require.Equal(t, []float32{0, 0, 1, 0, 0, 0, 0, 1}, out.Data)
	require.Equal(t, []int{2}, rep.ZeroRows)
	require.True(t, rep.Row0NonZero)

	_, _, err = AlignEmbeddings(tensor.New(3, 2), d, "e.npy", EmbeddingOptions{})
	require.ErrorContains(t, err, "e.npy: 3 rows, need NumItems+1 = 4")
	_, _, err = AlignEmbeddings(tensor.New(6, 2), d, "e.npy", EmbeddingOptions{})
	require.ErrorContains(t, err, "6 rows but only 3 items")
	_, rep, err = AlignEmbeddings(tensor.New(6, 2), d, "e.npy", EmbeddingOptions{AllowExtraRows: true})
	require.NoError(t, err)
	require.Equal(t, 2, rep.UnusedRows)

	bad := m.Clone()
	bad.Data[5] = float32(math.NaN())
	_, _, err = AlignEmbeddings(bad, d, "e.npy", EmbeddingOptions{})
	require.ErrorContains(t, err, "e.npy: row 2 column 1 is NaN")
	bad.Data[5] = float32(math.Inf(-1))
	_, _, err = AlignEmbeddings(bad, d, "e.npy", EmbeddingOptions{})
	require.ErrorContains(t, err, "row 2 column 1 is -Inf")

	// Keyed rows: drop item 1 with a filter; raw ids "2","3" become 1,2.
	f := rebuild(d, func(u, j int) bool { return d.Seqs[u][j] != 1 })
	require.Equal(t, []string{"", "2", "3"}, f.ItemRaw)
	out, rep, err = AlignEmbeddings(m, f, "e.npy", EmbeddingOptions{RowKeys: NumericRowKeys(4), AllowExtraRows: true})
	require.NoError(t, err)
	require.Equal(t, []float32{0, 0, 0, 0, 0, 1}, out.Data)
	require.Equal(t, 1, rep.UnusedRows)
	require.Equal(t, []int{1}, rep.ZeroRows)
	_, _, err = AlignEmbeddings(m, f, "e.npy", EmbeddingOptions{RowKeys: NumericRowKeys(4)})
	require.ErrorContains(t, err, `row 1 has key "1", which is not an item`)
	_, rep, err = AlignEmbeddings(tensor.New(2, 2), f, "e.npy", EmbeddingOptions{RowKeys: []string{"0", "3"}, AllowMissing: true})
	require.NoError(t, err)
	require.Equal(t, []int{1}, rep.MissingItems)
	_, _, err = AlignEmbeddings(tensor.New(2, 2), f, "e.npy", EmbeddingOptions{RowKeys: []string{"0", "3"}})
	require.ErrorContains(t, err, `1 items have no row (first: item 1, raw id "2")`)
}

func TestLoadItemEmbeddingsSafetensors(t *testing.T) {
	d := seqDataset(t, "1 1 2\n", Options{})
	p := filepath.Join(t.TempDir(), "emb.safetensors")
	m := tensor.FromSlice([]float32{0, 0, 0, 1, 2, 3, 4, 5, 6}, 3, 3)
	require.NoError(t, safetensors.WriteFile(p, []safetensors.Named{{Name: "item_emb", Tensor: m}, {Name: "other", Tensor: tensor.New(1, 1)}}, nil))
	out, rep, err := LoadItemEmbeddings(p, d, EmbeddingOptions{Key: "item_emb"})
	require.NoError(t, err)
	require.Equal(t, m.Data, out.Data)
	require.Empty(t, rep.ZeroRows)
	_, _, err = LoadItemEmbeddings(p, d, EmbeddingOptions{})
	require.ErrorContains(t, err, "emb.safetensors: 2 tensors")
	_, _, err = LoadItemEmbeddings(p, d, EmbeddingOptions{Key: "nope"})
	require.ErrorContains(t, err, `no tensor named "nope"`)
}

type embJSON struct {
	Shape    []int `json:"shape"`
	ZeroRows []int `json:"zero_rows_besides_0"`
}

func readEmbJSON(t *testing.T, rel string) embJSON {
	b, err := os.ReadFile(sharedtest.File(t, rel))
	require.NoError(t, err)
	var j embJSON
	require.NoError(t, json.Unmarshal(b, &j))
	return j
}

func TestRealLoadDirEmbeddings(t *testing.T) {
	cases := []struct {
		dir, seq string
		users    int
	}{
		{"amazon-beauty", "Beauty.txt", 22363},
		{"amazon-pantry", "pantry_seq.txt", 12871},
		{"ml-100k", "ml-100k_seq.txt", 943},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			fo, err := LoadDir(sharedtest.Dir(t, c.dir), Options{})
			require.NoError(t, err)
			require.Equal(t, c.seq, filepath.Base(fo.SeqFile))
			require.Equal(t, "item_emb_use_lite_512.npy", filepath.Base(fo.EmbeddingFile))
			require.Equal(t, c.dir, fo.Dataset.Name)
			require.Equal(t, c.users, fo.Dataset.NumUsers())
			j := readEmbJSON(t, c.dir+"/item_emb_use_lite_512.json")
			emb, rep, err := LoadItemEmbeddings(fo.EmbeddingFile, fo.Dataset, EmbeddingOptions{})
			require.NoError(t, err)
			require.Equal(t, []int{fo.Dataset.NumItems + 1, 512}, emb.Shape)
			require.Equal(t, j.Shape, []int{rep.FileRows, rep.Dim})
			require.False(t, rep.Row0NonZero)
			require.Equal(t, len(j.ZeroRows), len(rep.ZeroRows))
			// vectors are ~unit norm (README: model output, L2 ~ 1)
			var ss float64
			for _, v := range emb.Row(fo.Dataset.NumItems) {
				ss += float64(v) * float64(v)
			}
			require.InDelta(t, 1, math.Sqrt(ss), 1e-3)
		})
	}
	_, err := LoadDir(sharedtest.Dir(t, "ml-1m"), Options{})
	require.ErrorContains(t, err, "ml-1m: no sequence file")
}

func TestRealML1MZeroRows(t *testing.T) {
	m, err := LoadNPY(sharedtest.File(t, "ml-1m/item_emb_use_lite_512.npy"))
	require.NoError(t, err)
	j := readEmbJSON(t, "ml-1m/item_emb_use_lite_512.json")
	require.Equal(t, j.Shape, m.Shape)
	// 3952 items by MovieID; ids without a movie are zero rows.
	d := &Dataset{NumItems: m.Shape[0] - 1, Seqs: [][]int{{1}}, ItemRaw: make([]string, m.Shape[0])}
	_, rep, err := AlignEmbeddings(m, d, "ml-1m", EmbeddingOptions{})
	require.NoError(t, err)
	require.Equal(t, j.ZeroRows, rep.ZeroRows)
	require.Len(t, rep.ZeroRows, 69)
}
