package eval

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMetricsHandValues(t *testing.T) {
	// rank 0: a hit everywhere, gains 1.
	assert.Equal(t, 1.0, HR(0, 1))
	assert.Equal(t, 1.0, NDCG(0, 1))
	assert.Equal(t, 1.0, MRR(0, 1))
	// rank 1: 1/log2(3) = 0.63092975357..., 1/2.
	assert.InDelta(t, 0.6309297535714575, NDCG(1, 10), 1e-15)
	assert.Equal(t, 0.5, MRR(1, 10))
	assert.Equal(t, 0.0, HR(1, 1))
	// rank 9 is the last hit at K = 10: 1/log2(11) = 0.28906482631..., 1/10.
	assert.Equal(t, 1.0, HR(9, 10))
	assert.InDelta(t, 0.2890648263178878, NDCG(9, 10), 1e-15)
	assert.InDelta(t, 0.1, MRR(9, 10), 1e-15)
	// rank 10 misses at K = 10.
	assert.Equal(t, 0.0, HR(10, 10))
	assert.Equal(t, 0.0, NDCG(10, 10))
	assert.Equal(t, 0.0, MRR(10, 10))
	// K larger than any possible rank (e.g. 101 candidates, K = 500).
	assert.Equal(t, 1.0, HR(100, 500))
	assert.InDelta(t, 1/math.Log2(102), NDCG(100, 500), 1e-15)
}

func TestRecall(t *testing.T) {
	assert.InDelta(t, 2.0/3, Recall([]int{0, 5, 12}, 10), 1e-15)
	assert.Equal(t, 1.0, Recall([]int{3}, 10))
	assert.Equal(t, HR(12, 10), Recall([]int{12}, 10))
	assert.Equal(t, 0.0, Recall(nil, 10))
}

func TestRankTies(t *testing.T) {
	s := []float32{5, 3, 3, 7, 3, float32(math.NaN())}
	// target index 1 (score 3): strictly higher are 5 and 7.
	assert.Equal(t, 2, Rank(s, 1, TiesStrict))
	// pessimistic also counts the two other 3s; NaN never counts.
	assert.Equal(t, 4, Rank(s, 1, TiesPessimistic))
	// all equal: best rank under strict, worst under pessimistic.
	eq := []float32{1, 1, 1, 1}
	assert.Equal(t, 0, Rank(eq, 2, TiesStrict))
	assert.Equal(t, 3, Rank(eq, 2, TiesPessimistic))
	assert.Equal(t, "strict", TiesStrict.String())
	assert.Equal(t, "pessimistic", TiesPessimistic.String())
}
