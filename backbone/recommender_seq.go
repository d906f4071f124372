package backbone

import (
	"sync"

	"github.com/llmrec/llmrec/tensor"
)

// seqScorer is the ItemScorer of a SeqModel: it encodes the histories with
// the model's encoder and scores item i for hidden state h by ⟨h, e_i⟩ over
// a snapshot of the item table. It is safe for concurrent use: each call
// takes its working memory from a sync.Pool.
type seqScorer struct {
	enc      Encoder
	table    *tensor.Tensor // (NumItems+1) x Dim
	masked   bool           // BERT4Rec: append a mask token to the history
	numItems int
	pool     sync.Pool
}

type seqScratch struct {
	s    Scratch
	b    Batch
	x    tensor.Tensor
	hid  tensor.Tensor
	last []int
}

func newSeqScorer(m *SeqModel) *seqScorer {
	s := &seqScorer{enc: m.Enc, table: m.Items.Materialize(&tensor.Tensor{}), masked: m.Cfg.Task == "masked",
		numItems: m.Items.NumItems()}
	s.pool.New = func() any { return s.newScratch() }
	return s
}

func (s *seqScorer) newScratch() *seqScratch { return &seqScratch{s: s.enc.NewScratch()} }

func (s *seqScorer) NumItems() int { return s.numItems }

// ScoreItems implements ItemScorer. A Recommender does not call it: it
// calls scoreWith with the scratch it keeps beside its own, so that a
// SeqModel is served from one sync.Pool.
func (s *seqScorer) ScoreItems(inputs, cands [][]int, out []float32) error {
	sc := s.pool.Get().(*seqScratch)
	defer s.pool.Put(sc)
	s.scoreWith(sc, inputs, cands, out)
	return nil
}

// scoreWith is ScoreItems with the caller's scratch. The Recommender has
// checked every id.
func (s *seqScorer) scoreWith(sc *seqScratch, inputs, cands [][]int, out []float32) {
	if len(inputs) == 0 {
		return
	}
	s.encode(sc, inputs)
	d, n1, tab := s.enc.Dim(), s.numItems+1, s.table.Data
	switch {
	case cands != nil:
		off := 0
		for i, cs := range cands {
			h := sc.hid.Data[i*d : (i+1)*d]
			for j, it := range cs {
				out[off+j] = dot(h, tab[it*d:(it+1)*d])
			}
			off += len(cs)
		}
	case len(inputs) == 1:
		// one user (TopK): a dot per item, the same arithmetic as Score
		h := sc.hid.Data[:d]
		for it := range n1 {
			out[it] = dot(h, tab[it*d:(it+1)*d])
		}
	default:
		tensor.Gemm(false, true, len(inputs), n1, d, 1, sc.hid.Data, d, tab, d, 0, out, n1)
	}
}

// encode fills sc.hid (len(inputs) x Dim) with the state that predicts the
// next item of each input. Inputs longer than the window are cut to their
// last items; an empty input gets a zero state.
func (s *seqScorer) encode(sc *seqScratch, inputs [][]int) {
	d, L := s.enc.Dim(), s.enc.MaxLen()
	b := &sc.b
	b.Reset(L)
	for _, in := range inputs {
		if s.masked {
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
	var h *tensor.Tensor
	if T > 0 {
		tensor.Gather(x, s.table, b.Items)
		h = s.enc.Forward(sc.s, b, x, false, nil)
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
}
