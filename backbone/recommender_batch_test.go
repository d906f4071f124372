package backbone

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// TopKBatch is TopK for every user, bit for bit, with and without
// exclusions, over chunk boundaries (more users than a chunk, a partial
// group of users) and for a user's own ItemScorer.
func TestTopKBatchMatchesTopK(t *testing.T) {
	for _, kind := range []string{"sasrec", "gru4rec", "bert4rec"} {
		t.Run(kind, func(t *testing.T) {
			r := NewRecommender(smallModel(t, kind, 70))
			rng := rand.New(rand.NewPCG(5, uint64(len(kind))))
			hists := synthSeqs(rng, batchUsers+7, 70, 1, 25)
			for _, k := range []int{1, 10, 80} {
				for _, ex := range [][][]int{nil, hists} {
					got, err := r.TopKBatch(hists, k, ex)
					require.NoError(t, err)
					require.Len(t, got, len(hists))
					for u, h := range hists {
						var e []int
						if ex != nil {
							e = ex[u]
						}
						want, err := r.TopK(h, k, e)
						require.NoError(t, err)
						require.Equal(t, want, got[u], "user %d k %d", u, k)
					}
				}
			}
		})
	}
	r := NewRecommenderFor(modModel{n: 10})
	got, err := r.TopKBatch([][]int{{1, 2}, {1}}, 4, [][]int{{6, 0, 99, -1}, nil})
	require.NoError(t, err)
	require.Equal(t, [][]Scored{{{5, 5}, {4, 4}, {3, 3}, {10, 3}}, {{6, 6}, {5, 5}, {4, 4}, {3, 3}}}, got)
}

func TestTopKBatchErrors(t *testing.T) {
	r := NewRecommender(smallModel(t, "sasrec", 30))
	_, err := r.TopKBatch([][]int{{1}, {}}, 3, nil)
	require.ErrorIs(t, err, ErrEmptyHistory)
	require.ErrorContains(t, err, "history 1")
	_, err = r.TopKBatch([][]int{{1}, {31}}, 3, nil)
	require.ErrorIs(t, err, ErrItemOutOfRange)
	_, err = r.TopKBatch([][]int{{1}, {2}}, 3, [][]int{{1}})
	require.ErrorContains(t, err, "2 histories, 1 exclusion lists")
	for _, k := range []int{0, -1} {
		// k < 1 is the caller's bug, not an empty answer (issue 21)
		got, err := r.TopKBatch([][]int{{1}, {2}}, k, nil)
		require.ErrorIs(t, err, ErrBadK, "k=%d", k)
		require.Nil(t, got)
	}
}

// poisoned returns a small SASRec Recommender whose item vector of item
// 4 holds v (NaN or ±Inf, as a model after a diverged training would).
func poisoned(t *testing.T, v float32) *Recommender {
	m := smallModel(t, "sasrec", 20)
	m.Items.(*IDTable).W.Data.Row(4)[2] = v
	return NewRecommender(m)
}

// Issue 12 row 5: a non-finite score is an error wrapping ErrNonFinite from
// TopK, Score and TopKBatch, never a silently shorter list or a NaN score.
func TestRecommenderNonFiniteScores(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		r := poisoned(t, v)
		// a history without item 4: only item 4's score is broken
		top, err := r.TopK([]int{1, 2}, 5, nil)
		require.ErrorIs(t, err, ErrNonFinite, "%v", v)
		require.ErrorContains(t, err, "item 4")
		require.Nil(t, top)
		s, err := r.Score(nil, []int{1, 2}, []int{3, 4})
		require.ErrorIs(t, err, ErrNonFinite)
		require.Empty(t, s)
		s, err = r.Score(nil, []int{1, 2}, []int{3, 5}) // item 4 not asked for
		require.NoError(t, err)
		require.Len(t, s, 2)
		_, err = r.TopKBatch([][]int{{1}, {2}}, 3, nil)
		require.ErrorIs(t, err, ErrNonFinite)
		// excluding the broken item does not hide the broken model
		_, err = r.TopK([]int{1, 2}, 5, []int{4})
		require.ErrorIs(t, err, ErrNonFinite)
	}
}

// Issue 12 row 10: an empty history is an error wrapping ErrEmptyHistory
// from TopK, AppendTopK and Score (not items 1..k with score 0).
func TestRecommenderEmptyHistory(t *testing.T) {
	for _, r := range []*Recommender{NewRecommender(smallModel(t, "sasrec", 20)), NewRecommenderFor(modModel{n: 10})} {
		top, err := r.TopK(nil, 5, nil)
		require.ErrorIs(t, err, ErrEmptyHistory)
		require.Nil(t, top)
		dst := []Scored{{Item: 1}}
		dst, err = r.AppendTopK(dst, []int{}, 5, nil)
		require.ErrorIs(t, err, ErrEmptyHistory)
		require.Equal(t, []Scored{{Item: 1}}, dst)
		s, err := r.Score(nil, nil, []int{1, 2})
		require.ErrorIs(t, err, ErrEmptyHistory)
		require.Empty(t, s)
	}
}

// beautyHistories returns every Beauty user's test input (train +
// validation item) and the untrained reference-sized SASRec's Recommender.
func beautyHistories(tb testing.TB) (*Recommender, [][]int) {
	split := beauty(tb)
	r := NewRecommender(newBeautySASRec(tb, split, 1))
	hists := make([][]int, 0, len(split.Train))
	for u := range split.Train {
		if h := split.TestInput(u); len(h) > 0 {
			hists = append(hists, h)
		}
	}
	return r, hists
}

// On every Beauty user, TopKBatch's top 10 (history excluded) is what TopK
// returns user by user, bit for bit.
func TestBeautyTopKBatchMatchesTopK(t *testing.T) {
	if testing.Short() {
		t.Skip("scores 22k users twice")
	}
	r, hists := beautyHistories(t)
	got, err := r.TopKBatch(hists, 10, hists)
	require.NoError(t, err)
	buf := make([]Scored, 0, 10)
	for u, h := range hists {
		buf, err = r.AppendTopK(buf[:0], h, 10, h)
		require.NoError(t, err)
		require.Equal(t, buf, got[u], "user %d", u)
	}
}

// BenchmarkTopKBatchBeauty measures the nightly job: top 10 (history
// excluded) for all 22,363 Beauty users with the reference-sized SASRec
// over the 12,101 items, on GOMAXPROCS goroutines. cpu-s/op is the
// process's CPU time per op (wall time / cores when the machine is idle).
func BenchmarkTopKBatchBeauty(b *testing.B) {
	r, hists := beautyHistories(b)
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		if _, err := r.TopKBatch(hists, 10, hists); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(len(hists)), "users/op")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(n), "cpu-s/op")
}

// synthBig returns a Recommender over numItems random item vectors of width
// 64 (a reference-sized SASRec encoder) and random histories.
func synthBig(tb testing.TB, numItems int) (*Recommender, [][]int) {
	rng := rand.New(rand.NewPCG(9, 9))
	cfg, err := DefaultEncoderConfig(KindSASRec)
	require.NoError(tb, err)
	enc, err := NewSASRec(rng, cfg)
	require.NoError(tb, err)
	tab := make([]float32, (numItems+1)*64)
	for i := 64; i < len(tab); i++ {
		tab[i] = float32(rng.NormFloat64()) * 0.1
	}
	r := NewRecommenderFor(newSeqScorerTable(enc, tensor.FromSlice(tab, numItems+1, 64), false))
	return r, synthSeqs(rng, 256, numItems, 3, 20)
}

// BenchmarkTopK1M measures one user's exact top 10 over a synthetic table
// of 1,000,000 items (d = 64): "single" is TopK per call, "batch256" is
// TopKBatch over 256 users (ns/op is per batch; see ns/user).
func BenchmarkTopK1M(b *testing.B) {
	r, hists := synthBig(b, 1_000_000)
	b.Run("single", func(b *testing.B) {
		buf := make([]Scored, 0, 10)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			h := hists[i%len(hists)]
			buf, _ = r.AppendTopK(buf[:0], h, 10, h)
			i++
		}
	})
	b.Run("batch256", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if _, err := r.TopKBatch(hists, 10, hists); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(hists)), "ns/user")
	})
}

// BenchmarkTopKLatency reports the latency distribution of one Beauty
// user's top 10 (history excluded; the reference-sized SASRec over 12,101
// items): "serial" on one goroutine, "parallel8" with 8 goroutines calling
// at once (2·GOMAXPROCS·... set by SetParallelism so that 8 run on any
// GOMAXPROCS). Metrics: p50, p99 (µs per call) and cpu-µs/op, the
// process's CPU time per call (what the call costs when the machine is
// shared).
func BenchmarkTopKLatency(b *testing.B) {
	r, hists := beautyHistories(b)
	for _, name := range []string{"serial", "parallel8"} {
		b.Run(name, func(b *testing.B) {
			var mu sync.Mutex
			var lat []time.Duration
			call := func(buf []Scored, i int, mine *[]time.Duration) []Scored {
				h := hists[(i*7919)%len(hists)]
				t0 := time.Now()
				buf, err := r.AppendTopK(buf[:0], h, 10, h)
				*mine = append(*mine, time.Since(t0))
				if err != nil {
					b.Error(err)
				}
				return buf
			}
			// warm up every pooled scratch
			for i := range 64 {
				call(nil, i, new([]time.Duration))
			}
			cpu0 := cpuTime()
			b.ReportAllocs()
			b.ResetTimer()
			if name == "serial" {
				buf := make([]Scored, 0, 10)
				mine := make([]time.Duration, 0, 1<<16)
				i := 0
				for b.Loop() {
					buf = call(buf, i, &mine)
					i++
				}
				lat = mine
			} else {
				b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				var seq atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]Scored, 0, 10)
					mine := make([]time.Duration, 0, 1<<14)
					for pb.Next() {
						buf = call(buf, int(seq.Add(1)), &mine)
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
				b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(lat)), "cpu-µs/op")
			}
		})
	}
}
