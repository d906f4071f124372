package eval

import (
	"context"
	"errors"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidatorMap(t *testing.T) {
	split := &data.Split{
		NumItems: 5,
		Train:    [][]int{{1, 2}, {2, 3}, {1, 3, 4}, {2}},
		Valid:    []int{3, 1, 2, 0},
		Test:     []int{4, 5, 5, 0},
	}
	ev, err := NewEvaluator(split, Config{Ks: []int{1, 3}})
	require.NoError(t, err)
	calls := 0
	v := ev.Validator(Test, func() (Scorer, error) {
		calls++
		return NewPopularity([]int{0, 2, 3, 2, 1, 0}), nil
	})
	m, err := v(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, 1, calls)
	// ranks 0, 1, 0 (see Example): HR@1 2/3, NDCG@3 (1 + 1/log2(3) + 1)/3
	assert.InDelta(t, 2.0/3, m["hr@1"], 1e-12)
	assert.InDelta(t, 1.0, m["hr@3"], 1e-12)
	assert.InDelta(t, 0.8770, m["ndcg@3"], 1e-4)
	assert.InDelta(t, (1+0.5+1)/3.0, m["mrr@3"], 1e-12)
	assert.Len(t, m, 6)

	boom := errors.New("boom")
	_, err = ev.Validator(Test, func() (Scorer, error) { return nil, boom })(context.Background(), 2)
	assert.ErrorIs(t, err, boom)
}
