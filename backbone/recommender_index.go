package backbone

import (
	"errors"
	"fmt"
	"sync"

	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/qscan"
)

// ItemIndex finds the items with the highest inner product with a user
// state: what a Recommender asks instead of scoring every item of a large
// catalog (backbone/index.IVF is one). It must hold the Recommender's item
// vectors under their ids (1..NumItems), score with qscan.Dot (the
// Recommender's arithmetic, so that an exact index gives exactly TopK's
// answer), never return an id of exclude, and be safe for concurrent use.
type ItemIndex interface {
	// Search appends to dst the k items with the highest ⟨q, e_i⟩ it finds,
	// best first (ties: lower id first), none of exclude.
	Search(dst []qscan.Result, q []float32, k int, exclude []int) ([]qscan.Result, error)
}

// ItemInserter is an ItemIndex that takes new items: a Recommender
// inserts the items AddItemVectors and AddItems add into it.
type ItemInserter interface {
	ItemIndex
	// Insert adds the vector row under id (or replaces id's vector).
	Insert(id int, row []float32) error
}

// DefaultIndexMin is the catalog size from which SetIndex's index answers
// by default: below it the exact scan is fast (Beauty's 12k items take
// about 0.1 ms) and exact.
const DefaultIndexMin = 100_000

// indexOpt is the index a Recommender answers TopK with.
type indexOpt struct {
	idx  ItemIndex
	min  int
	pool sync.Pool // *[]qscan.Result
}

// SetIndex makes TopK and AppendTopK of a SeqModel's Recommender answer
// through idx when the catalog has at least minItems items (0:
// DefaultIndexMin; below, the exact scan answers). idx nil removes the
// index. History exclusion, k and the order behave as in the exact TopK;
// the items are the index's (an approximate index may miss some of the
// exact top k; its scores are exact). Items added later (AddItemVectors,
// AddItems) are inserted into idx when it is an ItemInserter, right after
// they are served by the exact path. Errors wrap ErrBadConfig (not a
// SeqModel's Recommender, negative minItems).
func (r *Recommender) SetIndex(idx ItemIndex, minItems int) error {
	if r.state.Load().seq == nil {
		return fmt.Errorf("backbone: SetIndex: the served model is not a SeqModel: %w", ErrBadConfig)
	}
	if minItems < 0 {
		return fmt.Errorf("backbone: SetIndex: minItems %d: %w", minItems, ErrBadConfig)
	}
	if idx == nil {
		r.index.Store(nil)
		return nil
	}
	if minItems == 0 {
		minItems = DefaultIndexMin
	}
	o := &indexOpt{idx: idx, min: minItems}
	o.pool.New = func() any { return new([]qscan.Result) }
	r.index.Store(o)
	return nil
}

// Index returns the index SetIndex set, or nil.
func (r *Recommender) Index() ItemIndex {
	if o := r.index.Load(); o != nil {
		return o.idx
	}
	return nil
}

// appendTopK answers AppendTopK through the index for the user state h of
// a snapshot serving numItems items.
func (o *indexOpt) appendTopK(dst []Scored, h []float32, k int, exclude []int, numItems int) ([]Scored, error) {
	buf := o.pool.Get().(*[]qscan.Result)
	defer o.pool.Put(buf)
	res, err := o.idx.Search((*buf)[:0], h, k, exclude)
	*buf = res
	if err != nil {
		return dst, fmt.Errorf("backbone: TopK: index: %w", asNonFinite(err))
	}
	start := len(dst)
	for _, c := range res {
		if !finite(c.Score) {
			return dst[:start], fmt.Errorf("backbone: TopK: item %d scores %v: %w", c.ID, c.Score, ErrNonFinite)
		}
		// an index ahead of this snapshot may hold items it does not serve
		if c.ID >= 1 && c.ID <= numItems {
			dst = append(dst, Scored{Item: c.ID, Score: c.Score})
		}
	}
	return dst, nil
}

// asNonFinite adds ErrNonFinite to an index's non-finite error, so that
// callers test one sentinel whichever path answered.
func asNonFinite(err error) error {
	if errors.Is(err, qscan.ErrNonFinite) {
		return fmt.Errorf("%w (%w)", ErrNonFinite, err)
	}
	return err
}

// indexAdd inserts items first.. (the rows of vecs) into the index when it
// takes new items.
func (r *Recommender) indexAdd(first int, vecs *tensor.Tensor) error {
	o := r.index.Load()
	if o == nil {
		return nil
	}
	ins, ok := o.idx.(ItemInserter)
	if !ok {
		return nil
	}
	d := vecs.Cols()
	for i := range vecs.Rows() {
		if err := ins.Insert(first+i, vecs.Data[i*d:(i+1)*d]); err != nil {
			return fmt.Errorf("backbone: item %d is served but not indexed: %w", first+i, err)
		}
	}
	return nil
}
