package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Proposal draws items 1..n with fixed probabilities, in O(1) per draw
// (Walker's alias method), and gives each item's log-probability: what a
// sampled loss needs to correct its logits for the sampling bias (the logQ
// correction of sampled softmax). NewPopularityProposal builds the usual
// one, proportional to the items' training frequency.
//
// Unlike NegativeSampler, a Proposal knows nothing of the user: a draw may
// be one of the user's own items, and the loss that uses it masks a draw
// equal to the positive (an "accidental hit"). That keeps the probability
// of every draw exactly Q(i), which the correction needs.
//
// A Proposal is immutable after construction and safe for concurrent use
// (each goroutine with its own *rand.Rand).
type Proposal struct {
	prob  []float64 // prob[i-1]: probability of item i, to keep the column's split
	alias []int32   // alias[i-1]: the item that fills column i's remainder
	logq  []float32 // log Q(i), i = 1..n at logq[i-1]
}

// NewProposal returns a proposal over items 1..len(weights) with Q(i) ∝
// weights[i-1]. Weights must be finite and non-negative with a positive
// sum; otherwise the error wraps ErrBadInput (and ErrNonFinite for NaN or
// infinite weights). An item of weight 0 is never drawn and has log Q = −Inf.
func NewProposal(weights []float64) (*Proposal, error) {
	n := len(weights)
	if n == 0 {
		return nil, fmt.Errorf("data: %w: proposal over no items", ErrBadInput)
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("data: %w: proposal over %d items (max %d)", ErrBadInput, n, math.MaxInt32)
	}
	var sum float64
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("data: %w: %w: proposal weight of item %d is %v", ErrBadInput, ErrNonFinite, i+1, w)
		}
		if w < 0 {
			return nil, fmt.Errorf("data: %w: proposal weight of item %d is negative (%v)", ErrBadInput, i+1, w)
		}
		sum += w
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil, fmt.Errorf("data: %w: proposal weights sum to %v", ErrBadInput, sum)
	}
	p := &Proposal{prob: make([]float64, n), alias: make([]int32, n), logq: make([]float32, n)}
	// scaled[i] = n·Q(i); columns below 1 take their remainder from one above 1
	scaled := p.prob
	small, large := make([]int32, 0, n), make([]int32, 0, n)
	for i, w := range weights {
		q := w / sum
		p.logq[i] = float32(math.Log(q))
		scaled[i] = q * float64(n)
		p.alias[i] = int32(i)
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		p.alias[s] = l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// what is left is 1 up to rounding
	for _, i := range large {
		scaled[i] = 1
	}
	for _, i := range small {
		scaled[i] = 1
	}
	return p, nil
}

// NewPopularityProposal returns the proposal Q(i) ∝ count(i) + 1 over items
// 1..numItems, counting every occurrence of an item in seqs (a user's
// training sequence each). The +1 keeps every item drawable, and keeps log
// Q finite for items the training data never shows. An id outside
// 1..numItems is an error wrapping ErrItemOutOfRange.
func NewPopularityProposal(seqs [][]int, numItems int) (*Proposal, error) {
	if numItems < 1 {
		return nil, fmt.Errorf("data: %w: popularity proposal over %d items", ErrBadInput, numItems)
	}
	w := make([]float64, numItems)
	for i := range w {
		w[i] = 1
	}
	for u, s := range seqs {
		for _, it := range s {
			if it < 1 || it > numItems {
				return nil, fmt.Errorf("data: %w: %w: sequence %d: item %d not in 1..%d", ErrBadInput, ErrItemOutOfRange, u, it, numItems)
			}
			w[it-1]++
		}
	}
	return NewProposal(w)
}

// NumItems returns the number of items the proposal draws from.
func (p *Proposal) NumItems() int { return len(p.prob) }

// Draw returns an item in 1..NumItems with probability Q(item).
func (p *Proposal) Draw(rng *rand.Rand) int {
	i := rng.IntN(len(p.prob))
	if rng.Float64() < p.prob[i] {
		return i + 1
	}
	return int(p.alias[i]) + 1
}

// LogQ returns log Q(item) for item in 1..NumItems (it panics outside, as
// a slice index does).
func (p *Proposal) LogQ(item int) float32 { return p.logq[item-1] }
