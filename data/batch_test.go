package data

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sampler's draws are those of the reference's rule written out: draw
// 1+IntN(n), redraw while in the user's sequence (a linear scan here).
func TestNegativeSamplerMatchesRule(t *testing.T) {
	const n = 30
	users := [][]int{{1, 2, 3}, {5}, {7, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28}, {}}
	s := NewNegativeSampler(n)
	got := rand.New(rand.NewPCG(4, 5))
	ref := rand.New(rand.NewPCG(4, 5))
	for round := 0; round < 3; round++ {
		for _, u := range users {
			s.SetUser(u)
			for range 50 {
				c := 1 + ref.IntN(n)
				for slices.Contains(u, c) {
					c = 1 + ref.IntN(n)
				}
				d := s.Draw(got)
				require.Equal(t, c, d)
				assert.NotContains(t, u, d)
			}
		}
	}
}

func TestNegativeSamplerUniform(t *testing.T) {
	s := NewNegativeSampler(5)
	s.SetUser([]int{2, 4, 99, -1}) // out-of-range ids are ignored
	rng := rand.New(rand.NewPCG(1, 1))
	counts := make([]int, 6)
	const draws = 30000
	for range draws {
		counts[s.Draw(rng)]++
	}
	assert.Zero(t, counts[2]+counts[4]+counts[0])
	for _, it := range []int{1, 3, 5} {
		assert.InDelta(t, draws/3, counts[it], 600, "item %d", it) // ~6 sd
	}
}

// A user who has every item gets unconstrained draws instead of a hang.
func TestNegativeSamplerAllItems(t *testing.T) {
	s := NewNegativeSampler(3)
	s.SetUser([]int{3, 1, 2})
	rng := rand.New(rand.NewPCG(2, 2))
	for range 100 {
		c := s.Draw(rng)
		require.True(t, c >= 1 && c <= 3)
	}
	s.SetUser([]int{1})
	for range 100 {
		require.NotEqual(t, 1, s.Draw(rng))
	}
	assert.Equal(t, 3, s.NumItems())
}

func TestNegativeSamplerNoAllocs(t *testing.T) {
	s := NewNegativeSampler(100)
	rng := rand.New(rand.NewPCG(2, 3))
	seq := []int{1, 5, 9, 50}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		s.SetUser(seq)
		_ = s.Draw(rng)
	}))
}
