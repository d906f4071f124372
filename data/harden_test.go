package data

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 12 row 8: a UTF-8 BOM at the start of a sequence or pairs file is
// not part of the first user id (before: user "\ufeff1" became a user of
// its own and the user order changed).
func TestBOMStrippedInEveryReader(t *testing.T) {
	const bom = "\ufeff"
	seq := "1 1 2 3\n2 2 3\n1 4\n"
	plain, err := ReadSeq(strings.NewReader(seq), "s.txt", Options{})
	require.NoError(t, err)
	withBOM, err := ReadSeq(strings.NewReader(bom+seq), "s.txt", Options{})
	require.NoError(t, err)
	assert.Equal(t, plain.UserRaw, withBOM.UserRaw)
	assert.Equal(t, plain.Seqs, withBOM.Seqs)
	assert.Equal(t, []string{"1", "2"}, withBOM.UserRaw)

	pairs := "7 1\n8 2\n7 3\n"
	p1, err := ReadPairs(strings.NewReader(pairs), "p.txt", Options{})
	require.NoError(t, err)
	p2, err := ReadPairs(strings.NewReader(bom+pairs), "p.txt", Options{})
	require.NoError(t, err)
	assert.Equal(t, p1.UserRaw, p2.UserRaw)
	assert.Equal(t, p1.Seqs, p2.Seqs)

	inter := "user_id:token\titem_id:token\nu\ta\nu\tb\n"
	i2, err := ReadInter(strings.NewReader(bom+inter), "x.inter", Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"u"}, i2.UserRaw)

	csv := "user_id,item_id\nu,a\nv,b\n"
	c2, err := ReadCSV(strings.NewReader(bom+csv), "x.csv", Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"u", "v"}, c2.UserRaw)

	path := filepath.Join(t.TempDir(), "meta.csv")
	require.NoError(t, os.WriteFile(path, []byte(bom+"asin,title\nB1,x\nB2,y\n"), 0o644))
	order, err := LoadItemOrder(path, "asin")
	require.NoError(t, err)
	assert.Equal(t, []string{"B1", "B2"}, order)
}

// Issue 12 row 9: non-finite and out-of-range timestamps are errors naming
// the line (before: accepted as MinInt64, and SortByTime moved the "latest"
// item first, changing the leave-one-out test item).
func TestTimestampsFiniteAndInRange(t *testing.T) {
	for _, ts := range []string{"inf", "-Inf", "nan", "1e300", "-1e300", "9.3e18", "1e400"} {
		in := "user_id,item_id,timestamp\nu,a,5\nu,b," + ts + "\n"
		_, err := ReadCSV(strings.NewReader(in), "t.csv", Options{})
		require.Error(t, err, ts)
		var pe *ParseError
		require.True(t, errors.As(err, &pe), "%v", err)
		assert.Equal(t, 3, pe.Line, ts)
		assert.ErrorIs(t, err, ErrBadInput)
		if strings.Contains(strings.ToLower(ts), "inf") || ts == "nan" {
			assert.ErrorIs(t, err, ErrNonFinite, ts)
		}
	}
	// The extremes that fit are kept, in order.
	in := "user_id,item_id,timestamp\nu,a,-9.2e18\nu,b,9.2e18\nu,c,0\n"
	d, err := ReadCSV(strings.NewReader(in), "t.csv", Options{})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 3, 2}, d.Seqs[0])
}

// ParseError unwraps to the kind of problem (issue 12 row 12).
func TestParseErrorUnwraps(t *testing.T) {
	_, err := ReadSeq(strings.NewReader("1 5 99\n"), "s.txt", Options{NumItems: 10})
	require.ErrorIs(t, err, ErrItemOutOfRange)
	require.ErrorIs(t, err, ErrBadInput)
	_, err = ReadSeq(strings.NewReader("1 x\n"), "s.txt", Options{})
	require.ErrorIs(t, err, ErrBadInput)
	assert.NotErrorIs(t, err, ErrItemOutOfRange)
	_, err = ReadNPY(strings.NewReader("\x93NUMPX"), "e.npy")
	require.ErrorIs(t, err, ErrBadNPY)
	require.ErrorIs(t, err, ErrBadInput)
}

// Embeddings: a NaN is ErrNonFinite; a matrix with no rows or a huge width
// is refused before the aligned table is allocated.
func TestEmbeddingsNonFiniteAndBounded(t *testing.T) {
	d, err := ReadSeq(strings.NewReader("1 1 2\n"), "s.txt", Options{})
	require.NoError(t, err)
	m := tensor.New(3, 2)
	m.Data[3] = float32(math.NaN())
	_, _, err = AlignEmbeddings(m, d, "e.npy", EmbeddingOptions{})
	require.ErrorIs(t, err, ErrNonFinite)
	_, _, err = AlignEmbeddings(&tensor.Tensor{Shape: []int{0, 1 << 40}}, d, "e.npy", EmbeddingOptions{RowKeys: []string{}, AllowMissing: true})
	require.ErrorIs(t, err, ErrBadInput)
	_, _, err = AlignEmbeddings(&tensor.Tensor{Shape: []int{1, 1 << 20}, Data: make([]float32, 1<<20)}, d, "e.npy", EmbeddingOptions{RowKeys: []string{"1"}, AllowMissing: true})
	require.ErrorIs(t, err, ErrBadInput)
}
