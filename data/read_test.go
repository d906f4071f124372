package data

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadSeqKeepAndRemap(t *testing.T) {
	in := "10 3 1 3\n2 5\n"
	d := seqDataset(t, in, Options{})
	// IDKeep (default for seq): items are the file's ids; users sorted numerically.
	require.Equal(t, 5, d.NumItems)
	require.Equal(t, []string{"2", "10"}, d.UserRaw)
	require.Equal(t, [][]int{{5}, {3, 1, 3}}, d.Seqs)
	u, ok := d.UserID("10")
	require.True(t, ok)
	require.Equal(t, 1, u)
	// NumItems widens the item range.
	d = seqDataset(t, in, Options{NumItems: 7})
	require.Equal(t, 7, d.NumItems)
	// Remap: first appearance order.
	d = seqDataset(t, in, Options{IDs: IDRemap})
	require.Equal(t, 3, d.NumItems)
	require.Equal(t, []string{"", "3", "1", "5"}, d.ItemRaw)
	require.Equal(t, []string{"10", "2"}, d.UserRaw)
	require.Equal(t, [][]int{{1, 2, 1}, {3}}, d.Seqs)
	checkInvariants(t, d)
}

func TestReadPairsAndCSVAndInter(t *testing.T) {
	// pairs: user item rating time, time order differs from file order.
	pairs := "u1\ta\t5\t30\nu2\tb\t3\t10\nu1\tb\t4\t20\nu1\tc\t2\t25\n"
	cols := PairColumns{User: 0, Item: 1, Rating: 2, Time: 3}
	d, err := ReadPairs(strings.NewReader(pairs), "p.tsv", Options{Pairs: cols})
	require.NoError(t, err)
	require.Equal(t, []string{"", "a", "b", "c"}, d.ItemRaw)
	require.Equal(t, [][]int{{2, 3, 1}, {2}}, d.Seqs) // u1: b(20) c(25) a(30)
	require.Equal(t, [][]int64{{20, 25, 30}, {10}}, d.Timestamps)
	d, err = ReadPairs(strings.NewReader(pairs), "p.tsv", Options{Pairs: cols, MinRating: 4})
	require.NoError(t, err)
	require.Equal(t, [][]int{{2, 1}}, d.Seqs)
	d, err = ReadPairs(strings.NewReader(pairs), "p.tsv", Options{Pairs: cols, KeepFileOrder: true})
	require.NoError(t, err)
	require.Equal(t, [][]int{{1, 2, 3}, {2}}, d.Seqs)
	// default columns: user item, file order is time order
	d, err = ReadPairs(strings.NewReader("1 4\n1 2\n2 4\n"), "p.txt", Options{})
	require.NoError(t, err)
	require.Equal(t, [][]int{{1, 2}, {1}}, d.Seqs)
	require.Nil(t, d.Timestamps)

	csvIn := "item_id,user_id,timestamp,rating\n\"x,1\",A,2,5\ny,A,1,5\ny,B,3,1\n"
	d, err = ReadCSV(strings.NewReader(csvIn), "c.csv", Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"", "x,1", "y"}, d.ItemRaw)
	require.Equal(t, [][]int{{2, 1}, {2}}, d.Seqs)
	d, err = ReadCSV(strings.NewReader(csvIn), "c.csv", Options{MinRating: 4})
	require.NoError(t, err)
	require.Equal(t, 1, d.NumUsers())
	d, err = ReadCSV(strings.NewReader("u\ti\nA\tq\n"), "c.tsv", Options{Comma: '\t', CSV: CSVColumns{User: "u", Item: "i"}})
	require.NoError(t, err)
	require.Equal(t, [][]int{{1}}, d.Seqs)

	// PAD history layout with a fixed item order.
	hist := ",user,history\n0,U1,\"['B2', 'B1', \"\"B3\"\"]\"\n1,U2,['B1']\n"
	d, err = ReadCSV(strings.NewReader(hist), "h.csv", Options{CSV: CSVColumns{User: "user"}, Items: []string{"B1", "B2", "B3", "B4"}})
	require.NoError(t, err)
	require.Equal(t, 4, d.NumItems)
	require.Equal(t, [][]int{{2, 1, 3}, {1}}, d.Seqs)
	require.Equal(t, []string{"U1", "U2"}, d.UserRaw)

	inter := "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100.5\n1\t11\t5\t99\n2\t10\t1\t7\n"
	d, err = ReadInter(strings.NewReader(inter), "x.inter", Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"", "10", "11"}, d.ItemRaw)
	require.Equal(t, [][]int{{2, 1}, {1}}, d.Seqs)
	require.Equal(t, [][]int64{{99, 100}, {7}}, d.Timestamps)
	d, err = ReadInter(strings.NewReader(inter), "x.inter", Options{IDs: IDKeep})
	require.NoError(t, err)
	require.Equal(t, 11, d.NumItems)
	require.Equal(t, [][]int{{11, 10}, {10}}, d.Seqs)
}

func TestParsePyList(t *testing.T) {
	got, err := parsePyList(` [ 'a', "b'c" ,'d\'e', 'f\\g' ] `)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b'c", "d'e", `f\g`}, got)
	got, err = parsePyList("[]")
	require.NoError(t, err)
	require.Empty(t, got)
	for _, bad := range []string{"", "['a'", "[a]", "['a' 'b']", "['a\\x41']", "['a]", "[1, 2]", "['a',,]"} {
		_, err := parsePyList(bad)
		require.Error(t, err, "%q", bad)
	}
}

func TestReaderErrors(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		opts   Options
		in     string
		want   string
	}{
		{"empty seq", FormatSeq, Options{}, "", "data: e.txt:1: empty file"},
		{"blank line", FormatSeq, Options{}, "1 2 3\n\n2 3\n", "data: e.txt:2: empty line"},
		{"no items", FormatSeq, Options{}, "1 2 3\n7\n", `data: e.txt:2: user "7" has no items`},
		{"non-numeric", FormatSeq, Options{}, "1 2 3\n2 3 x4\n", `data: e.txt:2: item id "x4" is not an integer`},
		{"zero id", FormatSeq, Options{}, "1 2 0\n", "data: e.txt:1: item id 0 < 1"},
		{"beyond range", FormatSeq, Options{NumItems: 12101}, "1 2\n2 3\n3 99999\n", "data: e.txt:3: item id 99999 > max 12101"},
		{"pairs short", FormatPairs, Options{Pairs: PairColumns{User: 0, Item: 1, Rating: 2, Time: 3}}, "1\t2\t3\t4\n1\t2\t3\n", "data: e.txt:2: 3 fields, need at least 4"},
		{"pairs time", FormatPairs, Options{Pairs: PairColumns{User: 0, Item: 1, Rating: -1, Time: 2}}, "1 2 3\n1 2 soon\n", `data: e.txt:2: timestamp "soon" is not a number`},
		{"pairs rating", FormatPairs, Options{Pairs: PairColumns{User: 0, Item: 1, Rating: 2, Time: -1}, MinRating: 4}, "1 2 five\n", `data: e.txt:1: rating "five" is not a number`},
		{"pairs blank", FormatPairs, Options{}, "1 2\n   \n", "data: e.txt:2: empty line"},
		{"pairs empty", FormatPairs, Options{}, "", "data: e.txt:1: empty file"},
		{"csv empty", FormatCSV, Options{}, "", "data: e.txt:1: empty file: no header"},
		{"csv header only", FormatCSV, Options{}, "user_id,item_id\n", "data: e.txt:1: empty file: no interactions"},
		{"csv no user", FormatCSV, Options{}, "u,item_id\n1,2\n", `data: e.txt:1: header has no user column "user_id"`},
		{"csv fields", FormatCSV, Options{}, "user_id,item_id\n1,2\n3\n", "data: e.txt:3: csv: wrong number of fields"},
		{"csv quote", FormatCSV, Options{}, "user_id,item_id\n1,2\n3,\"4\n", "data: e.txt:3: csv:"},
		{"csv history", FormatCSV, Options{CSV: CSVColumns{User: "user"}}, ",user,history\n0,A,\"['x']\"\n1,B,\"['y', z]\"\n", "data: e.txt:3: history: element 2"},
		{"csv unknown item", FormatCSV, Options{Items: []string{"a"}}, "user_id,item_id\n1,a\n1,b\n", `data: e.txt:3: item "b" is not in the item list`},
		{"csv ts", FormatCSV, Options{}, "user_id,item_id,timestamp\n1,a,1\n1,b,\n", `data: e.txt:3: timestamp "" is not a number`},
		{"inter header", FormatInter, Options{}, "user_id\titem_id\n", `data: e.txt:1: header field "user_id" is not name:type`},
		{"inter fields", FormatInter, Options{}, "user_id:token\titem_id:token\n1\t2\n1\t2\t3\n", "data: e.txt:3: 3 fields, header has 2"},
		{"inter empty", FormatInter, Options{}, "", "data: e.txt:1: empty file: no header"},
		{"inter blank", FormatInter, Options{}, "user_id:token\titem_id:token\n1\t2\n\n", "data: e.txt:3: empty line"},
		{"inter no rows", FormatInter, Options{}, "user_id:token\titem_id:token\n", "data: e.txt:1: empty file: no interactions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "e.txt")
			require.NoError(t, os.WriteFile(p, []byte(c.in), 0o644))
			c.opts.Format = c.format
			_, err := Load(p, c.opts)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "a *ParseError: %v", err)
			require.Equal(t, "e.txt", pe.File)
		})
	}
}

func TestReaderTruncatedAndSkip(t *testing.T) {
	// A truncated last line still parses what is there; a truncated quoted
	// CSV field is an error naming the line.
	d := seqDataset(t, "1 2 3\n2 4 5", Options{})
	require.Equal(t, [][]int{{2, 3}, {4, 5}}, d.Seqs)
	_, err := ReadCSV(strings.NewReader(",user,history\n0,A,\"['x', 'y"), "h.csv", Options{CSV: CSVColumns{User: "user"}})
	require.ErrorContains(t, err, "data: h.csv:2: csv:")
	d = seqDataset(t, "\n1 2 3\r\n\n2 4\r\n", Options{SkipBlankLines: true})
	require.Equal(t, [][]int{{2, 3}, {4}}, d.Seqs)
	// Load picks by extension and rejects unknown ones.
	_, err = Load(filepath.Join(t.TempDir(), "u.data"), Options{})
	require.ErrorContains(t, err, "u.data: cannot tell the format")
	_, err = Load("x.txt", Options{Format: "xml"})
	require.ErrorContains(t, err, `unknown format "xml"`)
	_, err = Load(filepath.Join(t.TempDir(), "missing.txt"), Options{})
	require.Error(t, err)
}

func TestLoadItemOrder(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meta.csv")
	require.NoError(t, os.WriteFile(p, []byte("asin,title\nB2,\"a, b\"\nB1,c\n"), 0o644))
	got, err := LoadItemOrder(p, "asin")
	require.NoError(t, err)
	require.Equal(t, []string{"B2", "B1"}, got)
	require.NoError(t, os.WriteFile(p, []byte("asin,title\nB2,x\nB2,y\n"), 0o644))
	_, err = LoadItemOrder(p, "asin")
	require.ErrorContains(t, err, `data: meta.csv:3: asin "B2" repeats line 2`)
	_, err = LoadItemOrder(p, "id")
	require.ErrorContains(t, err, `data: meta.csv:1: header has no column "id"`)
}
