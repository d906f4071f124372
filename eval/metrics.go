package eval

import "math"

// Ties says how candidates that score exactly the same as the target count
// when its rank is computed. It is an immutable value, safe for concurrent
// use.
type Ties int

const (
	// TiesStrict ranks the target after only the candidates that score
	// strictly higher than it: rank = #{c : s_c > s_target}. This is the
	// reference rule (sasrec_torch.py, and SASRec's own code), so it is the
	// default. A model that gives every item the same score gets rank 0.
	TiesStrict Ties = iota
	// TiesPessimistic ranks the target after every other candidate that
	// scores higher than or equal to it: rank = #{c ≠ target : s_c ≥ s_target}.
	// A model that gives every item the same score gets the worst rank.
	TiesPessimistic
)

// String returns "strict" or "pessimistic".
func (t Ties) String() string {
	if t == TiesPessimistic {
		return "pessimistic"
	}
	return "strict"
}

// Rank returns the 0-based rank of target among the candidates scores under
// the tie rule: the number of other candidates that score higher (strictly,
// or higher-or-equal for TiesPessimistic). NaN scores of other candidates
// never count. scores[target] is the target's own score; target must index
// scores.
func Rank(scores []float32, target int, ties Ties) int {
	ts := scores[target]
	r := 0
	if ties == TiesPessimistic {
		for i, v := range scores {
			if v >= ts && i != target {
				r++
			}
		}
		return r
	}
	for _, v := range scores {
		if v > ts {
			r++
		}
	}
	return r
}

// HR returns the hit rate at k of one case with 0-based rank: 1 if rank < k,
// else 0.
func HR(rank, k int) float64 {
	if rank < k {
		return 1
	}
	return 0
}

// NDCG returns the normalized discounted cumulative gain at k of one case
// with a single relevant item at 0-based rank: 1/log2(rank+2) if rank < k,
// else 0.
func NDCG(rank, k int) float64 {
	if rank < k {
		return 1 / math.Log2(float64(rank)+2)
	}
	return 0
}

// MRR returns the reciprocal rank at k of one case with 0-based rank:
// 1/(rank+1) if rank < k, else 0.
func MRR(rank, k int) float64 {
	if rank < k {
		return 1 / (float64(rank) + 1)
	}
	return 0
}

// Recall returns the recall at k of one case with several relevant items:
// the fraction of them whose 0-based position in the ranked list (ranks) is
// below k. With one relevant item it equals HR. An empty ranks gives 0.
func Recall(ranks []int, k int) float64 {
	if len(ranks) == 0 {
		return 0
	}
	n := 0
	for _, r := range ranks {
		if r < k {
			n++
		}
	}
	return float64(n) / float64(len(ranks))
}
