package backbone

import (
	"fmt"
	"math"
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

// Recommender serves a trained SeqModel: it scores items for a user's
// history and returns the top k. It holds a copy of the item vectors, made
// when it is built, and reads the encoder's parameters, so the model must
// not be trained while the Recommender is in use (build a new one after).
//
// A Recommender is safe for concurrent use: every call takes its working
// memory from a sync.Pool, so steady-state calls allocate only their result.
type Recommender struct {
	enc      Encoder
	table    *tensor.Tensor // (NumItems+1) x Dim
	masked   bool           // BERT4Rec: append a mask token to the history
	numItems int
	pool     sync.Pool
}

type recScratch struct {
	s      Scratch
	b      Batch
	x      tensor.Tensor
	hid    tensor.Tensor
	last   []int
	scores []float32
	heap   []Scored
	tmp    []int
}

// NewRecommender snapshots m's item table and returns a Recommender.
func NewRecommender(m *SeqModel) *Recommender {
	r := &Recommender{enc: m.Enc, table: m.Items.Materialize(&tensor.Tensor{}), masked: m.Cfg.Task == "masked",
		numItems: m.Items.NumItems()}
	r.pool.New = func() any { return &recScratch{s: r.enc.NewScratch()} }
	return r
}

// NumItems returns the number of items; ids are 1..NumItems.
func (r *Recommender) NumItems() int { return r.numItems }

// ItemVectors returns the item table the Recommender scores with
// ((NumItems+1) x Dim). It must not be modified.
func (r *Recommender) ItemVectors() *tensor.Tensor { return r.table }

// encode fills sc.hid (len(inputs) x Dim) with the state that predicts the
// next item of each input.
func (r *Recommender) encode(sc *recScratch, inputs [][]int) error {
	d, L := r.enc.Dim(), r.enc.MaxLen()
	b := &sc.b
	b.Reset(L)
	for u, in := range inputs {
		for _, it := range in {
			if it < 1 || it > r.numItems {
				return fmt.Errorf("backbone: input %d: item id %d outside 1..%d", u, it, r.numItems)
			}
		}
		if r.masked {
			if len(in) >= L {
				in = in[len(in)-L+1:]
			}
			start := len(b.Items)
			b.AddSeq(in)
			b.Items = append(b.Items, 0)
			b.Pos = append(b.Pos, 0)
			b.Offsets[len(b.Offsets)-1]++
			n := len(b.Items) - start
			for j := 0; j < n; j++ {
				b.Pos[start+j] = L - n + j
			}
			for len(b.Masked) < len(b.Items)-1 {
				b.Masked = append(b.Masked, false)
			}
			b.Masked = append(b.Masked, true)
		} else {
			b.AddSeq(in)
		}
	}
	T := b.NumTokens()
	x := resize(&sc.x, T, d)
	if T > 0 {
		tensor.Gather(x, r.table, b.Items)
	}
	var h *tensor.Tensor
	if T > 0 {
		h = r.enc.Forward(sc.s, b, x, false, nil)
	}
	sc.last = b.LastRows(sc.last[:0])
	hid := resize(&sc.hid, len(inputs), d)
	for i, row := range sc.last {
		if row < 0 {
			clear(hid.Data[i*d : (i+1)*d])
			continue
		}
		copy(hid.Data[i*d:(i+1)*d], h.Data[row*d:(row+1)*d])
	}
	return nil
}

// ScoreAll writes, for every input sequence, the scores of items 0..NumItems
// into out (len(inputs) x (NumItems+1), row-major). It satisfies
// eval.Scorer. Inputs longer than the window are cut to their last items.
func (r *Recommender) ScoreAll(inputs [][]int, out []float32) error {
	n1 := r.numItems + 1
	if len(out) < len(inputs)*n1 {
		return fmt.Errorf("backbone: ScoreAll: out has %d elements, need %d", len(out), len(inputs)*n1)
	}
	sc := r.pool.Get().(*recScratch)
	defer r.pool.Put(sc)
	if err := r.encode(sc, inputs); err != nil {
		return err
	}
	d := r.enc.Dim()
	if len(inputs) > 0 {
		tensor.Gemm(false, true, len(inputs), n1, d, 1, sc.hid.Data, d, r.table.Data, d, 0, out, n1)
	}
	return nil
}

// ScoreCandidates writes the scores of cands[i] for inputs[i], row after row,
// into out. It satisfies eval.CandidateScorer.
func (r *Recommender) ScoreCandidates(inputs [][]int, cands [][]int, out []float32) error {
	if len(cands) != len(inputs) {
		return fmt.Errorf("backbone: ScoreCandidates: %d inputs, %d candidate lists", len(inputs), len(cands))
	}
	sc := r.pool.Get().(*recScratch)
	defer r.pool.Put(sc)
	if err := r.encode(sc, inputs); err != nil {
		return err
	}
	d, off := r.enc.Dim(), 0
	for i, cs := range cands {
		if off+len(cs) > len(out) {
			return fmt.Errorf("backbone: ScoreCandidates: out has %d elements, too few", len(out))
		}
		h := sc.hid.Data[i*d : (i+1)*d]
		for j, it := range cs {
			if it < 0 || it > r.numItems {
				return fmt.Errorf("backbone: candidate list %d: item id %d outside 0..%d", i, it, r.numItems)
			}
			out[off+j] = dot(h, r.table.Data[it*d:(it+1)*d])
		}
		off += len(cs)
	}
	return nil
}

// Score returns the scores of candidates for a user with the given
// chronological history (appended to dst, which may be nil).
func (r *Recommender) Score(dst []float32, history []int, candidates []int) ([]float32, error) {
	sc := r.pool.Get().(*recScratch)
	defer r.pool.Put(sc)
	if err := r.encode(sc, [][]int{history}); err != nil {
		return dst, err
	}
	d := r.enc.Dim()
	h := sc.hid.Data[:d]
	for _, it := range candidates {
		if it < 1 || it > r.numItems {
			return dst, fmt.Errorf("backbone: candidate item id %d outside 1..%d", it, r.numItems)
		}
		dst = append(dst, dot(h, r.table.Data[it*d:(it+1)*d]))
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
	// encode: one input without allocating a [][]int
	var one [1][]int
	one[0] = history
	if err := r.encode(sc, one[:]); err != nil {
		return dst, err
	}
	d, n1 := r.enc.Dim(), r.numItems+1
	h := sc.hid.Data[:d]
	sc.scores = growF(sc.scores, n1)
	s := sc.scores
	tab := r.table.Data
	for it := 1; it < n1; it++ {
		s[it] = dot(h, tab[it*d:(it+1)*d])
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
