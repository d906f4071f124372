package backbone

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

// SetAddCheck sees the candidate snapshot with the new items and can refuse
// it: then nothing is added, NumItems and the served vectors are unchanged.
func TestSetAddCheck(t *testing.T) {
	m := hardenModel(t, 9)
	r := NewRecommender(m)
	n0 := r.NumItems()
	refuse := errors.New("refused")
	var seen []int
	r.SetAddCheck(func(next *Recommender, first, n int) error {
		seen = append(seen, first, n, next.NumItems())
		// the candidate scores its new items
		s, err := next.Score(nil, []int{1, first}, []int{first + n - 1})
		require.NoError(t, err)
		require.Len(t, s, 1)
		if next.ItemVectors().Row(first)[0] > 5 {
			return refuse
		}
		return nil
	})
	big := tensor.New(2, 4)
	big.Fill(9)
	_, err := r.AddItemVectors(big)
	require.ErrorIs(t, err, refuse)
	require.Equal(t, n0, r.NumItems())
	require.Equal(t, 0, r.NumAdded())
	require.Equal(t, []int{n0 + 1, 2, n0 + 2}, seen)

	small := tensor.New(3, 4)
	small.Fill(0.1)
	first, err := r.AddItemVectors(small)
	require.NoError(t, err)
	require.Equal(t, n0+1, first)
	require.Equal(t, n0+3, r.NumItems())
	require.Equal(t, 3, r.NumAdded())

	r.SetAddCheck(nil)
	_, err = r.AddItemVectors(big)
	require.NoError(t, err, "no check: added")
	require.Equal(t, n0+5, r.NumItems())
}
