package data

import (
	"math/rand/v2"
)

// NegativeSampler draws training negatives by the one rule llmrec uses
// everywhere (backbone.Batch, and through it SeqModel and moe.Mixture): an
// item uniform over 1..NumItems, redrawn while it is among the user's
// training items.
//
// Why this rule: it is the SASRec reference's (random_neq over the user's
// training set), so the published SASRec figures and ours are trained alike;
// a training item is a known positive, and scoring it as a negative would
// push the model against its own data. Uniform rather than by popularity,
// because that is what the reference and its baselines use. When a user's
// items cover every item there is nothing to exclude and draws are
// unconstrained, so sampling never fails. Membership is a per-item stamp,
// so a draw costs O(1) whatever the sequence length, and the draws (one
// rng.IntN per try) are the same as a linear scan of the sequence would
// give.
//
// Batching itself has one path, backbone.Batch (packed sequences): data
// supplies the rule, not a second batch layout.
//
// A NegativeSampler is reused across users (SetUser) and allocates nothing
// after NewNegativeSampler; it is not safe for concurrent use.
type NegativeSampler struct {
	mark    []uint32
	stamp   uint32
	exclude bool
}

// NewNegativeSampler returns a sampler over the items 1..numItems
// (numItems >= 1).
func NewNegativeSampler(numItems int) *NegativeSampler {
	return &NegativeSampler{mark: make([]uint32, max(numItems, 1)+1)}
}

// NumItems returns the number of items the sampler draws from.
func (s *NegativeSampler) NumItems() int { return len(s.mark) - 1 }

// SetUser makes items (a user's training sequence) the items to exclude
// from the following draws. Ids outside 1..NumItems are ignored.
func (s *NegativeSampler) SetUser(items []int) {
	s.stamp++
	if s.stamp == 0 { // wrapped: forget every old stamp
		clear(s.mark)
		s.stamp = 1
	}
	n := s.NumItems()
	distinct := 0
	for _, it := range items {
		if it >= 1 && it <= n && s.mark[it] != s.stamp {
			s.mark[it] = s.stamp
			distinct++
		}
	}
	s.exclude = distinct < n
}

// Draw returns one negative for the current user: 1 + rng.IntN(NumItems),
// redrawn while it is one of the user's items.
func (s *NegativeSampler) Draw(rng *rand.Rand) int {
	n := s.NumItems()
	c := 1 + rng.IntN(n)
	for s.exclude && s.mark[c] == s.stamp {
		c = 1 + rng.IntN(n)
	}
	return c
}
