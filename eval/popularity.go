package eval

import "fmt"

// Popularity is the popularity baseline: every user gets the same scores,
// score(item) = freq[item] (usually the item's training frequency). It
// implements Scorer and CandidateScorer and is safe for concurrent use.
type Popularity struct {
	scores []float32
}

// NewPopularity returns the baseline for freq, where freq[i] is the
// popularity of item i (freq[0], the padding id, is ignored). freq is copied.
func NewPopularity(freq []int) *Popularity {
	s := make([]float32, len(freq))
	for i, f := range freq {
		s[i] = float32(f)
	}
	return &Popularity{scores: s}
}

// ScoreAll writes the popularity row once per input.
func (p *Popularity) ScoreAll(inputs [][]int, out []float32) error {
	row := len(p.scores)
	if len(out) != len(inputs)*row {
		return fmt.Errorf("eval: popularity scorer knows %d items, out has %d scores for %d inputs", row-1, len(out), len(inputs))
	}
	for i := range inputs {
		copy(out[i*row:(i+1)*row], p.scores)
	}
	return nil
}

// ScoreCandidates writes the popularity of each candidate.
func (p *Popularity) ScoreCandidates(inputs [][]int, cands [][]int, out []float32) error {
	total := 0
	for _, cs := range cands {
		total += len(cs)
	}
	if len(out) != total {
		return fmt.Errorf("eval: popularity scorer: out has %d scores for %d candidates", len(out), total)
	}
	o := 0
	for i, cs := range cands {
		for _, it := range cs {
			if it < 0 || it >= len(p.scores) {
				return fmt.Errorf("eval: popularity scorer: candidate item %d of input %d outside 0..%d", it, i, len(p.scores)-1)
			}
			out[o] = p.scores[it]
			o++
		}
	}
	return nil
}
