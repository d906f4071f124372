package index

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/llmrec/llmrec/tensor/qscan"
)

// Errors a caller can tell apart with errors.Is.
var (
	// ErrBadConfig: a build option or an argument out of range (width,
	// id, number of lists).
	ErrBadConfig = errors.New("index: bad configuration")
	// ErrNonFinite: a vector or a query holds a NaN or an infinity.
	ErrNonFinite = qscan.ErrNonFinite
	// ErrNotFound: Remove of an id the index does not hold.
	ErrNotFound = errors.New("index: id not found")
	// ErrBadFile: a saved index that is truncated, corrupted or out of
	// bounds.
	ErrBadFile = errors.New("index: bad index file")
)

// Bounds of what an index holds and a file may declare: far above the
// catalogs the library serves, they keep every size computed from a file
// inside int64 and every allocation proportional to the bytes read.
const (
	// MaxID is the largest item id.
	MaxID = 1<<26 - 1
	// MaxDim is the largest vector width.
	MaxDim = 1 << 10
	// MaxLists is the largest number of inverted lists.
	MaxLists = 1 << 20
)

// Config sets how Build partitions the vectors. Zero fields take the
// defaults.
type Config struct {
	// Lists is the number of inverted lists (default 2·√n, at least 1).
	Lists int
	// Probe is the number of lists a query scans (default
	// max(Lists/32, min(Lists, 64))); SetProbe changes it later.
	Probe int
	// Iters is the number of k-means iterations (default 8).
	Iters int
	// Sample is the number of rows k-means trains on (default 64·Lists,
	// at most n).
	Sample int
	// Base is the id of the first row when Build gets no ids (row i has id
	// Base+i): 1 for a Recommender's table without its padding row.
	Base int
}

// IVF is an inverted-file index for maximum inner product: the vectors are
// partitioned by k-means into lists, a query ranks the lists by the inner
// product with their centroids and scans the best Probe of them with
// qscan (int8 codes, an exact float32 re-rank). Scores are the exact
// float32 inner products (qscan.Dot); only which items are looked at is
// approximate. With Probe = Lists a search is exact.
//
// An IVF is safe for concurrent use: Search may run in any number of
// goroutines while Insert and Remove change the index (they serialize
// among themselves). A write builds the changed lists aside and swaps a
// new snapshot in atomically, so a search sees every item either wholly
// before or wholly after a write, never half of it.
type IVF struct {
	d     int
	probe atomic.Int64
	st    atomic.Pointer[ivfState]

	// plant is a deliberate mistake a test sets to check that it notices
	// (1: drop the best probed list); 0 in every real use.
	plant int

	mu    sync.Mutex // serializes writers; guards where
	where []int64    // id → list<<32 | row, or -1; writer-only
	pool  sync.Pool
}

// ivfState is one immutable snapshot.
type ivfState struct {
	cent  *qscan.Table // centroids c_j, for ranking lists by ⟨q, c_j⟩
	assn  *qscan.Table // augmented centroids [c_j, −‖c_j‖²/2] for assigning new vectors
	lists []*list
	n     int
}

// list is one inverted list: its vectors and their ids.
type list struct {
	tab *qscan.Table
	ids []int32
}

type scratch struct {
	s     qscan.Searcher
	probe []qscan.Result
	aug   []float32
}

const noWhere = -1

func newIVF(d int) *IVF {
	x := &IVF{d: d}
	x.pool.New = func() any { return new(scratch) }
	return x
}

// Dim returns the vector width.
func (x *IVF) Dim() int { return x.d }

// Len returns the number of items.
func (x *IVF) Len() int { return x.st.Load().n }

// Lists returns the number of inverted lists.
func (x *IVF) Lists() int { return len(x.st.Load().lists) }

// Probe returns the number of lists a search scans.
func (x *IVF) Probe() int { return int(x.probe.Load()) }

// SetProbe sets the number of lists a search scans (clamped to
// 1..Lists): more lists, higher recall, slower searches.
func (x *IVF) SetProbe(p int) { x.probe.Store(int64(max(1, min(p, x.Lists())))) }

// Bytes returns the memory the index holds: every list's codes, float32
// vectors and ids, the centroids and the id map.
func (x *IVF) Bytes() int {
	st := x.st.Load()
	b := st.cent.Bytes() + st.assn.Bytes() + 8*len(st.lists)
	for _, l := range st.lists {
		b += l.tab.Bytes() + 4*cap(l.ids) + 32
	}
	x.mu.Lock()
	b += 8 * cap(x.where)
	x.mu.Unlock()
	return b
}

// Search appends to dst the k items with the highest inner product with
// q among those in the Probe best lists, best first (ties: lower id first),
// never an id of exclude. Errors: a query of the wrong width wraps
// ErrBadConfig, a non-finite one ErrNonFinite (dst is then unchanged).
func (x *IVF) Search(dst []qscan.Result, q []float32, k int, exclude []int) ([]qscan.Result, error) {
	return x.SearchProbe(dst, q, k, exclude, x.Probe())
}

// SearchProbe is Search scanning the probe best lists.
func (x *IVF) SearchProbe(dst []qscan.Result, q []float32, k int, exclude []int, probe int) ([]qscan.Result, error) {
	if len(q) != x.d {
		return dst, fmt.Errorf("index: query of %d values, want %d: %w", len(q), x.d, ErrBadConfig)
	}
	st := x.st.Load()
	sc := x.pool.Get().(*scratch)
	defer x.pool.Put(sc)
	// the lists whose centroids score highest
	var err error
	sc.probe, err = st.cent.TopK(sc.probe[:0], q, max(1, min(probe, len(st.lists))), nil)
	if err != nil {
		return dst, err
	}
	if err := sc.s.Begin(q, k, exclude); err != nil {
		return dst, err
	}
	for i, p := range sc.probe {
		if x.plant == 1 && i == 0 {
			continue
		}
		l := st.lists[p.ID]
		sc.s.Scan(l.tab, 0, l.ids)
	}
	return sc.s.Append(dst), nil
}

// Build partitions n = len(rows)/d vectors (row-major; row i has id
// ids[i], or cfg.Base+i when ids is nil) into an IVF. rows is copied. Errors wrap
// ErrBadConfig (shapes, ids outside 0..MaxID or repeated, options) or
// ErrNonFinite.
func Build(rng *rand.Rand, rows []float32, d int, ids []int32, cfg Config) (*IVF, error) {
	if d < 1 || d > MaxDim || len(rows)%d != 0 {
		return nil, fmt.Errorf("index: %d values are not rows of width %d (1..%d): %w", len(rows), d, MaxDim, ErrBadConfig)
	}
	n := len(rows) / d
	if ids != nil && len(ids) != n {
		return nil, fmt.Errorf("index: %d ids for %d rows: %w", len(ids), n, ErrBadConfig)
	}
	if n > MaxID+1 {
		return nil, fmt.Errorf("index: %d rows above %d: %w", n, MaxID+1, ErrBadConfig)
	}
	for j, v := range rows {
		if v-v != 0 {
			return nil, fmt.Errorf("index: row %d holds %v: %w", j/d, v, ErrNonFinite)
		}
	}
	if cfg.Lists < 0 || cfg.Probe < 0 || cfg.Iters < 0 || cfg.Sample < 0 || cfg.Lists > MaxLists {
		return nil, fmt.Errorf("index: negative option or more than %d lists: %w", MaxLists, ErrBadConfig)
	}
	nl := cfg.Lists
	if nl == 0 {
		nl = max(1, int(2*math.Sqrt(float64(n))))
	}
	nl = max(1, min(nl, max(n, 1)))
	x := newIVF(d)
	x.where = make([]int64, 0, n)
	get := func(i int) int {
		if ids == nil {
			return cfg.Base + i
		}
		return int(ids[i])
	}
	for i := range n {
		id := get(i)
		if id < 0 || id > MaxID {
			return nil, fmt.Errorf("index: id %d outside 0..%d: %w", id, MaxID, ErrBadConfig)
		}
		if id < len(x.where) && x.where[id] != noWhere {
			return nil, fmt.Errorf("index: id %d repeated: %w", id, ErrBadConfig)
		}
		x.setWhere(id, 0) // marks it taken; the real place is set below
	}
	cent, err := kmeans(rng, rows, d, nl, cfg)
	if err != nil {
		return nil, err
	}
	assign, err := assignRows(rows, d, cent)
	if err != nil {
		return nil, err
	}
	// gather each list's rows and ids
	counts := make([]int, nl)
	for _, a := range assign {
		counts[a]++
	}
	lrows := make([][]float32, nl)
	lids := make([][]int32, nl)
	for j := range nl {
		lrows[j] = make([]float32, 0, counts[j]*d)
		lids[j] = make([]int32, 0, counts[j])
	}
	for i, a := range assign {
		lrows[a] = append(lrows[a], rows[i*d:(i+1)*d]...)
		lids[a] = append(lids[a], int32(get(i)))
	}
	st := &ivfState{lists: make([]*list, nl), n: n}
	for j := range nl {
		tab, err := qscan.New(lrows[j], d)
		if err != nil {
			return nil, err
		}
		lrows[j] = nil
		st.lists[j] = &list{tab: tab, ids: lids[j]}
		for r, id := range lids[j] {
			x.setWhere(int(id), int64(j)<<32|int64(r))
		}
	}
	if err := st.setCentroids(cent, d); err != nil {
		return nil, err
	}
	x.st.Store(st)
	p := cfg.Probe
	if p == 0 {
		p = defaultProbe(nl)
	}
	x.SetProbe(p)
	return x, nil
}

// defaultProbe is the probe of a Config without one: 64 lists (all of a
// small catalog's), or a 32nd of a large catalog's lists. On a trained
// Beauty model (12k items, 220 lists) 64 lists find 99.6% of the exact
// top-10; on a million items drawn from it (2,000 lists), 56 and 112
// lists give 0.942 and 0.970 (examples/annbench).
func defaultProbe(lists int) int { return max(lists/32, min(lists, 64)) }

// setCentroids builds the two centroid tables of st.
func (st *ivfState) setCentroids(cent []float32, d int) error {
	var err error
	if st.cent, err = qscan.New(cent, d); err != nil {
		return err
	}
	st.assn, err = qscan.New(augment(cent, d), d+1)
	return err
}

// augment returns the rows of cent with −‖c‖²/2 appended: ⟨[x, 1], that⟩
// = ⟨x, c⟩ − ‖c‖²/2, largest for the centroid nearest x.
func augment(cent []float32, d int) []float32 {
	nl := len(cent) / d
	out := make([]float32, 0, nl*(d+1))
	for j := range nl {
		c := cent[j*d : (j+1)*d]
		var s float64
		for _, v := range c {
			s += float64(v) * float64(v)
		}
		out = append(out, c...)
		out = append(out, float32(-s/2))
	}
	return out
}

// setWhere records where id lives, growing the map.
func (x *IVF) setWhere(id int, w int64) {
	for len(x.where) <= id {
		x.where = append(x.where, noWhere)
	}
	x.where[id] = w
}

// Insert adds the vector row (len Dim) under id, or replaces the vector of
// id when the index holds it already. Searches running meanwhile see the
// index wholly before or wholly after the insert. Errors wrap ErrBadConfig
// (width, id outside 0..MaxID) or ErrNonFinite; the index is unchanged
// then.
func (x *IVF) Insert(id int, row []float32) error {
	if len(row) != x.d {
		return fmt.Errorf("index: vector of %d values, want %d: %w", len(row), x.d, ErrBadConfig)
	}
	if id < 0 || id > MaxID {
		return fmt.Errorf("index: id %d outside 0..%d: %w", id, MaxID, ErrBadConfig)
	}
	for _, v := range row {
		if v-v != 0 {
			return fmt.Errorf("index: vector of id %d holds %v: %w", id, v, ErrNonFinite)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	st := x.st.Load()
	sc := x.pool.Get().(*scratch)
	sc.aug = append(append(sc.aug[:0], row...), 1)
	var err error
	sc.probe, err = st.assn.TopK(sc.probe[:0], sc.aug, 1, nil)
	if err != nil {
		x.pool.Put(sc)
		return err
	}
	to := sc.probe[0].ID // read before the scratch goes back to the pool
	x.pool.Put(sc)
	next := &ivfState{cent: st.cent, assn: st.assn, lists: append([]*list(nil), st.lists...), n: st.n}
	// take it out of its old list first (the new list may be the same)
	if id < len(x.where) && x.where[id] != noWhere {
		if err := next.remove(x, id); err != nil {
			return err
		}
	}
	l := next.lists[to]
	tab, err := l.tab.Append(row)
	if err != nil {
		return err
	}
	ids := append(append(make([]int32, 0, len(l.ids)+1), l.ids...), int32(id))
	next.lists[to] = &list{tab: tab, ids: ids}
	next.n++
	x.st.Store(next)
	x.setWhere(id, int64(to)<<32|int64(len(ids)-1))
	return nil
}

// Remove takes id out of the index. An id the index does not hold is an
// error wrapping ErrNotFound.
func (x *IVF) Remove(id int) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if id < 0 || id >= len(x.where) || x.where[id] == noWhere {
		return fmt.Errorf("index: Remove(%d): %w", id, ErrNotFound)
	}
	st := x.st.Load()
	next := &ivfState{cent: st.cent, assn: st.assn, lists: append([]*list(nil), st.lists...), n: st.n}
	if err := next.remove(x, id); err != nil {
		return err
	}
	x.st.Store(next)
	return nil
}

// remove takes id out of next's lists (next is not published yet) and
// updates x.where: the last row of the list takes the removed row's place.
func (next *ivfState) remove(x *IVF, id int) error {
	w := x.where[id]
	j, r := int(w>>32), int(w&0xffffffff)
	l := next.lists[j]
	tab, err := l.tab.Delete(r)
	if err != nil {
		return err
	}
	ids := append(make([]int32, 0, len(l.ids)), l.ids...)
	last := len(ids) - 1
	if r != last {
		ids[r] = ids[last]
		x.where[ids[r]] = int64(j)<<32 | int64(r)
	}
	next.lists[j] = &list{tab: tab, ids: ids[:last]}
	next.n--
	x.where[id] = noWhere
	return nil
}
