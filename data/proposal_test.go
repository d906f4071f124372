package data

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProposalFrequencies draws from a skewed proposal and checks every
// item's frequency against its weight (a chi-square bound far above the
// statistic's typical value), and log Q against the weights by hand.
func TestProposalFrequencies(t *testing.T) {
	w := []float64{5, 0, 1, 2, 0.5, 10, 1, 1}
	p, err := NewProposal(w)
	require.NoError(t, err)
	require.Equal(t, len(w), p.NumItems())
	var sum float64
	for _, v := range w {
		sum += v
	}
	rng := rand.New(rand.NewPCG(4, 2))
	const draws = 400_000
	count := make([]int, len(w)+1)
	for range draws {
		count[p.Draw(rng)]++
	}
	require.Zero(t, count[0], "item 0 is padding")
	require.Zero(t, count[2], "an item of weight 0 is never drawn")
	var chi2 float64
	for i, v := range w {
		want := draws * v / sum
		if v > 0 {
			chi2 += (float64(count[i+1]) - want) * (float64(count[i+1]) - want) / want
			assert.InDelta(t, math.Log(v/sum), p.LogQ(i+1), 1e-6)
		}
	}
	// 6 degrees of freedom: P(chi2 > 30) < 1e-4
	assert.Less(t, chi2, 30.0, "counts %v", count)
	assert.True(t, math.IsInf(float64(p.LogQ(2)), -1))
}

// TestProposalUniform checks that equal weights give each item 1/n and that
// the alias table sends no item's mass elsewhere.
func TestProposalUniform(t *testing.T) {
	p, err := NewProposal([]float64{3, 3, 3, 3})
	require.NoError(t, err)
	for i := 1; i <= 4; i++ {
		assert.InDelta(t, math.Log(0.25), p.LogQ(i), 1e-7)
		assert.Equal(t, 1.0, p.prob[i-1])
	}
}

func TestPopularityProposal(t *testing.T) {
	p, err := NewPopularityProposal([][]int{{1, 2, 2}, {2, 3}}, 4)
	require.NoError(t, err)
	// counts + 1: 2, 4, 2, 1 over 9
	for i, c := range []float64{2, 4, 2, 1} {
		assert.InDelta(t, math.Log(c/9), p.LogQ(i+1), 1e-6)
	}
	_, err = NewPopularityProposal([][]int{{1, 5}}, 4)
	assert.ErrorIs(t, err, ErrItemOutOfRange)
	assert.ErrorIs(t, err, ErrBadInput)
	_, err = NewPopularityProposal(nil, 0)
	assert.ErrorIs(t, err, ErrBadInput)
}

func TestProposalBadWeights(t *testing.T) {
	for _, w := range [][]float64{nil, {0, 0}, {1, -1}, {math.NaN()}, {1, math.Inf(1)}, {math.MaxFloat64, math.MaxFloat64}} {
		_, err := NewProposal(w)
		assert.ErrorIs(t, err, ErrBadInput, "%v", w)
	}
	_, err := NewProposal([]float64{1, math.NaN()})
	assert.ErrorIs(t, err, ErrNonFinite)
}
