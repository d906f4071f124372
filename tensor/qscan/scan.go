package qscan

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
)

// Result is a row (or the id a caller maps it to) with its exact score.
type Result struct {
	// ID is the row index plus the scan's base, or ids[row] (see Scan).
	ID int
	// Score is the exact float32 inner product (see Dot).
	Score float32
}

// Dot is the exact score of the scan: the float32 products h[k]·e[k],
// each rounded, summed in order. It is the arithmetic of
// backbone.Recommender's kernels, so a scan's top-k equals the
// Recommender's exact TopK bit for bit.
func Dot(h, e []float32) float32 {
	var s float32
	e = e[:len(h)]
	for k, v := range h {
		s += float32(v * e[k])
	}
	return s
}

// Bounds (see the package doc). For a query h quantized as h ≈ t·q
// (|q| ≤ 31, |h − t·q| ≤ t/2) and a row e ≈ s·c (|c| ≤ 127, |e − s·c| ≤
// s/2), with D = ⟨q, c⟩ computed exactly in integers,
//
//	|⟨h, e⟩ − t·s·D| ≤ s·‖h‖₁/2 + (t/2)·s·‖c‖₁,
//
// and the float32 score Dot(h, e) is within γ·‖h‖∞·‖e‖₁ ≤ γ·‖h‖∞·127.5·d·s
// of ⟨h, e⟩ (γ ≈ d·2⁻²⁴). Divided by t, an upper bound of the exact score
// is therefore
//
//	ub/t = s·(D + G) + half,  G = ‖h‖₁/(2t) + γ·‖h‖∞·127.5·d/t,
//
// with half = s·‖c‖₁/2 per row. The kernels evaluate it in float32; G is
// inflated by 16·2⁻²⁴·(Dmax + G) and half by 4e-6 relative so that the
// computed value is never below the real one. A row is a candidate when its
// bound reaches the k-th best exact score found so far (divided by t and
// rounded down): every row of the final top-k passes, so re-ranking the
// candidates exactly gives the exact top-k.

// user is the state of one query during a scan.
type user struct {
	h    []float32
	qb   []uint8 // dp codes, offset by qoff
	t    float64
	g    float32
	thr  float32
	k    int
	heap []Result
	excl []int // sorted
	// plant is a deliberate mistake a test sets to check that it notices
	// (1: re-rank the next row, 2: score by the negative squared distance
	// instead of the inner product, 3: the bound's error term with the
	// wrong sign);
	// 0 in every real use.
	plant int
	cands int // rows offered since prepare
	pend  []pending
}

// prepare quantizes h and resets the user for a top-k of k.
func (u *user) prepare(h []float32, d, dp, k int, exclude []int) error {
	if len(h) != d {
		return fmt.Errorf("qscan: query of %d values, want %d: %w", len(h), d, ErrShape)
	}
	if err := checkFinite(h); err != nil {
		return err
	}
	u.h = append(u.h[:0], h...)
	var mx, l1 float64
	for _, v := range h {
		a := math.Abs(float64(v))
		if a > mx {
			mx = a
		}
		l1 += a
	}
	t := mx / qmaxQ
	if t == 0 {
		t = 1
	}
	if cap(u.qb) < dp {
		u.qb = make([]uint8, dp)
	}
	u.qb = u.qb[:dp]
	inv := 1 / t
	for k := range u.qb {
		c := 0
		if k < d {
			// |h/t| ≤ 63 by the choice of t (up to rounding), so the
			// clamp only guards that rounding
			c = min(qmaxQ, max(-qmaxQ, int(math.RoundToEven(float64(h[k])*inv))))
		}
		u.qb[k] = uint8(c + qoff)
	}
	u.t = t
	gamma := 1.01 * float64(d+1) * 0x1p-24
	g := (0.5+1e-9)*l1/t + gamma*mx*127.5*float64(d)/t
	dmax := float64(qmaxQ * qmax * dp)
	u.g = roundUp32(g + 16*0x1p-24*(dmax+g))
	if u.plant == 3 {
		u.g = -u.g
	}
	u.thr = float32(math.Inf(-1))
	u.k = k
	u.heap = u.heap[:0]
	u.cands = 0
	u.excl = append(u.excl[:0], exclude...)
	slices.Sort(u.excl)
	return nil
}

// pending is a row whose bound passed, waiting for its exact score.
type pending struct{ row, id int }

// take scores exactly the rows of tab whose mask bits are set (masks[j]
// is block b0+j) and keeps those among the k best. Rows lo..hi-1 are
// skipped (seed already offered them), and so are excluded ids.
func (u *user) take(tab *Table, b0 int, masks []uint8, lo, hi, base int, ids []int32) {
	u.pend = u.pend[:0]
	for j, mb := range masks {
		for mb != 0 {
			row := (b0+j)*blockItems + bits.TrailingZeros8(mb)
			mb &= mb - 1
			if row >= tab.n {
				break
			}
			if row >= lo && row < hi {
				continue
			}
			u.add(row, rowID(row, base, ids))
		}
	}
	u.score(tab)
}

// seed offers rows lo.. of tab (at most k of them) before the scan, so
// that the threshold is finite from the first block on, and returns the
// end of the rows it offered.
func (u *user) seed(tab *Table, lo, base int, ids []int32) int {
	hi := min(lo+u.k, tab.n)
	u.pend = u.pend[:0]
	for row := lo; row < hi; row++ {
		u.add(row, rowID(row, base, ids))
	}
	u.score(tab)
	return hi
}

// add queues a candidate unless its id is excluded.
func (u *user) add(row, id int) {
	u.cands++
	if len(u.excl) > 0 {
		if _, ok := slices.BinarySearch(u.excl, id); ok {
			return
		}
	}
	u.pend = append(u.pend, pending{row, id})
}

// score scores the queued candidates, four at a time (four independent
// chains of Dot's arithmetic: the same results, a quarter of the
// latency), and keeps the best.
func (u *user) score(tab *Table) {
	d, p := tab.d, u.pend
	if u.plant != 0 {
		for _, c := range p {
			u.push(Result{ID: c.id, Score: u.planted(tab, c.row)})
		}
		return
	}
	i := 0
	for ; i+4 <= len(p); i += 4 {
		r := tab.rows
		s0, s1, s2, s3 := dot4(u.h, r[p[i].row*d:], r[p[i+1].row*d:], r[p[i+2].row*d:], r[p[i+3].row*d:])
		u.push(Result{ID: p[i].id, Score: s0})
		u.push(Result{ID: p[i+1].id, Score: s1})
		u.push(Result{ID: p[i+2].id, Score: s2})
		u.push(Result{ID: p[i+3].id, Score: s3})
	}
	for ; i < len(p); i++ {
		u.push(Result{ID: p[i].id, Score: Dot(u.h, tab.rows[p[i].row*d:(p[i].row+1)*d])})
	}
}

// planted is the exact score with the test's planted mistake.
func (u *user) planted(tab *Table, row int) float32 {
	if u.plant == 1 && row+1 < tab.n {
		row++
	}
	e := tab.rows[row*tab.d : (row+1)*tab.d]
	if u.plant != 2 {
		return Dot(u.h, e)
	}
	var s float32
	for k, v := range e {
		s -= (v - u.h[k]) * (v - u.h[k])
	}
	return s
}

// dot4 is Dot of h with four rows (each at least len(h) long).
func dot4(h, e0, e1, e2, e3 []float32) (s0, s1, s2, s3 float32) {
	n := len(h)
	e0, e1, e2, e3 = e0[:n], e1[:n], e2[:n], e3[:n]
	for k, v := range h {
		s0 += float32(v * e0[k])
		s1 += float32(v * e1[k])
		s2 += float32(v * e2[k])
		s3 += float32(v * e3[k])
	}
	return
}

// push keeps c if it is among the k best and raises the threshold.
func (u *user) push(c Result) {
	hp := u.heap
	if len(hp) < u.k {
		hp = append(hp, c)
		siftUp(hp, len(hp)-1)
	} else if better(c, hp[0]) {
		hp[0] = c
		siftDown(hp, 0)
	} else {
		return
	}
	u.heap = hp
	if len(hp) == u.k {
		u.thr = roundDown32(float64(hp[0].Score) / u.t)
	}
}

// full reports whether the heap holds k results (the threshold is then
// finite and most blocks fail it).
func (u *user) full() bool { return len(u.heap) == u.k }

// results appends the heap, best first, to dst.
func (u *user) results(dst []Result) []Result {
	start := len(dst)
	dst = append(dst, u.heap...)
	out := dst[start:]
	for n := len(out); n > 1; n-- {
		out[0], out[n-1] = out[n-1], out[0]
		siftDown(out[:n-1], 0)
	}
	return dst
}

const (
	// firstChunk and maxChunk bound the blocks one kernel call scores: the
	// threshold is raised between calls, and it starts at -Inf, so the
	// first calls are short.
	firstChunk = groupBlocks
	maxChunk   = 256
)

// Searcher is the working memory of one query at a time over one or more
// tables: Begin, Scan each table, then Append the results. A Searcher is
// not safe for concurrent use; keep one per goroutine (or use
// Table.TopK, which pools them).
type Searcher struct {
	u    user
	mask []uint8
	d    int
}

// Begin starts a top-k query h (len d) that will never return an id of
// exclude. k ≤ 0 returns nothing.
func (s *Searcher) Begin(h []float32, k int, exclude []int) error {
	s.d = len(h)
	return s.u.prepare(h, len(h), (len(h)+7)&^7, max(k, 0), exclude)
}

// Scan offers every row of tab to the query: row r has the id base+r, or
// ids[r] when ids is not nil (len(ids) ≥ tab.Len()).
func (s *Searcher) Scan(tab *Table, base int, ids []int32) {
	u := &s.u
	if tab.n == 0 || u.k == 0 {
		return
	}
	if tab.d != s.d {
		panic(fmt.Errorf("qscan: Scan of a %d-wide table with a %d-wide query: %w", tab.d, s.d, ErrShape))
	}
	// a threshold from earlier tables is strong: long chunks at once; a
	// seeded one is weak: short chunks first, while it rises
	chunk := firstChunk
	if u.full() {
		chunk = maxChunk
	}
	lo, hi := 0, 0
	if len(u.heap) == 0 {
		hi = u.seed(tab, 0, base, ids)
	}
	if cap(s.mask) < maxChunk {
		s.mask = make([]uint8, maxChunk)
	}
	for b0 := 0; b0 < tab.nb; {
		nbc := min(chunk, tab.nb-b0)
		m := s.mask[:nbc]
		scanOne(tab, b0, nbc, u.qb, u.g, u.thr, m)
		u.take(tab, b0, m, lo, hi, base, ids)
		b0 += nbc
		chunk = min(2*chunk, maxChunk)
	}
}

func rowID(row, base int, ids []int32) int {
	if ids != nil {
		return int(ids[row])
	}
	return base + row
}

// Candidates returns the number of rows whose bound passed the threshold
// since Begin: the rows the query scored exactly.
func (s *Searcher) Candidates() int { return s.u.cands }

// Append appends the k best results so far to dst, best first (ties: lower
// id first).
func (s *Searcher) Append(dst []Result) []Result { return s.u.results(dst) }

var searchers = sync.Pool{New: func() any { return new(Searcher) }}

// TopK appends to dst the k rows with the highest exact score Dot(h, row),
// best first (ties: lower row first), skipping the rows of exclude. It
// streams the codes once. It is safe for concurrent use. Errors: a query of
// the wrong length wraps ErrShape, a non-finite one ErrNonFinite (dst is
// then returned unchanged).
func (t *Table) TopK(dst []Result, h []float32, k int, exclude []int) ([]Result, error) {
	s := searchers.Get().(*Searcher)
	defer searchers.Put(s)
	if err := s.Begin(h, k, exclude); err != nil {
		return dst, err
	}
	if len(h) != t.d {
		return dst, fmt.Errorf("qscan: query of %d values, want %d: %w", len(h), t.d, ErrShape)
	}
	s.Scan(t, 0, nil)
	return s.Append(dst), nil
}

// batchUsers is the number of queries one batch kernel call scores.
const batchUsers = 4

// batchChunk is the number of blocks every query of a batch scores before
// the next blocks are read: 64 blocks of 64-wide codes are 32 KB, so the
// codes come from memory once per batch and from the cache for the rest.
const batchChunk = 64

// TopKBatch returns, for every query (rows of hs, Dim wide), what TopK
// returns. Each of up to workers goroutines (0: GOMAXPROCS) scans a part of
// the table for all the queries, a cache-sized chunk at a time, so the
// codes are streamed from memory once per batch; the parts' top-k lists
// are merged at the end. exclude is nil or has one list per query. Errors
// as in TopK (nothing is returned then).
func (t *Table) TopKBatch(hs []float32, k int, exclude [][]int, workers int) ([][]Result, error) {
	d := t.d
	if len(hs)%d != 0 {
		return nil, fmt.Errorf("qscan: %d values are not queries of %d: %w", len(hs), d, ErrShape)
	}
	m := len(hs) / d
	if exclude != nil && len(exclude) != m {
		return nil, fmt.Errorf("qscan: %d exclusion lists for %d queries: %w", len(exclude), m, ErrShape)
	}
	if err := checkFinite(hs); err != nil {
		return nil, err
	}
	out := make([][]Result, m)
	if m == 0 {
		return out, nil
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// the queries, quantized once (every part shares their codes)
	dp := t.dp
	mg := (m + batchUsers - 1) / batchUsers * batchUsers
	proto := make([]user, m)
	qb := make([]uint8, mg*dp)
	for i := range m {
		var ex []int
		if exclude != nil {
			ex = exclude[i]
		}
		// the rows were checked above: prepare cannot fail
		_ = proto[i].prepare(hs[i*d:(i+1)*d], d, dp, max(k, 0), ex)
		copy(qb[i*dp:], proto[i].qb)
	}
	for i := m * dp; i < len(qb); i++ {
		qb[i] = qoff // padding queries: code 0
	}
	// parts of whole groups of blocks, at least a chunk each
	groups := t.nb / groupBlocks
	workers = max(1, min(workers, groups*groupBlocks/batchChunk))
	parts := make([]*batch, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := groups*w/workers*groupBlocks, groups*(w+1)/workers*groupBlocks
		b := &batch{us: make([]user, m), qb: qb}
		for i := range m {
			b.us[i] = proto[i]
			b.us[i].heap, b.us[i].pend = nil, nil // each part its own
		}
		parts[w] = b
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.run(t, lo, hi)
		}()
	}
	wg.Wait()
	for i := range m {
		var all []Result
		for _, b := range parts {
			all = b.us[i].results(all)
		}
		if len(parts) > 1 {
			slices.SortFunc(all, func(a, b Result) int {
				if better(a, b) {
					return -1
				}
				if better(b, a) {
					return 1
				}
				return 0
			})
			all = all[:min(len(all), k)]
		}
		out[i] = all
	}
	return out, nil
}

// batch is the working memory of one goroutine of TopKBatch.
type batch struct {
	us   []user
	qb   []uint8 // the queries' codes, dp apart, padded to whole groups (shared)
	mask []uint8
}

// run offers blocks lo..hi-1 of t to every query.
func (b *batch) run(t *Table, lo, hi int) {
	m := len(b.us)
	if m == 0 || b.us[0].k == 0 || t.n == 0 || lo >= hi {
		return
	}
	dp := t.dp
	// seed every query with the part's first rows: finite thresholds
	// from the first block on
	slo := lo * blockItems
	shi := slo
	for i := range b.us {
		shi = b.us[i].seed(t, slo, 0, nil)
	}
	b.mask = make([]uint8, batchUsers*batchChunk)
	var g, thr [batchUsers]float32
	chunk := groupBlocks // short first chunks: the thresholds rise fast
	for b0 := lo; b0 < hi; {
		nbc := min(chunk, hi-b0)
		for u0 := 0; u0 < m; u0 += batchUsers {
			for i := range batchUsers {
				g[i], thr[i] = 0, float32(math.Inf(1))
				if u0+i < m {
					g[i], thr[i] = b.us[u0+i].g, b.us[u0+i].thr
				}
			}
			scanFour(t, b0, nbc, b.qb[u0*dp:(u0+batchUsers)*dp], &g, &thr, b.mask, batchChunk)
			for i := range min(batchUsers, m-u0) {
				b.us[u0+i].take(t, b0, b.mask[i*batchChunk:i*batchChunk+nbc], slo, shi, 0, nil)
			}
		}
		b0 += nbc
		chunk = min(2*chunk, batchChunk)
	}
}

// better reports whether a ranks before b: a higher score, then a lower id.
func better(a, b Result) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ID < b.ID
}

// The heap keeps the worst result at the root.
func siftUp(h []Result, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []Result, i int) {
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
