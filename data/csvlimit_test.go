package data

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// endless yields n bytes of c (never materialized), then EOF.
type endless struct {
	c byte
	n int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	k := int64(len(p))
	if k > e.n {
		k = e.n
	}
	for i := range p[:k] {
		p[i] = e.c
	}
	e.n -= k
	return int(k), nil
}

// Issue 21, row 8: a CSV line longer than the other readers' limit (64
// MiB) is refused with the line's number, not read whole (a 2 GB one-line
// file was a fatal out-of-memory; a 100 MB field was accepted as an item
// id). The readers stream, so the test never holds the line itself.
func TestCSVLineLimit(t *testing.T) {
	long := func(head, tail string, n int64) io.Reader {
		return io.MultiReader(strings.NewReader(head), &endless{c: 'a', n: n}, strings.NewReader(tail))
	}
	// a 100 MB item id on line 3
	_, err := ReadCSV(long("user_id,item_id\nu,i\nu,", "\n", 100<<20), "big.csv", Options{})
	require.Error(t, err)
	pe, ok := errors.AsType[*ParseError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, 3, pe.Line)
	require.ErrorContains(t, err, "longer than 67108864 bytes")

	// a header line that never ends (the 2 GB one-line file, cut at 80 MiB
	// here: the reader must stop at 64 MiB either way)
	_, err = ReadCSV(long("", "", 80<<20), "oneline.csv", Options{})
	require.ErrorContains(t, err, "oneline.csv:1: line longer than")

	// LoadItemOrder reads CSV too
	dir := t.TempDir()
	p := filepath.Join(dir, "meta.csv")
	fh, err := os.Create(p)
	require.NoError(t, err)
	_, err = io.Copy(fh, long("asin\nx\n", "\n", 65<<20))
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	_, err = LoadItemOrder(p, "asin")
	require.ErrorContains(t, err, "meta.csv:3: line longer than")

	// a line of exactly the limit is still read
	line := strings.Repeat("b", maxLine-len("u,"))
	ds, err := ReadCSV(strings.NewReader("user_id,item_id\nu,"+line+"\nu,c\n"), "edge.csv", Options{})
	require.NoError(t, err)
	require.Len(t, ds.ItemRaw, 3)
}
