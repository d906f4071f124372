package backbone

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/llmrec/llmrec/tensor"
)

// Scored is an item with its score. It is a plain value, safe for
// concurrent reads.
type Scored struct {
	// Item is the item id (1..NumItems).
	Item int `json:"item"`
	// Score is the model's score (higher is better).
	Score float32 `json:"score"`
}

// ItemScorer is a trained model as a Recommender serves it: it scores items
// for a batch of users' histories. A SeqModel is served through one
// (NewRecommender); moe.Mixture, PAD's phase-3 model, is another; a user's
// own model can be served by implementing these two methods and calling
// NewRecommenderFor.
//
// The Recommender does all the checking and bookkeeping (id ranges, output
// sizes, exclusion, the top-k heap), so ScoreItems receives only valid
// arguments. It is called from many goroutines at once and must be safe
// for concurrent use; it must not keep inputs, cands or out after it
// returns.
type ItemScorer interface {
	// NumItems returns the number of items; ids are 1..NumItems.
	NumItems() int
	// ScoreItems scores items for every history inputs[i] (chronological
	// ids, each in 1..NumItems; possibly empty; a model with a window uses
	// the last items). When cands is nil, out has len(inputs)·(NumItems+1)
	// elements and receives, row after row, the scores of items
	// 0..NumItems. Otherwise len(cands) == len(inputs), every id of cands
	// is in 0..NumItems, and out receives the scores of cands[0], then
	// cands[1], and so on, concatenated (len(out) is their total length).
	// Higher is better.
	ScoreItems(inputs, cands [][]int, out []float32) error
}

// Recommender serves a trained model: it scores items for a user's history
// and returns the top k. The model is an ItemScorer: a SeqModel
// (NewRecommender) or any other, such as a moe.Mixture
// (NewRecommenderFor); both go through the same checks, exclusion and
// top-k code.
//
// A SeqModel's Recommender holds a copy of the item vectors, made when it is
// built, and reads the encoder's parameters, so the model must not be
// trained while the Recommender is in use (build a new one after).
//
// A Recommender is safe for concurrent use (when its ItemScorer is, as the
// interface requires): every call takes its working memory from a
// sync.Pool, so steady-state calls of a SeqModel's Recommender allocate
// only their result.
type Recommender struct {
	model    ItemScorer
	numItems int
	pool     sync.Pool
}

type recScratch struct {
	// one and cands pass a single history and candidate list to the model
	// without allocating a [][]int; they point to copies (hist, cand) so
	// that the caller's slices do not escape to the heap.
	one, cands [1][]int
	hist, cand []int
	scores     []float32
	heap       []Scored
	seq        *seqScratch // the SeqModel's working memory (see score)
}

// score runs the model with sc's memory: a SeqModel with the encoder
// scratch kept in sc (one pool for the whole call, as warm as the
// Recommender's), any other model through ScoreItems.
func (r *Recommender) score(sc *recScratch, inputs, cands [][]int, out []float32) error {
	if s, ok := r.model.(*seqScorer); ok {
		if sc.seq == nil {
			sc.seq = s.newScratch()
		}
		s.scoreWith(sc.seq, inputs, cands, out)
		return nil
	}
	return r.model.ScoreItems(inputs, cands, out)
}

// single sets sc.one to a copy of history and sc.cands to a copy of cands.
func (sc *recScratch) single(history, cands []int) {
	sc.hist = append(sc.hist[:0], history...)
	sc.cand = append(sc.cand[:0], cands...)
	sc.one[0], sc.cands[0] = sc.hist, sc.cand
}

// NewRecommender snapshots m's item table and returns a Recommender.
func NewRecommender(m *SeqModel) *Recommender {
	return NewRecommenderFor(newSeqScorer(m))
}

// NewRecommenderFor returns a Recommender serving model, which must not be
// nil and must be safe for concurrent use (see ItemScorer). NumItems is read
// once, here.
func NewRecommenderFor(model ItemScorer) *Recommender {
	r := &Recommender{model: model, numItems: model.NumItems()}
	// sized for common requests so that a new scratch grows less often
	r.pool.New = func() any { return &recScratch{hist: make([]int, 0, 64), heap: make([]Scored, 0, 16)} }
	return r
}

// NumItems returns the number of items; ids are 1..NumItems.
func (r *Recommender) NumItems() int { return r.numItems }

// Model returns the ItemScorer the Recommender serves.
func (r *Recommender) Model() ItemScorer { return r.model }

// ItemVectors returns the item table the Recommender scores with
// ((NumItems+1) x Dim) when it serves a SeqModel, and nil for any other
// model. It must not be modified.
func (r *Recommender) ItemVectors() *tensor.Tensor {
	if s, ok := r.model.(*seqScorer); ok {
		return s.table
	}
	return nil
}

// checkInputs checks that every id of inputs is in 1..NumItems.
func (r *Recommender) checkInputs(inputs [][]int) error {
	for u, in := range inputs {
		for _, it := range in {
			if it < 1 || it > r.numItems {
				return fmt.Errorf("backbone: input %d: item id %d outside 1..%d: %w", u, it, r.numItems, ErrItemOutOfRange)
			}
		}
	}
	return nil
}

// ScoreAll writes, for every input sequence, the scores of items 0..NumItems
// into out (len(inputs) x (NumItems+1), row-major). It satisfies
// eval.Scorer. Inputs longer than the window are cut to their last items.
func (r *Recommender) ScoreAll(inputs [][]int, out []float32) error {
	n := len(inputs) * (r.numItems + 1)
	if len(out) < n {
		return fmt.Errorf("backbone: ScoreAll: out has %d elements, need %d", len(out), n)
	}
	if err := r.checkInputs(inputs); err != nil {
		return err
	}
	if len(inputs) == 0 {
		return nil
	}
	sc := r.pool.Get().(*recScratch)
	defer r.pool.Put(sc)
	return r.score(sc, inputs, nil, out[:n])
}

// ScoreCandidates writes the scores of cands[i] for inputs[i], row after row,
// into out. It satisfies eval.CandidateScorer.
func (r *Recommender) ScoreCandidates(inputs [][]int, cands [][]int, out []float32) error {
	if len(cands) != len(inputs) {
		return fmt.Errorf("backbone: ScoreCandidates: %d inputs, %d candidate lists", len(inputs), len(cands))
	}
	if err := r.checkInputs(inputs); err != nil {
		return err
	}
	n := 0
	for i, cs := range cands {
		for _, it := range cs {
			if it < 0 || it > r.numItems {
				return fmt.Errorf("backbone: candidate list %d: item id %d outside 0..%d: %w", i, it, r.numItems, ErrItemOutOfRange)
			}
		}
		n += len(cs)
	}
	if n > len(out) {
		return fmt.Errorf("backbone: ScoreCandidates: out has %d elements, need %d", len(out), n)
	}
	if len(inputs) == 0 {
		return nil
	}
	sc := r.pool.Get().(*recScratch)
	defer r.pool.Put(sc)
	return r.score(sc, inputs, cands, out[:n])
}

// Score returns the scores of candidates for a user with the given
// chronological history (appended to dst, which may be nil).
func (r *Recommender) Score(dst []float32, history []int, candidates []int) ([]float32, error) {
	for _, it := range candidates {
		if it < 1 || it > r.numItems {
			return dst, fmt.Errorf("backbone: candidate item id %d outside 1..%d: %w", it, r.numItems, ErrItemOutOfRange)
		}
	}
	sc := r.pool.Get().(*recScratch)
	defer r.pool.Put(sc)
	sc.single(history, candidates)
	if err := r.checkInputs(sc.one[:]); err != nil {
		return dst, err
	}
	if len(candidates) == 0 {
		return dst, nil
	}
	start := len(dst)
	dst = slices.Grow(dst, len(candidates))[:start+len(candidates)]
	if err := r.score(sc, sc.one[:], sc.cands[:], dst[start:]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// TopK returns the k best items for a user with the given chronological
// history, best first (ties: lower id first), never returning the padding
// id or an item in exclude (e.g. the history itself). Fewer than k items
// are returned when fewer remain.
func (r *Recommender) TopK(history []int, k int, exclude []int) ([]Scored, error) {
	return r.AppendTopK(nil, history, k, exclude)
}

// AppendTopK is TopK appending to dst, so that a caller reusing dst makes
// no allocation at all.
func (r *Recommender) AppendTopK(dst []Scored, history []int, k int, exclude []int) ([]Scored, error) {
	if k <= 0 {
		return dst, nil
	}
	sc := r.pool.Get().(*recScratch)
	defer r.pool.Put(sc)
	sc.single(history, nil)
	if err := r.checkInputs(sc.one[:]); err != nil {
		return dst, err
	}
	n1 := r.numItems + 1
	sc.scores = growF(sc.scores, n1)
	s := sc.scores
	if err := r.score(sc, sc.one[:], nil, s); err != nil {
		return dst, err
	}
	ninf := float32(math.Inf(-1))
	s[0] = ninf
	for _, it := range exclude {
		if it >= 0 && it < n1 {
			s[it] = ninf
		}
	}
	// bounded min-heap of the k best (worst at the root)
	hp := sc.heap[:0]
	for it := 1; it < n1; it++ {
		v := s[it]
		if v == ninf || math.IsNaN(float64(v)) {
			continue
		}
		c := Scored{Item: it, Score: v}
		if len(hp) < k {
			hp = append(hp, c)
			siftUp(hp, len(hp)-1)
		} else if better(c, hp[0]) {
			hp[0] = c
			siftDown(hp, 0)
		}
	}
	sc.heap = hp
	start := len(dst)
	dst = append(dst, hp...)
	out := dst[start:]
	// heap-sort out: repeatedly move the worst to the end
	for n := len(out); n > 1; n-- {
		out[0], out[n-1] = out[n-1], out[0]
		siftDown(out[:n-1], 0)
	}
	return dst, nil
}

// better reports whether a ranks before b.
func better(a, b Scored) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Item < b.Item
}

// The heap keeps the worst element at the root: parent is "worse" than children.
func siftUp(h []Scored, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []Scored, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && better(h[l], h[r]) {
			w = r
		}
		if !better(h[i], h[w]) {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}
