package backbone_test

import (
	"fmt"

	"github.com/llmrec/llmrec/backbone"
)

// lastItemModel is a user's own model: it scores item i by how close its id
// is to the last item of the history. It keeps no state, so it is safe for
// concurrent use, as an ItemScorer must be.
type lastItemModel struct{ items int }

func (m lastItemModel) NumItems() int { return m.items }

func (m lastItemModel) ScoreItems(inputs, cands [][]int, out []float32) error {
	score := func(history []int, item int) float32 {
		if len(history) == 0 {
			return 0
		}
		d := item - history[len(history)-1]
		return -float32(d * d)
	}
	off := 0
	for i, h := range inputs {
		if cands == nil { // every item 0..NumItems
			for it := 0; it <= m.items; it++ {
				out[off+it] = score(h, it)
			}
			off += m.items + 1
			continue
		}
		for j, it := range cands[i] {
			out[off+j] = score(h, it)
		}
		off += len(cands[i])
	}
	return nil
}

// Any model with NumItems and ScoreItems is served by the same Recommender
// as a SeqModel: checks, exclusion and top-k come with it.
func ExampleNewRecommenderFor() {
	rec := backbone.NewRecommenderFor(lastItemModel{items: 20})
	history := []int{3, 9, 10}
	top, err := rec.TopK(history, 4, history)
	fmt.Println(top, err)
	_, err = rec.TopK([]int{21}, 4, nil)
	fmt.Println(err)
	// Output:
	// [{11 -1} {8 -4} {12 -4} {7 -9}] <nil>
	// backbone: input 0: item id 21 outside 1..20: item id out of range
}
