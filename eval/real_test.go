package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// beautySplit loads Amazon Beauty with the data package and splits it
// leave-one-out.
func beautySplit(tb testing.TB) *data.Split {
	tb.Helper()
	d, err := data.Load(sharedtest.File(tb, "amazon-beauty/Beauty.txt"), data.Options{Format: data.FormatSeq})
	require.NoError(tb, err)
	return data.LeaveOneOut(d)
}

// trainFreq counts training occurrences per item (written here rather than
// taken from data.ItemFrequency so the check below is independent of it).
func trainFreq(sp *data.Split) []int {
	f := make([]int, sp.NumItems+1)
	for _, s := range sp.Train {
		for _, it := range s {
			f[it]++
		}
	}
	return f
}

// TestPopularityBeauty checks the Evaluator's ranks of the popularity
// baseline on Amazon Beauty against a plain single-threaded computation,
// for both protocols and both stages.
func TestPopularityBeauty(t *testing.T) {
	sp := beautySplit(t)
	require.Len(t, sp.Train, 22363)
	require.Equal(t, 12101, sp.NumItems)
	freq := trainFreq(sp)
	pop := NewPopularity(freq)
	users := 0
	if testing.Short() {
		users = 2000
	}
	for _, c := range []struct {
		p     Protocol
		ties  Ties
		users int
	}{{Full, TiesStrict, users}, {Full, TiesPessimistic, 5000}, {Sampled, TiesStrict, users}} {
		p, pess := c.p, c.ties == TiesPessimistic
		if users > 0 {
			c.users = min(c.users, users)
		}
		ev, err := NewEvaluator(sp, Config{Protocol: p, Ties: c.ties, Seed: 42, Users: c.users, Ks: []int{10}})
		require.NoError(t, err)
		if c.users == 0 {
			require.Len(t, ev.Users(), 22363)
		}
		for _, st := range []Stage{Valid, Test} {
			res, err := ev.Evaluate(context.Background(), pop, st)
			require.NoError(t, err)
			var hr, ndcg float64
			hist := make([]bool, sp.NumItems+1)
			for i, u := range res.Users {
				clear(hist)
				for _, it := range sp.Train[u] {
					hist[it] = true
				}
				tgt := sp.Valid[u]
				if st == Test {
					hist[sp.Valid[u]] = true
					tgt = sp.Test[u]
				}
				want := 0
				if p == Full {
					for it := 1; it <= sp.NumItems; it++ {
						if it != tgt && !hist[it] && (freq[it] > freq[tgt] || pess && freq[it] == freq[tgt]) {
							want++
						}
					}
				} else {
					neg, err := ev.Negatives(st, u)
					require.NoError(t, err)
					for _, it := range neg {
						if freq[it] > freq[tgt] {
							want++
						}
					}
				}
				require.Equal(t, want, res.Ranks[i], "%v %s user %d", p, st, u)
				if want < 10 {
					hr++
					ndcg += 1 / math.Log2(float64(want)+2)
				}
			}
			n := float64(len(res.Users))
			gotHR, _ := res.Overall.Get("hr@10")
			gotNDCG, _ := res.Overall.Get("ndcg@10")
			assert.InDelta(t, hr/n, gotHR, 1e-12)
			assert.InDelta(t, ndcg/n, gotNDCG, 1e-12)
			t.Logf("%s %s %s: hr@10 %.4f ndcg@10 %.4f (%d users)", res.Protocol, c.ties, st, gotHR, gotNDCG, len(res.Users))
		}
	}
}

// dotScorer scores items by <user vector, item vector>. It has no encoder:
// the user vector is picked by a hash of the input, which stands in for a
// model's sequence encoder in the benchmark. It is safe for concurrent use.
type dotScorer struct {
	users, items *tensor.Tensor // [U, d], [I+1, d]
	pool         sync.Pool
}

func newDotScorer(rng *rand.Rand, nu, ni, d int) *dotScorer {
	s := &dotScorer{users: tensor.New(nu, d), items: tensor.New(ni+1, d)}
	for _, t := range []*tensor.Tensor{s.users, s.items} {
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64())
		}
	}
	return s
}

func (s *dotScorer) ScoreAll(inputs [][]int, out []float32) error {
	nu, d := s.users.Shape[0], s.users.Shape[1]
	n := s.items.Shape[0]
	if len(out) != len(inputs)*n {
		return fmt.Errorf("dotScorer: out has %d scores, want %d", len(out), len(inputs)*n)
	}
	h, _ := s.pool.Get().(*tensor.Tensor)
	if h == nil || len(h.Data) < len(inputs)*d {
		h = tensor.New(len(inputs), d)
	}
	h = tensor.FromSlice(h.Data[:len(inputs)*d], len(inputs), d)
	for i, in := range inputs {
		x := uint64(len(in))
		for _, it := range in {
			x = x*1000003 + uint64(it)
		}
		copy(h.Data[i*d:(i+1)*d], s.users.Data[int(x%uint64(nu))*d:])
	}
	tensor.MatMul(tensor.FromSlice(out, len(inputs), n), h, s.items, false, true)
	s.pool.Put(h)
	return nil
}

// BenchmarkFullRanking evaluates a d=64 dot-product scorer with full
// ranking (history masked) on every Amazon Beauty user: 22,363 users x
// 12,101 items, test stage, with one worker and with GOMAXPROCS workers. It
// reports the process's CPU seconds per evaluation too (cpu-s/op), which a
// busy shared machine distorts less than wall time.
func BenchmarkFullRanking(b *testing.B) {
	sp := beautySplit(b)
	s := newDotScorer(rand.New(rand.NewPCG(1, 1)), len(sp.Train), sp.NumItems, 64)
	for _, workers := range []int{1, 0} {
		name := "workers=" + strconv.Itoa(workers)
		if workers == 0 {
			name = "workers=GOMAXPROCS"
		}
		b.Run(name, func(b *testing.B) {
			ev, err := NewEvaluator(sp, Config{Workers: workers})
			require.NoError(b, err)
			cpu0 := cpuSeconds()
			for b.Loop() {
				if _, err := ev.Evaluate(context.Background(), s, Test); err != nil {
					b.Fatal(err)
				}
			}
			if cpu0 >= 0 {
				b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
			}
			b.ReportMetric(float64(len(ev.Users())), "users")
		})
	}
}

// BenchmarkSampled is the sampled100 protocol on Beauty with the popularity
// baseline through ScoreCandidates: the cost of drawing the negatives and
// ranking, with a trivial model.
func BenchmarkSampled(b *testing.B) {
	sp := beautySplit(b)
	ev, err := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 42})
	require.NoError(b, err)
	pop := NewPopularity(trainFreq(sp))
	for b.Loop() {
		if _, err := ev.Evaluate(context.Background(), pop, Test); err != nil {
			b.Fatal(err)
		}
	}
}
