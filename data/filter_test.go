package data

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func rawSeqs(d *Dataset) [][]string {
	out := make([][]string, len(d.Seqs))
	for u, s := range d.Seqs {
		out[u] = append(out[u], d.UserRaw[u])
		for _, it := range s {
			out[u] = append(out[u], d.ItemRaw[it])
		}
	}
	return out
}

func hand() *Dataset {
	// items a..e as ids 1..5
	return &Dataset{
		NumItems: 5,
		ItemRaw:  []string{"", "a", "b", "c", "d", "e"},
		UserRaw:  []string{"u0", "u1", "u2", "u3"},
		Seqs: [][]int{
			{1, 2, 3},
			{1, 2},
			{1, 3, 4},
			{2, 5},
		},
		Timestamps: [][]int64{{3, 1, 2}, {5, 5}, {1, 1, 0}, {2, 1}},
	}
}

func TestKCoreIterativeVsOnce(t *testing.T) {
	d := hand()
	// counts: a3 b3 c2 d1 e1; users 3,2,3,2.
	// Once with (2,2): drop d and e -> u0 abc, u1 ab, u2 ac, u3 b.
	once := KCoreOnce(d, 2, 2)
	require.Equal(t, [][]string{{"u0", "a", "b", "c"}, {"u1", "a", "b"}, {"u2", "a", "c"}, {"u3", "b"}}, rawSeqs(once))
	require.Equal(t, 3, once.NumItems)
	checkInvariants(t, once)
	// Iterative: after round 1 u3 has 1 item -> dropped; then b has 2, fine.
	it := KCore(d, 2, 2)
	require.Equal(t, [][]string{{"u0", "a", "b", "c"}, {"u1", "a", "b"}, {"u2", "a", "c"}}, rawSeqs(it))
	checkInvariants(t, it)
	// 3-core: a3 b3 c2 -> c removed; u2 left with a only -> dropped; then a2, b... collapses.
	require.Zero(t, KCore(d, 3, 3).NumUsers())
	// d unchanged
	require.Equal(t, hand().Seqs, d.Seqs)
}

func TestMinUserLenTruncateSort(t *testing.T) {
	d := hand()
	m := MinUserLen(d, 3)
	require.Equal(t, [][]string{{"u0", "a", "b", "c"}, {"u2", "a", "c", "d"}}, rawSeqs(m))
	require.Equal(t, []int64{1, 1, 0}, m.Timestamps[1])
	tr := TruncateLast(d, 2)
	require.Equal(t, [][]string{{"u0", "b", "c"}, {"u1", "a", "b"}, {"u2", "c", "d"}, {"u3", "b", "e"}}, rawSeqs(tr))
	s := SortByTime(d)
	require.Equal(t, [][]string{{"u0", "b", "c", "a"}, {"u1", "a", "b"}, {"u2", "d", "a", "c"}, {"u3", "e", "b"}}, rawSeqs(s))
	require.Equal(t, []int64{0, 1, 1}, s.Timestamps[2])
	id, ok := s.ItemID("e")
	require.True(t, ok)
	require.Equal(t, 5, id)
}
