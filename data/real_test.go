package data

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func requireCounts(t *testing.T, d *Dataset, users, items, inter int) {
	t.Helper()
	require.Equal(t, users, d.NumUsers(), "users")
	require.Equal(t, items, d.NumItems, "items")
	require.Equal(t, inter, d.NumInteractions(), "interactions")
	checkInvariants(t, d)
}

// checkInvariants verifies the structural promises of a Dataset.
func checkInvariants(t testing.TB, d *Dataset) {
	t.Helper()
	require.Len(t, d.UserRaw, d.NumUsers())
	require.Len(t, d.ItemRaw, d.NumItems+1)
	require.Equal(t, "", d.ItemRaw[0])
	for u, s := range d.Seqs {
		require.NotEmpty(t, s, "user %d", u)
		for _, it := range s {
			require.True(t, it >= 1 && it <= d.NumItems, "user %d item %d", u, it)
		}
		if d.Timestamps != nil {
			require.Len(t, d.Timestamps[u], len(s))
		}
		if d.UserIndex != nil {
			require.Equal(t, u, d.UserIndex[d.UserRaw[u]])
		}
	}
	if d.ItemIndex != nil {
		for i := 1; i <= d.NumItems; i++ {
			id, ok := d.ItemIndex[d.ItemRaw[i]]
			require.True(t, ok)
			require.Equal(t, i, id)
		}
	}
}

// rawSeqFile reads a sequence file naively (no library code) as raw tokens.
func rawSeqFile(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		out = append(out, strings.Fields(sc.Text()))
	}
	require.NoError(t, sc.Err())
	return out
}

func TestRealCountsSeq(t *testing.T) {
	cases := []struct {
		rel                  string
		users, items, inters int
	}{
		{"amazon-beauty/Beauty.txt", 22363, 12101, 198502},
		{"amazon-sports/Sports_and_Outdoors.txt", 35598, 18357, 296337},
		{"lastfm/LastFM.txt", 1090, 3646, 52551},
		{"amazon-pantry/pantry_seq.txt", 12871, 8347, 115004},
		{"ml-100k/ml-100k_seq.txt", 943, 1682, 100000},
	}
	for _, c := range cases {
		t.Run(filepath.Dir(c.rel), func(t *testing.T) {
			p := sharedtest.File(t, c.rel)
			d, err := Load(p, Options{})
			require.NoError(t, err)
			requireCounts(t, d, c.users, c.items, c.inters)
			// Default for seq is to keep ids: token j of line u is item j.
			raw := rawSeqFile(t, p)
			require.Len(t, raw, d.NumUsers())
			for u, line := range raw {
				require.Equal(t, line[0], d.UserRaw[u])
				require.Len(t, d.Seqs[u], len(line)-1)
				for j, tok := range line[1:] {
					want, err := strconv.Atoi(tok)
					require.NoError(t, err)
					if d.Seqs[u][j] != want {
						t.Fatalf("user %s pos %d: got item %d, file says %d", line[0], j, d.Seqs[u][j], want)
					}
				}
			}
		})
	}
}

func TestRealMovieLensPairsMatchSeq(t *testing.T) {
	udata := sharedtest.File(t, "ml-100k/u.data")
	seqf := sharedtest.File(t, "ml-100k/ml-100k_seq.txt")
	cols := PairColumns{User: 0, Item: 1, Rating: 2, Time: 3}
	d, err := Load(udata, Options{Format: FormatPairs, Pairs: cols})
	require.NoError(t, err)
	requireCounts(t, d, 943, 1682, 100000)

	// Keeping ids and breaking time ties by item reproduces ml-100k_seq.txt.
	k, err := Load(udata, Options{Format: FormatPairs, Pairs: cols, IDs: IDKeep, TieByItem: true})
	require.NoError(t, err)
	s, err := Load(seqf, Options{})
	require.NoError(t, err)
	require.Equal(t, s.UserRaw, k.UserRaw)
	require.Equal(t, s.Seqs, k.Seqs)
	for u := range k.Seqs {
		for j := 1; j < len(k.Timestamps[u]); j++ {
			require.LessOrEqual(t, k.Timestamps[u][j-1], k.Timestamps[u][j])
		}
	}

	// Rating filter: count ratings >= 4 independently.
	f, err := os.Open(udata)
	require.NoError(t, err)
	defer f.Close()
	want := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r, _ := strconv.Atoi(strings.Fields(sc.Text())[2])
		if r >= 4 {
			want++
		}
	}
	r4, err := Load(udata, Options{Format: FormatPairs, Pairs: cols, MinRating: 4})
	require.NoError(t, err)
	require.Equal(t, want, r4.NumInteractions())
	require.Less(t, want, 100000)
}

func loadPantryCSV(t *testing.T) *Dataset {
	hist := sharedtest.File(t, "amazon-pantry/Prime_Pantry_cleaned_history.csv")
	meta := sharedtest.File(t, "amazon-pantry/metadata_Prime_Pantry.csv")
	order, err := LoadItemOrder(meta, "asin")
	require.NoError(t, err)
	require.Len(t, order, 8347)
	d, err := Load(hist, Options{Items: order, CSV: CSVColumns{User: "user"}})
	require.NoError(t, err)
	return d
}

func TestRealPantryCSVMatchesSeq(t *testing.T) {
	d := loadPantryCSV(t)
	requireCounts(t, d, 12871, 8347, 115004)
	s, err := Load(sharedtest.File(t, "amazon-pantry/pantry_seq.txt"), Options{})
	require.NoError(t, err)
	requireCounts(t, s, 12871, 8347, 115004)
	// pantry_seq.txt user id = CSV row index + 1, items = 1 + metadata row.
	require.Equal(t, s.Seqs, d.Seqs)
	// Spot check against item_text.tsv (item_id, ASIN, title).
	f, err := os.Open(sharedtest.File(t, "amazon-pantry/item_text.tsv"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		if parts[0] == "item_id" {
			continue // header
		}
		id, err := strconv.Atoi(parts[0])
		require.NoError(t, err)
		require.Equal(t, parts[1], d.ItemRaw[id])
		n++
	}
	assert.Equal(t, 8347, n)
	u, ok := d.UserID("A0526222H977CBZM4DK7")
	require.True(t, ok)
	require.Equal(t, 0, u)
	it, ok := d.ItemID("B00099XNXS")
	require.True(t, ok)
	require.Equal(t, it, d.Seqs[0][0])
}
