package moe

import (
	"fmt"
	"sync"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// Scorer serves a trained Mixture. It is a *backbone.Recommender over the
// mixture (embedded: TopK, AppendTopK, Score, ScoreAll, ScoreCandidates,
// NumItems, the same code that serves a backbone.SeqModel; it implements
// eval.Scorer and eval.CandidateScorer) and keeps the gate weights the
// mixture mixes with.
//
// Every expert's backbone.Recommender scores the items, and the scores are
// mixed with the gate weights of each item, s(u,i) = Σ_k g_k(i)·s^k(u,i);
// the weights do not depend on the user and are computed once, when the
// Scorer is built. It snapshots item vectors and gate weights but reads the
// encoders' parameters: do not train the Mixture while its Scorer is in
// use. A Scorer is safe for concurrent use.
type Scorer struct {
	*backbone.Recommender
	w *tensor.Tensor // [numItems+1, K]
}

// mixModel is the backbone.ItemScorer of a Mixture: the experts'
// Recommenders and the gate weights of every item. It is safe for
// concurrent use (the Recommenders are; buffers come from a sync.Pool).
type mixModel struct {
	experts  []*backbone.Recommender
	w        []float32 // [numItems+1, K], row-major
	numItems int
	pool     sync.Pool // *[]float32, one expert's scores
}

// NewScorer builds a Scorer from the Mixture's current weights.
func (m *Mixture) NewScorer() (*Scorer, error) {
	mm := &mixModel{numItems: m.numItems}
	for k, e := range m.Experts {
		sm, err := backbone.NewSeqModel(e.Enc, e.Items, backbone.ModelConfig{Task: "next"})
		if err != nil {
			return nil, fmt.Errorf("moe: expert %d (%q): %w", k, e.Name, err)
		}
		mm.experts = append(mm.experts, backbone.NewRecommender(sm))
	}
	items := make([]int, m.numItems+1)
	for i := range items {
		items[i] = i
	}
	w := m.Gate.Weights(autograd.NewInferenceTape(), items).Data
	if len(w.Shape) != 2 || w.Shape[0] != len(items) || w.Shape[1] != len(m.Experts) {
		return nil, fmt.Errorf("moe: gate gives weights of shape %v for %d items, want [%d %d]", w.Shape, len(items), len(items), len(m.Experts))
	}
	wt := tensor.New(w.Shape...)
	copy(wt.Data, w.Data)
	mm.w = wt.Data
	mm.pool.New = func() any { return new([]float32) }
	return &Scorer{Recommender: backbone.NewRecommenderFor(mm), w: wt}, nil
}

// NewRecommender returns the backbone.Recommender that serves the Mixture
// with its current weights: the Recommender of NewScorer.
func (m *Mixture) NewRecommender() (*backbone.Recommender, error) {
	s, err := m.NewScorer()
	if err != nil {
		return nil, err
	}
	return s.Recommender, nil
}

// GateWeights returns the gate weights of every item ([NumItems+1, K]). It
// must not be modified.
func (s *Scorer) GateWeights() *tensor.Tensor { return s.w }

func (mm *mixModel) NumItems() int { return mm.numItems }

// Window returns the longest history any expert reads, so that
// backbone.Recommender.Window (a service's probe histories) knows it.
func (mm *mixModel) Window() int {
	w := 0
	for _, r := range mm.experts {
		w = max(w, r.Window())
	}
	return w
}

// ScoreItems implements backbone.ItemScorer: out = Σ_k w[item, k]·score_k,
// accumulated in expert order. The Recommender has checked every id.
func (mm *mixModel) ScoreItems(inputs, cands [][]int, out []float32) error {
	bp := mm.pool.Get().(*[]float32)
	defer mm.pool.Put(bp)
	if cap(*bp) < len(out) {
		*bp = make([]float32, len(out))
	}
	buf := (*bp)[:len(out)]
	K, n1 := len(mm.experts), mm.numItems+1
	clear(out)
	for k, r := range mm.experts {
		if cands == nil {
			if err := r.ScoreAll(inputs, buf); err != nil {
				return fmt.Errorf("moe: expert %d: %w", k, err)
			}
			for i, v := range buf {
				out[i] += mm.w[(i%n1)*K+k] * v
			}
			continue
		}
		if err := r.ScoreCandidates(inputs, cands, buf); err != nil {
			return fmt.Errorf("moe: expert %d: %w", k, err)
		}
		off := 0
		for _, cs := range cands {
			for j, it := range cs {
				out[off+j] += mm.w[it*K+k] * buf[off+j]
			}
			off += len(cs)
		}
	}
	return nil
}
