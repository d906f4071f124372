package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// BatchConfig configures the training samplers. Zero fields take defaults.
// A plain value, safe for concurrent use.
type BatchConfig struct {
	// BatchSize is the number of users per batch (default 128).
	BatchSize int
	// MaxLen is the input window: the last MaxLen positions are kept
	// (default 50).
	MaxLen int
	// NumNeg is the number of negatives per non-padded position (default 1).
	NumNeg int
	// Bucket groups users of similar length: the epoch's permutation is cut
	// into windows of BucketWindow batches, each window is sorted by
	// sequence length, cut into batches, and the batch order is shuffled.
	Bucket bool
	// BucketWindow is the window size in batches for Bucket (default 32).
	BucketWindow int
	// Trim makes each batch only as wide as its longest row (at most
	// MaxLen), so short batches cost less; Batch.Offset then says where
	// column 0 sits in the MaxLen window. Most useful with Bucket.
	Trim bool
	// MaskProb is the masking probability of MaskedSampler (default 0.2).
	MaskProb float64
}

func (c BatchConfig) withDefaults() BatchConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 128
	}
	if c.MaxLen <= 0 {
		c.MaxLen = 50
	}
	if c.NumNeg <= 0 {
		c.NumNeg = 1
	}
	if c.BucketWindow <= 0 {
		c.BucketWindow = 32
	}
	if c.MaskProb <= 0 {
		c.MaskProb = 0.2
	}
	return c
}

// Batch is one next-item training batch, stored as flat row-major arrays.
// Row r, column c is index r*Width+c; rows are left-padded with 0. The
// slices are views on buffers sized BatchSize*MaxLen that the sampler
// reuses, so a Batch is overwritten by the next call to Next. A Batch is not
// safe for concurrent use.
type Batch struct {
	// Rows is the number of users in the batch (the last batch of an epoch
	// may be short).
	Rows int
	// Width is the number of positions per row: MaxLen, or less with Trim.
	Width int
	// Offset is MaxLen - Width: column c is position Offset+c of the MaxLen
	// window (use it to index positional embeddings).
	Offset int
	// NumNeg is the number of negatives per position.
	NumNeg int
	// Users holds the internal user index of each row.
	Users []int
	// Input holds the input items i1..i(n-1) (last Width of them).
	Input []int
	// Pos holds the positive (next) items i2..in, aligned with Input.
	Pos []int
	// Neg holds NumNeg negatives per position: position p's negatives are
	// Neg[p*NumNeg : (p+1)*NumNeg]; 0 where Pos is 0.
	Neg []int

	users, input, pos, neg []int
}

// NewBatch returns a Batch with buffers sized for cfg.
func NewBatch(cfg BatchConfig) *Batch {
	cfg = cfg.withDefaults()
	n := cfg.BatchSize * cfg.MaxLen
	return &Batch{
		users: make([]int, cfg.BatchSize),
		input: make([]int, n),
		pos:   make([]int, n),
		neg:   make([]int, n*cfg.NumNeg),
	}
}

// epoch walks seeded permutations of a user list in batches.
type epoch struct {
	cfg    BatchConfig
	rng    *rand.Rand
	users  []int // eligible users
	length func(u int) int
	order  []int
	starts []int // batch start offsets into order, in visiting order
	cur    int
	done   bool
}

func newEpoch(cfg BatchConfig, rng *rand.Rand, users []int, length func(int) int) *epoch {
	nb := (len(users) + cfg.BatchSize - 1) / cfg.BatchSize
	e := &epoch{cfg: cfg, rng: rng, users: users, length: length,
		order: make([]int, len(users)), starts: make([]int, nb)}
	e.shuffle()
	return e
}

func (e *epoch) shuffle() {
	copy(e.order, e.users)
	e.rng.Shuffle(len(e.order), func(i, j int) { e.order[i], e.order[j] = e.order[j], e.order[i] })
	B := e.cfg.BatchSize
	if e.cfg.Bucket {
		w := B * e.cfg.BucketWindow
		for lo := 0; lo < len(e.order); lo += w {
			hi := min(lo+w, len(e.order))
			slices.SortStableFunc(e.order[lo:hi], func(a, b int) int { return e.length(a) - e.length(b) })
		}
	}
	for i := range e.starts {
		e.starts[i] = i * B
	}
	if e.cfg.Bucket {
		e.rng.Shuffle(len(e.starts), func(i, j int) { e.starts[i], e.starts[j] = e.starts[j], e.starts[i] })
	}
	e.cur = 0
	e.done = false
}

// next returns the users of the next batch, or nil at the end of an epoch;
// the call after that starts a new epoch.
func (e *epoch) next() []int {
	if e.done {
		e.shuffle()
	}
	if e.cur >= len(e.starts) {
		e.done = true
		return nil
	}
	lo := e.starts[e.cur]
	e.cur++
	return e.order[lo:min(lo+e.cfg.BatchSize, len(e.order))]
}

// NextItemSampler produces SASRec-style next-item training batches: one
// epoch is a seeded permutation of the users with at least 2 training items,
// cut into batches of BatchSize. For a user's training items i1..in the input
// is i1..i(n-1) and the positives i2..in, keeping the last MaxLen positions.
// Each non-padded position gets NumNeg negatives drawn uniformly from
// 1..NumItems and redrawn while they are among the user's training items (if
// a user's training items cover every item, negatives are drawn without that
// exclusion). After the first batch, Next allocates nothing. A
// NextItemSampler is not safe for concurrent use.
type NextItemSampler struct {
	split *Split
	cfg   BatchConfig
	rng   *rand.Rand
	ep    *epoch
	mark  []uint32
	stamp uint32
}

// NewNextItemSampler returns a sampler over the training part of s, drawing
// every random choice from rng. It returns an error when no user has 2
// training items or the split has no items.
func NewNextItemSampler(s *Split, cfg BatchConfig, rng *rand.Rand) (*NextItemSampler, error) {
	cfg = cfg.withDefaults()
	if s.NumItems < 1 {
		return nil, fmt.Errorf("data: NewNextItemSampler: split has no items")
	}
	var users []int
	for u, tr := range s.Train {
		if len(tr) >= 2 {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("data: NewNextItemSampler: no user has 2 training items")
	}
	sm := &NextItemSampler{split: s, cfg: cfg, rng: rng, mark: make([]uint32, s.NumItems+1)}
	sm.ep = newEpoch(cfg, rng, users, func(u int) int { return len(s.Train[u]) })
	return sm, nil
}

// NumUsers returns the number of users per epoch.
func (sm *NextItemSampler) NumUsers() int { return len(sm.ep.users) }

// NumBatches returns the number of batches per epoch.
func (sm *NextItemSampler) NumBatches() int { return len(sm.ep.starts) }

// NewBatch returns a Batch sized for this sampler.
func (sm *NextItemSampler) NewBatch() *Batch { return NewBatch(sm.cfg) }

// Next fills b with the next batch of the current epoch and returns true,
// or returns false at the end of the epoch; the following call starts a new
// epoch with a fresh permutation. b must come from NewBatch with the same
// BatchSize, MaxLen and NumNeg (it panics otherwise).
func (sm *NextItemSampler) Next(b *Batch) bool {
	users := sm.ep.next()
	if users == nil {
		return false
	}
	cfg := sm.cfg
	if len(b.users) < cfg.BatchSize || len(b.input) < cfg.BatchSize*cfg.MaxLen || len(b.neg) < cfg.BatchSize*cfg.MaxLen*cfg.NumNeg {
		panic(fmt.Sprintf("data: NextItemSampler.Next: batch buffers too small for %+v", cfg))
	}
	w := cfg.MaxLen
	if cfg.Trim {
		w = 1
		for _, u := range users {
			w = max(w, min(len(sm.split.Train[u])-1, cfg.MaxLen))
		}
	}
	k := cfg.NumNeg
	b.Rows, b.Width, b.Offset, b.NumNeg = len(users), w, cfg.MaxLen-w, k
	b.Users = b.users[:len(users)]
	copy(b.Users, users)
	b.Input = b.input[:len(users)*w]
	b.Pos = b.pos[:len(users)*w]
	b.Neg = b.neg[:len(users)*w*k]
	clear(b.Input)
	clear(b.Pos)
	clear(b.Neg)
	for r, u := range users {
		sm.fillRow(b, r, sm.split.Train[u])
	}
	return true
}

func (sm *NextItemSampler) fillRow(b *Batch, r int, train []int) {
	sm.stamp++
	if sm.stamp == 0 {
		clear(sm.mark)
		sm.stamp = 1
	}
	distinct := 0
	for _, it := range train {
		if sm.mark[it] != sm.stamp {
			sm.mark[it] = sm.stamp
			distinct++
		}
	}
	exclude := distinct < sm.split.NumItems
	n := len(train) - 1
	m := min(n, b.Width)
	w, k := b.Width, b.NumNeg
	for c := 0; c < m; c++ {
		j := n - m + c // index into train of the input item
		p := r*w + (w - m + c)
		b.Input[p] = train[j]
		b.Pos[p] = train[j+1]
		for q := 0; q < k; q++ {
			neg := sm.rng.IntN(sm.split.NumItems) + 1
			for exclude && sm.mark[neg] == sm.stamp {
				neg = sm.rng.IntN(sm.split.NumItems) + 1
			}
			b.Neg[p*k+q] = neg
		}
	}
}

// MaskedBatch is one masked-item (BERT4Rec cloze) training batch, flat and
// row-major like Batch: row r, column c is index r*Width+c, left-padded with
// 0. Buffers are reused by the sampler. Not safe for concurrent use.
type MaskedBatch struct {
	// Rows is the number of users in the batch.
	Rows int
	// Width is the number of positions per row (MaxLen, or less with Trim).
	Width int
	// Offset is MaxLen - Width, as in Batch.
	Offset int
	// MaskID is the mask token id, NumItems+1.
	MaskID int
	// Users holds the internal user index of each row.
	Users []int
	// Input holds the last Width training items with masked positions
	// replaced by MaskID.
	Input []int
	// Labels holds the original item at masked positions and 0 elsewhere.
	Labels []int

	users, input, labels []int
}

// MaskedSampler produces masked-item batches for BERT4Rec: each row is the
// last MaxLen training items of a user (users with at least 1 training item,
// in a seeded permutation per epoch); each non-padded position is masked with
// probability MaskProb, and a row with no masked position gets its last
// position masked. Not safe for concurrent use.
type MaskedSampler struct {
	split *Split
	cfg   BatchConfig
	rng   *rand.Rand
	ep    *epoch
}

// NewMaskedSampler returns a masked-item sampler over the training part of s.
func NewMaskedSampler(s *Split, cfg BatchConfig, rng *rand.Rand) (*MaskedSampler, error) {
	cfg = cfg.withDefaults()
	if cfg.MaskProb > 1 {
		return nil, fmt.Errorf("data: NewMaskedSampler: MaskProb %v > 1", cfg.MaskProb)
	}
	var users []int
	for u, tr := range s.Train {
		if len(tr) >= 1 {
			users = append(users, u)
		}
	}
	if len(users) == 0 || s.NumItems < 1 {
		return nil, fmt.Errorf("data: NewMaskedSampler: no training items")
	}
	sm := &MaskedSampler{split: s, cfg: cfg, rng: rng}
	sm.ep = newEpoch(cfg, rng, users, func(u int) int { return len(s.Train[u]) })
	return sm, nil
}

// NumBatches returns the number of batches per epoch.
func (sm *MaskedSampler) NumBatches() int { return len(sm.ep.starts) }

// NewBatch returns a MaskedBatch sized for this sampler.
func (sm *MaskedSampler) NewBatch() *MaskedBatch {
	n := sm.cfg.BatchSize * sm.cfg.MaxLen
	return &MaskedBatch{users: make([]int, sm.cfg.BatchSize), input: make([]int, n), labels: make([]int, n)}
}

// Next fills b with the next batch and returns true, or returns false at the
// end of the epoch (the next call starts a new one). b must come from
// NewBatch of this sampler.
func (sm *MaskedSampler) Next(b *MaskedBatch) bool {
	users := sm.ep.next()
	if users == nil {
		return false
	}
	cfg := sm.cfg
	w := cfg.MaxLen
	if cfg.Trim {
		w = 1
		for _, u := range users {
			w = max(w, min(len(sm.split.Train[u]), cfg.MaxLen))
		}
	}
	b.Rows, b.Width, b.Offset, b.MaskID = len(users), w, cfg.MaxLen-w, sm.split.NumItems+1
	b.Users = b.users[:len(users)]
	copy(b.Users, users)
	b.Input = b.input[:len(users)*w]
	b.Labels = b.labels[:len(users)*w]
	clear(b.Input)
	clear(b.Labels)
	for r, u := range users {
		tr := sm.split.Train[u]
		m := min(len(tr), w)
		masked := false
		for c := 0; c < m; c++ {
			p := r*w + (w - m + c)
			it := tr[len(tr)-m+c]
			if sm.rng.Float64() < cfg.MaskProb {
				b.Input[p] = b.MaskID
				b.Labels[p] = it
				masked = true
			} else {
				b.Input[p] = it
			}
		}
		if !masked {
			p := r*w + w - 1
			b.Labels[p] = b.Input[p]
			b.Input[p] = b.MaskID
		}
	}
	return true
}
