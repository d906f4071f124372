package moe

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// Scorer serves a trained Mixture: every expert's backbone.Recommender
// scores the items, and the scores are mixed with the gate weights of each
// item, which do not depend on the user and are computed once when the
// Scorer is built. It implements eval.Scorer and eval.CandidateScorer.
//
// It snapshots item vectors and gate weights but reads the encoders'
// parameters: do not train the Mixture while its Scorer is in use. A Scorer
// is safe for concurrent use.
type Scorer struct {
	recs     []*backbone.Recommender
	w        *tensor.Tensor // [numItems+1, K]
	numItems int
	pool     sync.Pool
}

// NewScorer builds a Scorer from the Mixture's current weights.
func (m *Mixture) NewScorer() (*Scorer, error) {
	s := &Scorer{numItems: m.numItems}
	for k, e := range m.Experts {
		sm, err := backbone.NewSeqModel(e.Enc, e.Items, backbone.ModelConfig{Task: "next"})
		if err != nil {
			return nil, fmt.Errorf("moe: expert %d (%q): %w", k, e.Name, err)
		}
		s.recs = append(s.recs, backbone.NewRecommender(sm))
	}
	items := make([]int, m.numItems+1)
	for i := range items {
		items[i] = i
	}
	w := m.Gate.Weights(autograd.NewInferenceTape(), items).Data
	s.w = tensor.New(w.Shape...)
	copy(s.w.Data, w.Data)
	s.pool.New = func() any { return new([]float32) }
	return s, nil
}

// NumItems returns the number of items; ids are 1..NumItems.
func (s *Scorer) NumItems() int { return s.numItems }

// GateWeights returns the gate weights of every item ([NumItems+1, K]). It
// must not be modified.
func (s *Scorer) GateWeights() *tensor.Tensor { return s.w }

// ScoreAll writes the mixed scores of items 0..NumItems for every input
// into out (len(inputs) x (NumItems+1), row-major), as eval.Scorer.
func (s *Scorer) ScoreAll(inputs [][]int, out []float32) error {
	n1 := s.numItems + 1
	n := len(inputs) * n1
	if len(out) < n {
		return fmt.Errorf("moe: ScoreAll: out has %d elements, need %d", len(out), n)
	}
	return s.mix(out[:n], func(r *backbone.Recommender, buf []float32) error { return r.ScoreAll(inputs, buf) },
		func(i int) int { return i % n1 })
}

// ScoreCandidates writes the mixed scores of cands[i] for inputs[i], row
// after row, into out, as eval.CandidateScorer.
func (s *Scorer) ScoreCandidates(inputs [][]int, cands [][]int, out []float32) error {
	n := 0
	for _, c := range cands {
		n += len(c)
	}
	if len(out) < n {
		return fmt.Errorf("moe: ScoreCandidates: out has %d elements, need %d", len(out), n)
	}
	flat := make([]int, 0, n)
	for _, c := range cands {
		flat = append(flat, c...)
	}
	return s.mix(out[:n], func(r *backbone.Recommender, buf []float32) error { return r.ScoreCandidates(inputs, cands, buf) },
		func(i int) int { return flat[i] })
}

// mix fills out with Σ_k w[item(i), k]·score_k[i], where score runs expert
// k's recommender into a buffer.
func (s *Scorer) mix(out []float32, score func(*backbone.Recommender, []float32) error, item func(int) int) error {
	bp := s.pool.Get().(*[]float32)
	defer s.pool.Put(bp)
	if cap(*bp) < len(out) {
		*bp = make([]float32, len(out))
	}
	buf := (*bp)[:len(out)]
	K := len(s.recs)
	clear(out)
	for k, r := range s.recs {
		if err := score(r, buf); err != nil {
			return err
		}
		for i, v := range buf {
			out[i] += s.w.Data[item(i)*K+k] * v
		}
	}
	return nil
}

// Score returns the mixed scores of candidates (ids 1..NumItems) for a user
// with the given chronological history, appended to dst (which may be nil),
// as backbone.Recommender.Score.
func (s *Scorer) Score(dst []float32, history []int, candidates []int) ([]float32, error) {
	for _, it := range candidates {
		if it < 1 || it > s.numItems {
			return dst, fmt.Errorf("moe: candidate item id %d outside 1..%d", it, s.numItems)
		}
	}
	start := len(dst)
	dst = append(dst, make([]float32, len(candidates))...)
	if err := s.ScoreCandidates([][]int{history}, [][]int{candidates}, dst[start:]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// TopK returns the k best items for a user with the given chronological
// history, best first (ties: lower id first), never the padding id or an
// item in exclude, as backbone.Recommender.TopK.
func (s *Scorer) TopK(history []int, k int, exclude []int) ([]backbone.Scored, error) {
	if k <= 0 {
		return nil, nil
	}
	sc := make([]float32, s.numItems+1)
	if err := s.ScoreAll([][]int{history}, sc); err != nil {
		return nil, err
	}
	ninf := float32(math.Inf(-1))
	sc[0] = ninf
	for _, it := range exclude {
		if it >= 0 && it <= s.numItems {
			sc[it] = ninf
		}
	}
	out := make([]backbone.Scored, 0, s.numItems)
	for it := 1; it <= s.numItems; it++ {
		if v := sc[it]; v != ninf && !math.IsNaN(float64(v)) {
			out = append(out, backbone.Scored{Item: it, Score: v})
		}
	}
	slices.SortFunc(out, func(a, b backbone.Scored) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.Item, b.Item)
	})
	return out[:min(k, len(out))], nil
}
