package moe

import (
	"fmt"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// New items for a served Mixture, from their raw LLM embedding alone: every
// expert gets the new items' vectors from its own table's text path
// (backbone.NewItemEncoder: an adapter is run, an ID or aligned table gets a
// ridge map from the LLM embedding to its trained rows), and the gate treats
// them as items of the coldest popularity bin (they have no interactions), so
// a PAD mixture leans on its text expert for them.

// NewScorerWithText is NewScorer for a Recommender that accepts new items
// (backbone.Recommender.AddItems with rows of the raw LLM embeddings): opt
// is passed to backbone.NewItemEncoder for every expert's table (opt.LLM:
// the raw LLM embeddings of the mixture's items). The gate must be a
// FreqGate with at least one item in its coldest bin, whose weights new
// items get.
func (m *Mixture) NewScorerWithText(opt backbone.ItemEncoderOptions) (*Scorer, error) {
	s, err := m.NewScorer()
	if err != nil {
		return nil, err
	}
	g, ok := m.Gate.(*FreqGate)
	if !ok {
		return nil, fmt.Errorf("moe: NewScorerWithText: new items need a FreqGate (their popularity bin), the gate is %T: %w", m.Gate, backbone.ErrBadConfig)
	}
	cold := -1
	for i := 1; i <= m.numItems; i++ {
		if g.Bin(i) == g.NumBins() {
			cold = i
			break
		}
	}
	if cold < 0 {
		return nil, fmt.Errorf("moe: NewScorerWithText: no item in the coldest bin %d: %w", g.NumBins(), backbone.ErrBadConfig)
	}
	mm := s.Model().(*mixModel)
	ta := &textAdder{mixModel: mm, coldW: append([]float32(nil), mm.w[cold*len(m.Experts):(cold+1)*len(m.Experts)]...)}
	for k, e := range m.Experts {
		enc, err := backbone.NewItemEncoder(e.Items, opt)
		if err != nil {
			return nil, fmt.Errorf("moe: NewScorerWithText: expert %d (%q): %w", k, e.Name, err)
		}
		ta.encs = append(ta.encs, enc)
	}
	return &Scorer{Recommender: backbone.NewRecommenderFor(ta), w: s.w}, nil
}

// textAdder is a mixModel that can add items (backbone.ItemAdder). It is
// immutable: WithItems returns a new one.
type textAdder struct {
	*mixModel
	encs  []backbone.ItemEncoder
	coldW []float32 // the coldest bin's gate weights, one per expert
}

// LLMDim implements backbone.ItemAdder.
func (ta *textAdder) LLMDim() int { return ta.encs[0].LLMDim() }

// WithItems implements backbone.ItemAdder: every expert's Recommender is
// copied (sharing its immutable snapshot) and given the new vectors, and
// the gate weights grow by the coldest bin's row per new item.
func (ta *textAdder) WithItems(llm *tensor.Tensor) (backbone.ItemScorer, error) {
	n := llm.Rows()
	mm := &mixModel{numItems: ta.numItems + n}
	for k, r := range ta.experts {
		vecs, err := ta.encs[k].Encode(llm)
		if err != nil {
			return nil, fmt.Errorf("moe: add items: expert %d: %w", k, err)
		}
		nr := backbone.NewRecommenderFor(r.Model())
		if _, err := nr.AddItemVectors(vecs); err != nil {
			return nil, fmt.Errorf("moe: add items: expert %d: %w", k, err)
		}
		mm.experts = append(mm.experts, nr)
	}
	K := len(ta.experts)
	mm.w = make([]float32, (mm.numItems+1)*K)
	copy(mm.w, ta.w)
	for i := ta.numItems + 1; i <= mm.numItems; i++ {
		copy(mm.w[i*K:(i+1)*K], ta.coldW)
	}
	mm.pool.New = func() any { return new([]float32) }
	return &textAdder{mixModel: mm, encs: ta.encs, coldW: ta.coldW}, nil
}
