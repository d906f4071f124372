package data

import (
	"fmt"
	"slices"
)

// ItemFrequency counts every item's occurrences in the training part of s
// (repeats included), indexed by item id: the result has NumItems+1 entries
// and entry 0 (padding) is 0. This is PAD's "fre" (Prime_Pantry_fre.csv).
func ItemFrequency(s *Split) []int {
	freq := make([]int, s.NumItems+1)
	for _, tr := range s.Train {
		for _, it := range tr {
			if it > 0 && it <= s.NumItems {
				freq[it]++
			}
		}
	}
	return freq
}

// ItemFrequencyAll counts occurrences over training, validation and test
// items together, as LLM-ESR does for its tail-item groups. Indexed by item id
// like ItemFrequency.
func ItemFrequencyAll(s *Split) []int {
	freq := ItemFrequency(s)
	for u := range s.Valid {
		if it := s.Valid[u]; it > 0 && it <= s.NumItems {
			freq[it]++
		}
		if it := s.Test[u]; it > 0 && it <= s.NumItems {
			freq[it]++
		}
	}
	return freq
}

// PopularityRanking returns item ids 0..len(freq)-1 sorted by frequency
// descending, ties by id ascending (a stable, reproducible order). Id 0 is
// included, as in PAD, where the padding row takes one rank position.
func PopularityRanking(freq []int) []int {
	order := make([]int, len(freq))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if freq[a] != freq[b] {
			if freq[a] > freq[b] {
				return -1
			}
			return 1
		}
		return a - b
	})
	return order
}

// PopularityBinBoundaries returns the rank boundaries l[0..nbins] of the
// greedy equal-mass rule: in PopularityRanking order, each of bins 1..nbins-1
// takes the fewest next items (at least one while any remain) whose frequency
// sum is >= total/nbins, and bin nbins takes the rest. Ranks l[k]..l[k+1]-1
// form bin k+1. With Prime Pantry's training frequencies and nbins = 10 this
// gives PAD's hard-coded [0 35 100 205 361 585 898 1357 2074 3348 8348].
// It panics if nbins < 1.
func PopularityBinBoundaries(freq []int, nbins int) []int {
	if nbins < 1 {
		panic(fmt.Sprintf("data: PopularityBinBoundaries: nbins %d < 1", nbins))
	}
	order := PopularityRanking(freq)
	return binBoundaries(freq, order, nbins)
}

func binBoundaries(freq, order []int, nbins int) []int {
	total := 0
	for _, f := range freq {
		total += f
	}
	bounds := make([]int, nbins+1)
	r := 0
	for k := 1; k < nbins; k++ {
		mass := 0
		start := r
		// mass >= total/nbins, compared exactly in integers.
		for r < len(order) && (r == start || mass*nbins < total) {
			mass += freq[order[r]]
			r++
		}
		bounds[k] = r
	}
	bounds[nbins] = len(order)
	return bounds
}

// PopularityBins assigns every item id a popularity bin 1..nbins (1 = most
// popular) by the greedy equal-mass rule of PopularityBinBoundaries; bin 0 is
// reserved for the padding id 0. The result is indexed by item id and has
// len(freq) entries. It panics if nbins < 1.
func PopularityBins(freq []int, nbins int) []int {
	if nbins < 1 {
		panic(fmt.Sprintf("data: PopularityBins: nbins %d < 1", nbins))
	}
	order := PopularityRanking(freq)
	bounds := binBoundaries(freq, order, nbins)
	bins := make([]int, len(freq))
	for k := 0; k < nbins; k++ {
		for _, id := range order[bounds[k]:bounds[k+1]] {
			bins[id] = k + 1
		}
	}
	if len(bins) > 0 {
		bins[0] = 0
	}
	return bins
}

// TailItems marks the items whose popularity is below tsItem (LLM-ESR's tail
// items: freq[i] < tsItem). freq is usually ItemFrequencyAll (LLM-ESR) or
// ItemFrequency (training counts only). Entry 0 (padding) is false.
func TailItems(freq []int, tsItem int) []bool {
	tail := make([]bool, len(freq))
	for i := 1; i < len(freq); i++ {
		tail[i] = freq[i] < tsItem
	}
	return tail
}

// TailUsers marks the users whose evaluation input is shorter than tsUser
// (LLM-ESR's tail users). The input is the training items for validation
// (test = false) or training items plus the validation item for the test;
// its length is capped at maxLen when maxLen > 0 (LLM-ESR caps at 200).
func TailUsers(s *Split, tsUser, maxLen int, test bool) []bool {
	tail := make([]bool, len(s.Train))
	for u, tr := range s.Train {
		n := len(tr)
		if test && s.Valid[u] != 0 {
			n++
		}
		if maxLen > 0 && n > maxLen {
			n = maxLen
		}
		tail[u] = n < tsUser
	}
	return tail
}
