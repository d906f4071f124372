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
	model    *SeqModel // the model served, nil when built from a bare table
	enc      Encoder
	table    *tensor.Tensor // (NumItems+1) x Dim
	packed   *packedItems   // table packed for the scoring kernels
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
	hpad []float32 // a partial group of hidden states, zero-padded
	out  []float32 // scores of a partial group or of the last panel
}

func newSeqScorer(m *SeqModel) *seqScorer {
	s := newSeqScorerTable(m.Enc, m.Items.Materialize(&tensor.Tensor{}), m.Cfg.Task == "masked")
	s.model = m
	return s
}

// newSeqScorerTable returns the scorer of enc over the item vectors table
// ((NumItems+1) x Dim, kept: not to be modified).
func newSeqScorerTable(enc Encoder, table *tensor.Tensor, masked bool) *seqScorer {
	s := &seqScorer{enc: enc, table: table, masked: masked, numItems: table.Shape[0] - 1,
		packed: packItems(table.Data, table.Shape[0], table.Shape[1])}
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
	d, tab := s.enc.Dim(), s.table.Data
	if cands == nil {
		s.scoreAll(sc, len(inputs), out)
		return
	}
	// the kernels' arithmetic, one item at a time (see dotSeq)
	off := 0
	for i, cs := range cands {
		h := sc.hid.Data[i*d : (i+1)*d]
		for j, it := range cs {
			out[off+j] = dotSeq(h, tab[it*d:(it+1)*d])
		}
		off += len(cs)
	}
}

// scoreAll writes the scores of items 0..NumItems for the n hidden states
// of sc.hid into out (n x (NumItems+1)), groupH users at a time.
func (s *seqScorer) scoreAll(sc *seqScratch, n int, out []float32) {
	p := s.packed
	d, n1 := p.d, p.n1
	full := n1 / panelW * panelW // items whose panel lies inside a row of out
	for u := 0; u < n; u += groupH {
		h := sc.hid.Data[u*d:]
		if u+groupH > n {
			sc.hpad = growF(sc.hpad, groupH*d)
			clear(sc.hpad)
			copy(sc.hpad, h[:(n-u)*d])
			h = sc.hpad
		}
		if u+groupH <= n {
			p.scoreGroup(h, 0, full, out[u*n1:], n1)
		}
		lo := full
		if u+groupH > n {
			lo = 0
		}
		if lo == p.pad {
			continue
		}
		w := p.pad - lo
		sc.out = growF(sc.out, groupH*w)
		p.scoreGroup(h, lo, p.pad, sc.out, w)
		for v := u; v < min(u+groupH, n); v++ {
			copy(out[v*n1+lo:(v+1)*n1], sc.out[(v-u)*w:])
		}
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
