package backbone

import (
	"fmt"

	"github.com/llmrec/llmrec/tensor"
)

// This file exposes a model's sequence representations for analysis: the
// hidden states h whose scores ⟨h, e_i⟩ the loss and the Recommender see.
// Curvature and geometry diagnostics (recpca.Curvature) need them on real
// batches of a trained or training model.

// HiddenStates returns the encoder's hidden state at every position of
// seqs, each cut to its last MaxLen items, as a [tokens, Dim] matrix whose
// rows follow the sequences in order and, within a sequence, its positions
// in order. The encoder runs in inference mode (no dropout) over the item
// vectors of m.Items.Materialize, so the call costs one materialization of
// the whole table: it is meant for diagnostics, not serving. Item ids must
// be in 1..NumItems.
//
// HiddenStates reads the model's parameters: do not train m at the same
// time.
func (m *SeqModel) HiddenStates(seqs [][]int) (*tensor.Tensor, error) {
	_, h, err := m.inferStates(seqs)
	if err != nil || h == nil {
		return tensor.New(0, m.Enc.Dim()), err
	}
	return h.Clone(), nil
}

// LastStates returns, for every sequence of seqs, the hidden state of its
// last position: the state that predicts the next item ([len(seqs), Dim];
// a zero row for an empty sequence). See HiddenStates for the conditions.
func (m *SeqModel) LastStates(seqs [][]int) (*tensor.Tensor, error) {
	d := m.Enc.Dim()
	out := tensor.New(len(seqs), d)
	b, h, err := m.inferStates(seqs)
	if err != nil || h == nil {
		return out, err
	}
	for i, row := range b.LastRows(nil) {
		if row >= 0 {
			copy(out.Data[i*d:(i+1)*d], h.Data[row*d:(row+1)*d])
		}
	}
	return out, nil
}

// inferStates packs seqs into a batch and runs the encoder over it in
// inference mode; h is nil when the batch has no tokens.
func (m *SeqModel) inferStates(seqs [][]int) (*Batch, *tensor.Tensor, error) {
	n := m.Items.NumItems()
	b := &Batch{}
	b.Reset(m.Enc.MaxLen())
	for u, s := range seqs {
		for j, it := range s {
			if it < 1 || it > n {
				return nil, nil, fmt.Errorf("backbone: sequence %d position %d: item id %d outside 1..%d: %w", u, j, it, n, ErrItemOutOfRange)
			}
		}
		b.AddSeq(s)
	}
	T, d := b.NumTokens(), m.Enc.Dim()
	if T == 0 {
		return b, nil, nil
	}
	table := m.Items.Materialize(&tensor.Tensor{})
	x := tensor.New(T, d)
	tensor.Gather(x, table, b.Items)
	return b, m.Enc.Forward(m.Enc.NewScratch(), b, x, false, nil), nil
}
