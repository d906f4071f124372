package data

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/require"
)

func toySplit() *Split {
	return &Split{
		NumItems: 9,
		Train: [][]int{
			{1, 2, 3, 4, 5, 6}, // long: truncated to MaxLen
			{7},                // < 2 train items: not sampled
			{2, 9},
			{3, 3, 8, 1},
			{},
		},
		Valid: []int{7, 0, 1, 2, 0},
		Test:  []int{8, 0, 3, 4, 0},
	}
}

func TestNextItemSamplerRows(t *testing.T) {
	s := toySplit()
	cfg := BatchConfig{BatchSize: 2, MaxLen: 4, NumNeg: 3}
	sm, err := NewNextItemSampler(s, cfg, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	require.Equal(t, 3, sm.NumUsers())
	require.Equal(t, 2, sm.NumBatches())
	// Expected rows written by hand: input = train[:-1], pos = train[1:],
	// last 4 positions, left-padded.
	wantIn := map[int][]int{0: {2, 3, 4, 5}, 2: {0, 0, 0, 2}, 3: {0, 3, 3, 8}}
	wantPos := map[int][]int{0: {3, 4, 5, 6}, 2: {0, 0, 0, 9}, 3: {0, 3, 8, 1}}
	b := sm.NewBatch()
	for ep := 0; ep < 3; ep++ {
		var seen []int
		for sm.Next(b) {
			require.Equal(t, 4, b.Width)
			require.Equal(t, 0, b.Offset)
			for r, u := range b.Users {
				seen = append(seen, u)
				require.Equal(t, wantIn[u], b.Input[r*4:(r+1)*4], "user %d", u)
				require.Equal(t, wantPos[u], b.Pos[r*4:(r+1)*4], "user %d", u)
				for c := 0; c < 4; c++ {
					p := r*4 + c
					for q := 0; q < 3; q++ {
						n := b.Neg[p*3+q]
						if b.Pos[p] == 0 {
							require.Zero(t, n)
							continue
						}
						require.True(t, n >= 1 && n <= 9)
						require.NotContains(t, s.Train[u], n, "negative in train of user %d", u)
					}
				}
			}
		}
		slices.Sort(seen)
		require.Equal(t, []int{0, 2, 3}, seen, "epoch %d visits each user once", ep)
	}
}

func TestNextItemSamplerSeeded(t *testing.T) {
	s := toySplit()
	run := func(seed uint64) []int {
		sm, err := NewNextItemSampler(s, BatchConfig{BatchSize: 2, MaxLen: 3}, rand.New(rand.NewPCG(seed, 0)))
		require.NoError(t, err)
		b := sm.NewBatch()
		var out []int
		for i := 0; i < 5; i++ {
			for sm.Next(b) {
				out = append(out, b.Users...)
				out = append(out, b.Neg...)
			}
		}
		return out
	}
	require.Equal(t, run(7), run(7))
	require.NotEqual(t, run(7), run(8))
}

func TestNextItemSamplerNegativeDistribution(t *testing.T) {
	// One user whose train set is {1,2}; negatives must be uniform on 3..6.
	s := &Split{NumItems: 6, Train: [][]int{{1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1}}, Valid: []int{0}, Test: []int{0}}
	sm, err := NewNextItemSampler(s, BatchConfig{BatchSize: 1, MaxLen: 10, NumNeg: 5}, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	b := sm.NewBatch()
	cnt := make([]int, 7)
	for i := 0; i < 2000; i++ {
		for sm.Next(b) {
			for _, n := range b.Neg {
				cnt[n]++
			}
		}
	}
	require.Zero(t, cnt[0]+cnt[1]+cnt[2])
	total := 2000 * 10 * 5
	for i := 3; i <= 6; i++ {
		// expected 25000 each; sd ~ 97; allow 6 sd.
		require.InDelta(t, total/4, cnt[i], 600, "item %d", i)
	}
}

func TestNextItemSamplerTrimBucket(t *testing.T) {
	tr := make([][]int, 40)
	for u := range tr {
		n := 2 + u%9 // 2..10 items
		tr[u] = make([]int, n)
		for j := range tr[u] {
			tr[u][j] = 1 + (u+j)%20
		}
	}
	s := &Split{NumItems: 20, Train: tr, Valid: make([]int, 40), Test: make([]int, 40)}
	cfg := BatchConfig{BatchSize: 5, MaxLen: 6, Bucket: true, BucketWindow: 4, Trim: true}
	sm, err := NewNextItemSampler(s, cfg, rand.New(rand.NewPCG(5, 6)))
	require.NoError(t, err)
	b := sm.NewBatch()
	seen := map[int]bool{}
	for sm.Next(b) {
		longest := 0
		for r, u := range b.Users {
			seen[u] = true
			n := len(tr[u]) - 1
			longest = max(longest, min(n, 6))
			// the row's last position holds the last positive
			require.Equal(t, tr[u][len(tr[u])-1], b.Pos[r*b.Width+b.Width-1])
			m := min(n, b.Width)
			for c := 0; c < b.Width-m; c++ {
				require.Zero(t, b.Input[r*b.Width+c])
			}
		}
		require.Equal(t, longest, b.Width)
		require.Equal(t, 6-b.Width, b.Offset)
	}
	require.Len(t, seen, 40)
}

func TestNextItemSamplerNoAllocs(t *testing.T) {
	tr := make([][]int, 300)
	for u := range tr {
		tr[u] = []int{1 + u%50, 2 + u%40, 3 + u%30, 4, 5}
	}
	s := &Split{NumItems: 60, Train: tr, Valid: make([]int, 300), Test: make([]int, 300)}
	sm, err := NewNextItemSampler(s, BatchConfig{BatchSize: 16, MaxLen: 8}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	b := sm.NewBatch()
	sm.Next(b)
	allocs := testing.AllocsPerRun(100, func() {
		if !sm.Next(b) {
			sm.Next(b)
		}
	})
	require.Zero(t, allocs)
}

func TestMaskedSampler(t *testing.T) {
	s := toySplit()
	sm, err := NewMaskedSampler(s, BatchConfig{BatchSize: 4, MaxLen: 5, MaskProb: 0.5}, rand.New(rand.NewPCG(9, 9)))
	require.NoError(t, err)
	b := sm.NewBatch()
	masked, total := 0, 0
	for i := 0; i < 500; i++ {
		for sm.Next(b) {
			require.Equal(t, 10, b.MaskID)
			for r, u := range b.Users {
				tr := s.Train[u]
				m := min(len(tr), 5)
				want := make([]int, 5)
				copy(want[5-m:], tr[len(tr)-m:])
				rowMasked := 0
				for c := 0; c < 5; c++ {
					p := r*5 + c
					if b.Input[p] == b.MaskID {
						require.Equal(t, want[c], b.Labels[p])
						rowMasked++
					} else {
						require.Equal(t, want[c], b.Input[p])
						require.Zero(t, b.Labels[p])
					}
				}
				require.GreaterOrEqual(t, rowMasked, 1)
				masked += rowMasked
				total += m
			}
		}
	}
	// rate slightly above 0.5 because rows with no mask get one.
	rate := float64(masked) / float64(total)
	require.Greater(t, rate, 0.5)
	require.Less(t, rate, 0.6)
}

func TestRealBeautyBatchesPerEpoch(t *testing.T) {
	d, err := Load(sharedtest.File(t, "amazon-beauty/Beauty.txt"), Options{})
	require.NoError(t, err)
	sm, err := NewNextItemSampler(LeaveOneOut(d), BatchConfig{BatchSize: 128, MaxLen: 50}, rand.New(rand.NewPCG(42, 0)))
	require.NoError(t, err)
	// ../shared/reference/README.md: Beauty has 175 steps per epoch.
	require.Equal(t, 175, sm.NumBatches())
}
