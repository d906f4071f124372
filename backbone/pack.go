package backbone

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/llmrec/llmrec/data"
)

// Batch is a batch of item sequences packed back to back, without padding.
//
// Sequences in recommendation data are short and of very different lengths
// (Amazon Beauty: 8.9 items on average, 204 at most), so a left-padded
// B x maxlen batch is mostly padding. A padded SASRec masks padded keys and
// zeroes padded rows, so the real positions never see the padding: packing
// the real tokens of every sequence into one T x d matrix (T = number of real
// tokens) computes exactly the same hidden states for the real positions,
// with the dense layers run once over T rows and attention run per sequence.
//
// Token t of sequence s sits at row Offsets[s]+t; its item is Items[row], and
// Pos[row] is its position in the left-padded window of width MaxLen, as the
// padded model would see it (the last item of every sequence is at MaxLen-1).
// Targets and Negs are set by training samplers; Masked by masked-item
// samplers (BERT4Rec). A Batch is reused across steps (Reset keeps its
// memory); it is not safe for concurrent use.
type Batch struct {
	// Items holds the item id of every token, sequences back to back.
	Items []int
	// Pos holds every token's position index in [0, MaxLen).
	Pos []int
	// Offsets has NumSeqs()+1 entries: sequence s is rows Offsets[s]..Offsets[s+1]-1.
	Offsets []int
	// Targets, when non-nil, holds the item each token must predict (0 = none).
	Targets []int
	// Negs, when non-nil, holds NumNeg negative items per token (row-major).
	Negs []int
	// NumNeg is the number of negatives per token in Negs.
	NumNeg int
	// Masked, when non-nil, marks tokens replaced by the mask token (BERT4Rec).
	Masked []bool
	// MaxLen is the window width the positions refer to.
	MaxLen int

	neg *data.NegativeSampler
}

// Reset empties b and sets its window width, keeping its memory.
func (b *Batch) Reset(maxLen int) {
	b.Items = b.Items[:0]
	b.Pos = b.Pos[:0]
	b.Offsets = append(b.Offsets[:0], 0)
	b.Targets = b.Targets[:0]
	b.Negs = b.Negs[:0]
	b.Masked = b.Masked[:0]
	b.NumNeg = 0
	b.MaxLen = maxLen
}

// NumSeqs returns the number of sequences in b.
func (b *Batch) NumSeqs() int { return max(len(b.Offsets)-1, 0) }

// NumTokens returns the number of real tokens in b.
func (b *Batch) NumTokens() int { return len(b.Items) }

// SeqLen returns the length of sequence s.
func (b *Batch) SeqLen(s int) int { return b.Offsets[s+1] - b.Offsets[s] }

// LongestSeq returns the length of the longest sequence in b.
func (b *Batch) LongestSeq() int {
	m := 0
	for s := 0; s < b.NumSeqs(); s++ {
		m = max(m, b.SeqLen(s))
	}
	return m
}

// AddSeq appends the last MaxLen items of seq as one sequence and returns its
// index. An empty seq adds an empty sequence.
func (b *Batch) AddSeq(seq []int) int {
	if len(b.Offsets) == 0 {
		b.Offsets = append(b.Offsets, 0)
	}
	if len(seq) > b.MaxLen {
		seq = seq[len(seq)-b.MaxLen:]
	}
	base := b.MaxLen - len(seq)
	for j, it := range seq {
		b.Items = append(b.Items, it)
		b.Pos = append(b.Pos, base+j)
	}
	b.Offsets = append(b.Offsets, len(b.Items))
	return len(b.Offsets) - 2
}

// checkIDs returns an error wrapping ErrItemOutOfRange when an id of seq
// is outside 1..numItems.
func checkIDs(seq []int, numItems int) error {
	for _, it := range seq {
		if it < 1 || it > numItems {
			return fmt.Errorf("backbone: %w: item id %d outside 1..%d", ErrItemOutOfRange, it, numItems)
		}
	}
	return nil
}

// negatives returns b's negative sampler over 1..numItems, set to exclude
// seq.
func (b *Batch) negatives(seq []int, numItems int) *data.NegativeSampler {
	if b.neg == nil || b.neg.NumItems() != numItems {
		b.neg = data.NewNegativeSampler(numItems)
	}
	b.neg.SetUser(seq)
	return b.neg
}

// AddNextItem appends seq as one next-item training sequence: its items
// but the last as input (the last MaxLen of them), each next item as the
// target of the position before it, and NumNeg negatives per target drawn
// by data.NegativeSampler's rule (uniform over 1..numItems, redrawn while
// in seq). A seq shorter than 2 items adds nothing. An id of seq outside
// 1..numItems is an error wrapping ErrItemOutOfRange, and nothing is added.
func (b *Batch) AddNextItem(seq []int, numItems int, rng *rand.Rand) error {
	if err := checkIDs(seq, numItems); err != nil {
		return err
	}
	if len(seq) < 2 {
		return nil
	}
	b.AddSeq(seq[:len(seq)-1])
	tg := seq[1:]
	if len(tg) > b.MaxLen {
		tg = tg[len(tg)-b.MaxLen:]
	}
	b.Targets = append(b.Targets, tg...)
	if b.NumNeg > 0 {
		neg := b.negatives(seq, numItems)
		for range len(tg) * b.NumNeg {
			b.Negs = append(b.Negs, neg.Draw(rng))
		}
	}
	return nil
}

// AddMasked appends seq as one masked-item (cloze, BERT4Rec) training
// sequence: its last MaxLen items, each masked with probability maskProb
// (Masked set, its own item as the target; a sequence where no draw masks
// anything gets one uniformly chosen position masked, so every user
// contributes), and NumNeg negatives per masked position drawn as in
// AddNextItem (0 for unmasked ones). An empty seq adds nothing; an id
// outside 1..numItems is an error wrapping ErrItemOutOfRange.
func (b *Batch) AddMasked(seq []int, numItems int, maskProb float64, rng *rand.Rand) error {
	if err := checkIDs(seq, numItems); err != nil {
		return err
	}
	if len(seq) == 0 {
		return nil
	}
	start := len(b.Items)
	b.AddSeq(seq)
	toks := b.Items[start:]
	any := false
	for _, it := range toks {
		mk := rng.Float64() < maskProb
		b.Masked = append(b.Masked, mk)
		if mk {
			b.Targets = append(b.Targets, it)
			any = true
		} else {
			b.Targets = append(b.Targets, 0)
		}
	}
	if !any {
		j := start + rng.IntN(len(toks))
		b.Masked[j] = true
		b.Targets[j] = b.Items[j]
	}
	if b.NumNeg == 0 {
		return nil
	}
	neg := b.negatives(seq, numItems)
	for _, tg := range b.Targets[start:] {
		for range b.NumNeg {
			if tg == 0 {
				b.Negs = append(b.Negs, 0)
			} else {
				b.Negs = append(b.Negs, neg.Draw(rng))
			}
		}
	}
	return nil
}

// LastRows appends to dst the row of the last token of every non-empty
// sequence (the row whose hidden state predicts the next item) and returns
// it; an empty sequence contributes -1.
func (b *Batch) LastRows(dst []int) []int {
	for s := 0; s < b.NumSeqs(); s++ {
		if b.SeqLen(s) == 0 {
			dst = append(dst, -1)
		} else {
			dst = append(dst, b.Offsets[s+1]-1)
		}
	}
	return dst
}

// PadLeft writes the last width items of seq into dst (length width),
// left-padded with 0, and returns dst. It is the layout of a padded batch.
func PadLeft(dst []int, seq []int, width int) []int {
	dst = slices.Grow(dst[:0], width)[:width]
	if len(seq) > width {
		seq = seq[len(seq)-width:]
	}
	clear(dst[:width-len(seq)])
	copy(dst[width-len(seq):], seq)
	return dst
}

// TrimPadded returns the number of leading columns of a left-padded batch
// (rows of equal width, 0 = padding) that are padding in every row: cutting
// them leaves the batch at the width of its longest real sequence. Because
// padded keys are masked and padded rows are zeroed, a padded encoder with
// absolute positions computes the same real hidden states on the trimmed
// batch, provided positions are taken from the right (pos = width-L+j).
func TrimPadded(rows [][]int) int {
	if len(rows) == 0 {
		return 0
	}
	cut := len(rows[0])
	for _, r := range rows {
		for j := 0; j < cut && j < len(r); j++ {
			if r[j] != 0 {
				cut = j
				break
			}
		}
		if cut == 0 {
			return 0
		}
	}
	return cut
}

// BucketBatches cuts the indices 0..len(lengths)-1 into batches of at most
// batchSize, grouping indices of similar length: the indices are shuffled,
// taken in pools of poolBatches batches, sorted by length inside each pool,
// cut into batches, and the batches are shuffled. poolBatches <= 1 gives
// plain random batches. Each index appears in exactly one batch.
//
// With a padded encoder this reduces padding; with packed batches it only
// evens out the work per step. It changes which users share a step, so it
// is an option, not the default.
func BucketBatches(rng *rand.Rand, lengths []int, batchSize, poolBatches int) [][]int {
	idx := make([]int, len(lengths))
	for i := range idx {
		idx[i] = i
	}
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	if batchSize <= 0 {
		batchSize = len(idx)
	}
	var out [][]int
	pool := max(poolBatches, 1) * batchSize
	for p := 0; p < len(idx); p += pool {
		chunk := idx[p:min(p+pool, len(idx))]
		if poolBatches > 1 {
			slices.SortStableFunc(chunk, func(a, b int) int { return lengths[a] - lengths[b] })
		}
		for s := 0; s < len(chunk); s += batchSize {
			out = append(out, chunk[s:min(s+batchSize, len(chunk))])
		}
	}
	if poolBatches > 1 {
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}
