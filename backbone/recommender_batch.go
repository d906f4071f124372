package backbone

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Batch scoring: the nightly job that recommends for every user at once.
const (
	// batchUsers is the number of users a worker encodes and scores at a
	// time (a multiple of groupH).
	batchUsers = 64
	// batchItems is the number of items scored per pass over a user chunk
	// (a multiple of blockW): 64 users x 2048 items of scores (512 KiB)
	// and 2048 packed item vectors (512 KiB at d = 64) stay in cache.
	batchItems = 2048
)

// TopKBatch returns the k best items for every history of histories (the
// result's element u is TopK(histories[u], k, exclude[u])), bit for bit what
// TopK returns for each user alone. exclude is nil or has one list per
// history. Errors are TopK's, for the first failing history (its index in
// the message); nothing is returned then.
//
// For a SeqModel the users are encoded in packed batches and scored with a
// register-blocked GEMM over the packed item table (every item vector is
// read once per group of users, not once per user), on GOMAXPROCS
// goroutines; any other ItemScorer is called with batches of users. The
// result lists share one backing array.
func (r *Recommender) TopKBatch(histories [][]int, k int, exclude [][]int) ([][]Scored, error) {
	st := r.state.Load()
	if exclude != nil && len(exclude) != len(histories) {
		return nil, fmt.Errorf("backbone: TopKBatch: %d histories, %d exclusion lists", len(histories), len(exclude))
	}
	for u, h := range histories {
		if len(h) == 0 {
			return nil, fmt.Errorf("backbone: TopKBatch: history %d: %w", u, ErrEmptyHistory)
		}
	}
	if err := st.checkInputs(histories); err != nil {
		return nil, fmt.Errorf("backbone: TopKBatch: %w", err)
	}
	if k <= 0 {
		return nil, fmt.Errorf("backbone: TopKBatch: k = %d: %w", k, ErrBadK)
	}
	out := make([][]Scored, len(histories))
	if len(histories) == 0 {
		return out, nil
	}
	k = min(k, st.numItems)
	backing := make([]Scored, 0, len(histories)*k)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errMu   sync.Mutex
		errUser = len(histories)
		firstEr error
	)
	chunks := (len(histories) + batchUsers - 1) / batchUsers
	workers := min(runtime.GOMAXPROCS(0), chunks)
	for range workers {
		wg.Go(func() {
			sc := r.pool.Get().(*recScratch)
			defer r.pool.Put(sc)
			bs := &batchScratch{}
			for {
				c := int(next.Add(1)) - 1
				if c >= chunks {
					return
				}
				lo := c * batchUsers
				hi := min(lo+batchUsers, len(histories))
				var ex [][]int
				if exclude != nil {
					ex = exclude[lo:hi]
				}
				u, err := st.topKChunk(sc, bs, histories[lo:hi], k, ex, backing[lo*k:hi*k], out[lo:hi])
				if err != nil {
					errMu.Lock()
					if lo+u < errUser {
						errUser, firstEr = lo+u, err
					}
					errMu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstEr != nil {
		return nil, fmt.Errorf("backbone: TopKBatch: history %d: %w", errUser, firstEr)
	}
	return out, nil
}

// batchScratch is one TopKBatch worker's memory.
type batchScratch struct {
	scores []float32
	heaps  [][]Scored
}

// topKChunk computes the top k of a chunk of at most batchUsers histories
// into out, each list in its k-element slot of backing. On error it returns
// the index (in the chunk) of the failing user.
func (st *recState) topKChunk(sc *recScratch, bs *batchScratch, hists [][]int, k int, exclude [][]int, backing []Scored, out [][]Scored) (int, error) {
	n, n1 := len(hists), st.numItems+1
	for len(bs.heaps) < n {
		bs.heaps = append(bs.heaps, make([]Scored, 0, k))
	}
	heaps := bs.heaps[:n]
	for u := range heaps {
		heaps[u] = heaps[u][:0]
	}
	if s := st.seq; s != nil {
		if sc.seq == nil {
			sc.seq = s.newScratch()
		}
		s.encode(sc.seq, hists)
		p := s.packed
		d := p.d
		rows := (n + groupH - 1) / groupH * groupH
		h := sc.seq.hid.Data
		if rows > n {
			sc.seq.hpad = growF(sc.seq.hpad, rows*d)
			clear(sc.seq.hpad[n*d:])
			copy(sc.seq.hpad, h[:n*d])
			h = sc.seq.hpad
		}
		bs.scores = growF(bs.scores, rows*batchItems)
		for lo := 0; lo < p.pad; lo += batchItems {
			hi := min(lo+batchItems, p.pad)
			w := hi - lo
			for g := 0; g < rows; g += groupH {
				p.scoreGroup(h[g*d:], lo, hi, bs.scores[g*w:], w)
			}
			for u := range n {
				s := bs.scores[u*w : u*w+min(hi, n1)-lo]
				if u, err := selectChunk(heaps, u, s, lo, k, exclude); err != nil {
					return u, err
				}
			}
		}
	} else {
		// any other model: its own batched full scoring
		bs.scores = growF(bs.scores, n*n1)
		if err := st.model.ScoreItems(hists, nil, bs.scores[:n*n1]); err != nil {
			return 0, err
		}
		for u := range n {
			if u, err := selectChunk(heaps, u, bs.scores[u*n1:(u+1)*n1], 0, k, exclude); err != nil {
				return u, err
			}
		}
	}
	for u := range n {
		out[u] = appendSorted(backing[u*k:u*k:(u+1)*k], heaps[u])
	}
	return 0, nil
}

// selectChunk adds the scores s of items lo..lo+len(s)-1 for user u to
// heaps[u], after checking them and applying the user's exclusions.
func selectChunk(heaps [][]Scored, u int, s []float32, lo, k int, exclude [][]int) (int, error) {
	first := 0
	if lo == 0 {
		first = 1 // the padding item's score is not the model's
	}
	if err := checkScores(s[first:], lo+first); err != nil {
		return u, err
	}
	if lo == 0 {
		s[0] = ninf32
	}
	if exclude != nil {
		for _, it := range exclude[u] {
			if it >= lo && it < lo+len(s) {
				s[it-lo] = ninf32
			}
		}
	}
	heaps[u] = selectTopK(heaps[u], s, lo, k)
	return 0, nil
}
