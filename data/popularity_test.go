package data

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/require"
)

func readIntTable(t *testing.T, path string, sep string) [][]int {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out [][]int
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		var row []int
		for _, tok := range strings.Split(sc.Text(), sep) {
			v, err := strconv.Atoi(tok)
			require.NoError(t, err)
			row = append(row, v)
		}
		out = append(out, row)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestRealPantryPopularityBins(t *testing.T) {
	d, err := Load(sharedtest.File(t, "amazon-pantry/pantry_seq.txt"), Options{})
	require.NoError(t, err)
	s := LeaveOneOut(d)
	freq := ItemFrequency(s)
	require.Len(t, freq, 8348)

	fre := readIntTable(t, sharedtest.File(t, "amazon-pantry/Prime_Pantry_fre.csv"), ",")
	require.Len(t, fre, 8348)
	pop := readIntTable(t, sharedtest.File(t, "amazon-pantry/pad_pop_bins.tsv"), "\t")
	require.Len(t, pop, 8348)
	total := 0
	for id := range freq {
		require.Equal(t, id, fre[id][0])
		require.Equal(t, fre[id][1], freq[id], "fre of item %d", id)
		require.Equal(t, pop[id][1], freq[id], "pad_pop_bins fre of item %d", id)
		total += freq[id]
	}
	require.Equal(t, 89262, total)

	bounds := PopularityBinBoundaries(freq, 10)
	require.Equal(t, []int{0, 35, 100, 205, 361, 585, 898, 1357, 2074, 3348, 8348}, bounds)
	bins := PopularityBins(freq, 10)
	for id := range bins {
		require.Equal(t, pop[id][2], bins[id], "bin of item %d", id)
	}
	// Bin sizes (real items) from the README: 35/65/.../4999.
	size := make([]int, 11)
	for id := 1; id < len(bins); id++ {
		size[bins[id]]++
	}
	require.Equal(t, []int{0, 35, 65, 105, 156, 224, 313, 459, 717, 1274, 4999}, size)

	all := ItemFrequencyAll(s)
	sum := 0
	for _, f := range all {
		sum += f
	}
	require.Equal(t, 115004, sum)
}

func TestPopularityBinsByHand(t *testing.T) {
	// ids 0..6; freq: total 20, nbins 4 -> target 5 each.
	freq := []int{0, 1, 9, 4, 4, 2, 0}
	// ranking: 2(9) 3(4) 4(4) 5(2) 1(1) 0(0) 6(0)
	require.Equal(t, []int{2, 3, 4, 5, 1, 0, 6}, PopularityRanking(freq))
	// bin1: {2} mass 9 >= 5; bin2: {3,4} 8 >= 5; bin3: {5,1,0,6} mass 3 < 5
	// takes everything; bin4: empty.
	require.Equal(t, []int{0, 1, 3, 7, 7}, PopularityBinBoundaries(freq, 4))
	require.Equal(t, []int{0, 3, 1, 2, 2, 3, 3}, PopularityBins(freq, 4))
	require.Equal(t, []int{0, 1, 1, 1, 1, 1, 1}, PopularityBins(freq, 1))
	require.Panics(t, func() { PopularityBins(freq, 0) })
}

func TestSplitAndTails(t *testing.T) {
	d := &Dataset{NumItems: 5, Seqs: [][]int{{1, 2}, {1, 2, 3}, {5, 4, 3, 2, 1}}}
	s := LeaveOneOut(d)
	require.Equal(t, [][]int{{1, 2}, {1}, {5, 4, 3}}, s.Train)
	require.Equal(t, []int{0, 2, 2}, s.Valid)
	require.Equal(t, []int{0, 3, 1}, s.Test)
	require.Equal(t, []int{0, 2, 1, 1, 1, 1}, ItemFrequency(s))
	require.Equal(t, []int{0, 3, 3, 2, 1, 1}, ItemFrequencyAll(s))
	require.Equal(t, []bool{false, false, false, false, true, true}, TailItems(ItemFrequencyAll(s), 2))
	// test input lengths: 2, 2, 4; valid input lengths: 2, 1, 3
	require.Equal(t, []bool{true, true, false}, TailUsers(s, 3, 0, true))
	require.Equal(t, []bool{true, true, true}, TailUsers(s, 3, 2, true))
	require.Equal(t, []bool{false, true, false}, TailUsers(s, 2, 0, false))
	// appending to a train slice must not clobber the dataset
	_ = append(s.Train[1], 99)
	require.Equal(t, []int{1, 2, 3}, d.Seqs[1])
}
