package backbone

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBatchAddSeq(t *testing.T) {
	var b Batch
	b.Reset(4)
	require.Equal(t, 0, b.AddSeq([]int{7, 8}))
	require.Equal(t, 1, b.AddSeq([]int{1, 2, 3, 4, 5, 6})) // longer than the window: last 4 kept
	require.Equal(t, 2, b.AddSeq(nil))
	require.Equal(t, []int{7, 8, 3, 4, 5, 6}, b.Items)
	// positions as in the left-padded window of width 4: the last item is at 3
	require.Equal(t, []int{2, 3, 0, 1, 2, 3}, b.Pos)
	require.Equal(t, []int{0, 2, 6, 6}, b.Offsets)
	require.Equal(t, 3, b.NumSeqs())
	require.Equal(t, 4, b.LongestSeq())
	require.Equal(t, []int{1, 5, -1}, b.LastRows(nil))
	b.Reset(4)
	require.Zero(t, b.NumSeqs())
	require.Zero(t, b.NumTokens())
}

func TestPadLeftAndTrim(t *testing.T) {
	require.Equal(t, []int{0, 0, 0, 7, 8}, PadLeft(nil, []int{7, 8}, 5))
	require.Equal(t, []int{3, 4}, PadLeft(nil, []int{1, 2, 3, 4}, 2))
	rows := [][]int{
		PadLeft(nil, []int{5, 6}, 6),
		PadLeft(nil, []int{1, 2, 3}, 6),
		PadLeft(nil, []int{9}, 6),
	}
	// the longest real sequence has 3 items: the first 3 columns are padding everywhere
	require.Equal(t, 3, TrimPadded(rows))
	require.Equal(t, 0, TrimPadded([][]int{{1, 2}, {0, 3}}))
	require.Equal(t, 2, TrimPadded([][]int{{0, 0}})) // all padding
	require.Equal(t, 0, TrimPadded(nil))
}

func TestBucketBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := make([]int, 1000)
	for i := range lengths {
		lengths[i] = 1 + rng.IntN(50)
	}
	for _, pool := range []int{0, 1, 4, 100} {
		bs := BucketBatches(rng, lengths, 32, pool)
		var all []int
		spread := 0
		for _, b := range bs {
			require.LessOrEqual(t, len(b), 32)
			all = append(all, b...)
			lo, hi := 1000, 0
			for _, i := range b {
				lo, hi = min(lo, lengths[i]), max(hi, lengths[i])
			}
			spread += hi - lo
		}
		slices.Sort(all)
		for i, v := range all {
			require.Equal(t, i, v, "pool %d: every index exactly once", pool)
		}
		mean := float64(spread) / float64(len(bs))
		if pool > 1 {
			// sorted pools: a batch spans a narrow band of lengths
			require.Less(t, mean, 20.0, "pool %d", pool)
		} else {
			require.Greater(t, mean, 35.0, "random batches span most lengths")
		}
	}
}

func TestAddNextItem(t *testing.T) {
	var b Batch
	b.Reset(2)
	b.NumNeg = 3
	rng := rand.New(rand.NewPCG(1, 2))
	require.NoError(t, b.AddNextItem([]int{1, 2, 3, 4}, 9, rng))
	require.NoError(t, b.AddNextItem([]int{5}, 9, rng)) // too short: nothing
	require.NoError(t, b.AddNextItem([]int{6, 7}, 9, rng))
	require.Equal(t, []int{2, 3, 6}, b.Items, "inputs: all but the last item, last MaxLen of them")
	require.Equal(t, []int{0, 1, 1}, b.Pos)
	require.Equal(t, []int{0, 2, 3}, b.Offsets)
	require.Equal(t, []int{3, 4, 7}, b.Targets)
	require.Len(t, b.Negs, 9)
	for i, c := range b.Negs {
		seq := []int{1, 2, 3, 4}
		if i >= 6 {
			seq = []int{6, 7}
		}
		require.NotContains(t, seq, c, "negative %d", i)
		require.True(t, c >= 1 && c <= 9)
	}
	b.Reset(5)
	b.NumNeg = 1
	// a user with every item: unconstrained negatives, no failure
	require.NoError(t, b.AddNextItem([]int{1, 2}, 2, rng))
	require.Len(t, b.Negs, 1)
	err := b.AddNextItem([]int{1, 3}, 2, rng)
	require.ErrorIs(t, err, ErrItemOutOfRange)
	require.Len(t, b.Items, 1, "nothing added")
}

func TestAddMasked(t *testing.T) {
	var b Batch
	b.Reset(3)
	b.NumNeg = 2
	rng := rand.New(rand.NewPCG(3, 4))
	require.NoError(t, b.AddMasked([]int{1, 2, 3, 4}, 9, 0.5, rng))
	require.NoError(t, b.AddMasked(nil, 9, 0.5, rng))
	require.NoError(t, b.AddMasked([]int{8}, 9, 1e-9, rng)) // no draw masks: one position is masked anyway
	require.Equal(t, []int{2, 3, 4, 8}, b.Items)
	require.Equal(t, []int{0, 3, 4}, b.Offsets, "an empty sequence adds nothing")
	require.Equal(t, []bool{true}, b.Masked[3:])
	require.Equal(t, 8, b.Targets[3])
	require.Len(t, b.Negs, 2*4)
	for i, tg := range b.Targets {
		require.Equal(t, b.Masked[i], tg != 0)
		if b.Masked[i] {
			require.Equal(t, b.Items[i], tg)
		}
		for _, c := range b.Negs[2*i : 2*i+2] {
			if tg == 0 {
				require.Zero(t, c)
			} else {
				require.True(t, c >= 1 && c <= 9)
				user := []int{1, 2, 3, 4}
				if i == 3 {
					user = []int{8}
				}
				require.NotContains(t, user, c)
			}
		}
	}
	require.ErrorIs(t, b.AddMasked([]int{0}, 9, 0.5, rng), ErrItemOutOfRange)
}
