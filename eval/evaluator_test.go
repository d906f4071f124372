package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableScorer gives every user the same scores: table[i] for item i. It
// records the inputs it was called with.
type tableScorer struct {
	table  []float32
	mu     sync.Mutex
	inputs [][]int
}

func (s *tableScorer) ScoreAll(inputs [][]int, out []float32) error {
	s.mu.Lock()
	for _, in := range inputs {
		s.inputs = append(s.inputs, slices.Clone(in))
	}
	s.mu.Unlock()
	for i := range inputs {
		copy(out[i*len(s.table):], s.table)
	}
	return nil
}

// tinySplit is a hand-made split with 6 items:
//
//	u0: train 1 2 3, valid 2 (also in its history), test 4
//	u1: train 5,     valid 6, test 1
//	u2: train 1 2,   no held-out item (not evaluated)
func tinySplit() *data.Split {
	return &data.Split{
		NumItems: 6,
		Train:    [][]int{{1, 2, 3}, {5}, {1, 2}},
		Valid:    []int{2, 6, 0},
		Test:     []int{4, 1, 0},
	}
}

func evaluate(t *testing.T, sp *data.Split, cfg Config, s Scorer, st Stage) *Result {
	t.Helper()
	ev, err := NewEvaluator(sp, cfg)
	require.NoError(t, err)
	res, err := ev.Evaluate(context.Background(), s, st)
	require.NoError(t, err)
	return res
}

func TestFullRankingMasking(t *testing.T) {
	// Item 0 (padding) scores highest: it must never count.
	sc := &tableScorer{table: []float32{100, 6, 5, 4, 3, 2, 1}}
	sp := tinySplit()

	// valid, u0: history {1,2,3}, target 2 kept; candidates 2,4,5,6 ->
	// scores 5,3,2,1 -> rank 0. u1: history {5}, target 6 (score 1);
	// candidates 1,2,3,4,6 -> 4 items higher -> rank 4.
	res := evaluate(t, sp, Config{Ks: []int{1, 5}}, sc, Valid)
	assert.Equal(t, []int{0, 1}, res.Users)
	assert.Equal(t, []int{0, 4}, res.Ranks)
	assert.Equal(t, 2, res.Overall.Count)
	hr1, _ := res.Overall.Get("hr@1")
	assert.Equal(t, 0.5, hr1)
	ndcg5, _ := res.Overall.Get("ndcg@5")
	assert.InDelta(t, (1+1/math.Log2(6))/2, ndcg5, 1e-12)
	mrr5, _ := res.Overall.Get("mrr@5")
	assert.InDelta(t, (1+0.2)/2, mrr5, 1e-12)
	// inputs are the whole train sequences.
	assert.ElementsMatch(t, [][]int{{1, 2, 3}, {5}}, sc.inputs)

	// MaskTarget: u0's target 2 is in its history, so it can never hit.
	res = evaluate(t, sp, Config{Ks: []int{1, 5}, MaskTarget: true}, sc, Valid)
	assert.Equal(t, []int{6, 4}, res.Ranks)
	hr5, _ := res.Overall.Get("hr@5")
	assert.Equal(t, 0.5, hr5)

	// test, u0: input 1 2 3 2, history {1,2,3}, target 4 -> candidates 4,5,6
	// -> rank 0. u1: input 5 6, target 1 -> rank 0.
	sc.inputs = nil
	res = evaluate(t, sp, Config{}, sc, Test)
	assert.Equal(t, []int{0, 0}, res.Ranks)
	assert.ElementsMatch(t, [][]int{{1, 2, 3, 2}, {5, 6}}, sc.inputs)
}

func TestFullRankingTies(t *testing.T) {
	// Items 4 and 6 tie at 1. valid u1: target 6, candidates 1,2,3,4,6 with
	// scores 6,5,4,1,1: strict rank 3, pessimistic 4.
	sc := &tableScorer{table: []float32{0, 6, 5, 4, 1, 2, 1}}
	res := evaluate(t, tinySplit(), Config{}, sc, Valid)
	assert.Equal(t, 3, res.Ranks[1])
	res = evaluate(t, tinySplit(), Config{Ties: TiesPessimistic}, sc, Valid)
	assert.Equal(t, 4, res.Ranks[1])
	// A constant scorer: every item ties with the target.
	flat := &tableScorer{table: []float32{1, 1, 1, 1, 1, 1, 1}}
	res = evaluate(t, tinySplit(), Config{}, flat, Test)
	assert.Equal(t, []int{0, 0}, res.Ranks)
	// test u0: candidates 4,5,6 -> 2 others tie; u1: candidates 1,2,3,4 -> 3.
	res = evaluate(t, tinySplit(), Config{Ties: TiesPessimistic}, flat, Test)
	assert.Equal(t, []int{2, 3}, res.Ranks)
}

func TestGroupsAndEmptyBuckets(t *testing.T) {
	sc := &tableScorer{table: []float32{0, 6, 5, 4, 3, 2, 1}}
	bins := []int{0, 1, 1, 2, 2, 3, 3} // item -> bin; test targets 4 (bin 2) and 1 (bin 1)
	pop := []int{0, 9, 9, 1, 1, 1, 1}
	res := evaluate(t, tinySplit(), Config{Ks: []int{1, 10}, Groups: []Grouping{
		PopularityBins(bins), TailItems(pop, 5), TailUsers(3),
		{Name: "none", Labels: []string{"x"}, Assign: func(Case) int { return -1 }},
	}}, sc, Test)
	require.Len(t, res.Groups, 4)
	pb := res.Groups[0]
	require.Equal(t, []string{"1", "2", "3"}, []string{pb.Buckets[0].Label, pb.Buckets[1].Label, pb.Buckets[2].Label})
	assert.Equal(t, 1, pb.Buckets[0].Count)
	assert.Equal(t, 1, pb.Buckets[1].Count)
	assert.Equal(t, 0, pb.Buckets[2].Count) // empty bin: count 0, no NaN
	for _, v := range append(append(pb.Buckets[2].HR, pb.Buckets[2].NDCG...), pb.Buckets[2].MRR...) {
		assert.Equal(t, 0.0, v)
	}
	// items: target 4 has pop 1 -> tail; target 1 has pop 9 -> head.
	assert.Equal(t, 1, res.Groups[1].Buckets[0].Count)
	assert.Equal(t, 1, res.Groups[1].Buckets[1].Count)
	// users: test inputs have lengths 4 and 2 -> one tail (<3), one head.
	assert.Equal(t, 1, res.Groups[2].Buckets[0].Count)
	assert.Equal(t, 1, res.Groups[2].Buckets[1].Count)
	assert.Equal(t, 0, res.Groups[3].Buckets[0].Count)

	js, err := json.Marshal(res)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(js, &back))
	ov := back["overall"].(map[string]any)
	assert.Equal(t, 1.0, ov["hr@10"])
	assert.Equal(t, 2.0, ov["count"])
	g := back["groups"].(map[string]any)["pop_bin"].(map[string]any)["3"].(map[string]any)
	assert.Equal(t, 0.0, g["count"])
	assert.Equal(t, 0.0, g["ndcg@10"])
	assert.NotContains(t, string(js), "NaN")
	tab := res.String()
	assert.Contains(t, tab, "pop_bin")
	assert.Contains(t, tab, "ndcg@10")
	assert.Equal(t, 1+1+3+2+2+1, strings.Count(tab, "\n"))

	// A bucket index out of range is an error.
	ev, err := NewEvaluator(tinySplit(), Config{Groups: []Grouping{PopularityBins([]int{0, 1})}})
	require.NoError(t, err)
	_, err = ev.Evaluate(context.Background(), sc, Test)
	require.ErrorContains(t, err, "pop_bin")
}

func TestRanges(t *testing.T) {
	g := Ranges("len", []int{5, 10}, func(c Case) int { return len(c.Input) })
	assert.Equal(t, []string{"<5", "5-9", ">=10"}, g.Labels)
	for n, want := range map[int]int{0: 0, 4: 0, 5: 1, 9: 1, 10: 2, 200: 2} {
		assert.Equal(t, want, g.Assign(Case{Input: make([]int, n)}), "len %d", n)
	}
}

func TestNewEvaluatorErrors(t *testing.T) {
	sp := tinySplit()
	sp.Train[1] = []int{5, 7}
	_, err := NewEvaluator(sp, Config{})
	require.ErrorContains(t, err, "user 1: train item 7")
	sp = tinySplit()
	sp.Test[0] = 99
	_, err = NewEvaluator(sp, Config{})
	require.ErrorContains(t, err, "user 0: test item 99")
	_, err = NewEvaluator(nil, Config{})
	require.Error(t, err)
	_, err = NewEvaluator(tinySplit(), Config{Ks: []int{0}})
	require.Error(t, err)
}

type errScorer struct{}

func (errScorer) ScoreAll([][]int, []float32) error { return errors.New("boom") }

func TestScorerErrorsAndNaN(t *testing.T) {
	ev, err := NewEvaluator(tinySplit(), Config{})
	require.NoError(t, err)
	_, err = ev.Evaluate(context.Background(), errScorer{}, Valid)
	require.ErrorContains(t, err, "boom")
	nan := float32(math.NaN())
	_, err = ev.Evaluate(context.Background(), &tableScorer{table: []float32{0, 1, 2, 3, nan, 5, 6}}, Test)
	require.ErrorContains(t, err, "NaN")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ev.Evaluate(ctx, &tableScorer{table: make([]float32, 7)}, Test)
	require.ErrorIs(t, err, context.Canceled)
}

func TestParseProtocol(t *testing.T) {
	p, n, err := ParseProtocol("sampled100")
	require.NoError(t, err)
	assert.Equal(t, Sampled, p)
	assert.Equal(t, 100, n)
	p, n, err = ParseProtocol("full")
	require.NoError(t, err)
	assert.Equal(t, Full, p)
	assert.Equal(t, 0, n)
	_, _, err = ParseProtocol("sampled0")
	require.Error(t, err)
	_, _, err = ParseProtocol("topk")
	require.Error(t, err)
}

// randomSplit builds a leave-one-out split of nu users over ni items with
// random sequences of 3..maxLen distinct-or-not items.
func randomSplit(rng *rand.Rand, nu, ni, maxLen int) *data.Split {
	sp := &data.Split{NumItems: ni}
	for range nu {
		n := 1 + rng.IntN(maxLen)
		seq := make([]int, n)
		for j := range seq {
			seq[j] = 1 + rng.IntN(ni)
		}
		if n < 3 {
			sp.Train = append(sp.Train, seq)
			sp.Valid = append(sp.Valid, 0)
			sp.Test = append(sp.Test, 0)
			continue
		}
		sp.Train = append(sp.Train, seq[:n-2])
		sp.Valid = append(sp.Valid, seq[n-2])
		sp.Test = append(sp.Test, seq[n-1])
	}
	return sp
}

// hashScorer scores item j for an input by a hash of (input, j): a
// deterministic, user-dependent scorer. It has no ScoreCandidates.
type hashScorer struct{ ni int }

func (h hashScorer) score(in []int, j int) float32 {
	x := uint64(j) * 0x9e3779b97f4a7c15
	for _, it := range in {
		x = (x ^ uint64(it)) * 0xbf58476d1ce4e5b9
	}
	return float32(mix64(x)%1000) / 1000 // coarse: produces ties
}

func (h hashScorer) ScoreAll(inputs [][]int, out []float32) error {
	row := h.ni + 1
	for i, in := range inputs {
		for j := range row {
			out[i*row+j] = h.score(in, j)
		}
	}
	return nil
}

// candHashScorer is hashScorer with ScoreCandidates.
type candHashScorer struct{ hashScorer }

func (h candHashScorer) ScoreCandidates(inputs, cands [][]int, out []float32) error {
	o := 0
	for i, cs := range cands {
		for _, j := range cs {
			out[o] = h.score(inputs[i], j)
			o++
		}
	}
	return nil
}

func TestSampledNegatives(t *testing.T) {
	sp := randomSplit(rand.New(rand.NewPCG(1, 2)), 300, 50, 12)
	ev, err := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 7})
	require.NoError(t, err)
	dups := 0
	for _, u := range ev.Users() {
		seen := map[int]bool{sp.Valid[u]: true, sp.Test[u]: true}
		for _, it := range sp.Train[u] {
			seen[it] = true
		}
		for _, st := range []Stage{Valid, Test} {
			neg, err := ev.Negatives(st, u)
			require.NoError(t, err)
			require.Len(t, neg, 100)
			distinct := map[int]bool{}
			for _, it := range neg {
				require.False(t, seen[it], "user %d: negative %d is in the user's sequence", u, it)
				require.True(t, it >= 1 && it <= 50)
				distinct[it] = true
			}
			dups += len(neg) - len(distinct)
			again, _ := ev.Negatives(st, u)
			require.Equal(t, neg, again)
		}
	}
	assert.Positive(t, dups, "independent draws of 100 among < 50 items must repeat")

	// Same seed, new evaluator: same negatives; another seed: different.
	ev2, _ := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 7})
	ev3, _ := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 8})
	u := ev.Users()[0]
	a, _ := ev.Negatives(Test, u)
	b, _ := ev2.Negatives(Test, u)
	c, _ := ev3.Negatives(Test, u)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)

	// Without repeats (random_neq).
	evu, err := NewEvaluator(sp, Config{Protocol: Sampled, Negatives: 20, UniqueNegatives: true, Seed: 7})
	require.NoError(t, err)
	for _, u := range evu.Users() {
		neg, err := evu.Negatives(Valid, u)
		require.NoError(t, err)
		s := slices.Clone(neg)
		slices.Sort(s)
		require.Len(t, slices.Compact(s), 20)
	}
	// Too many unique negatives for the catalogue: an error naming the user.
	evbad, err := NewEvaluator(sp, Config{Protocol: Sampled, Negatives: 49, UniqueNegatives: true})
	require.NoError(t, err)
	_, err = evbad.Evaluate(context.Background(), hashScorer{50}, Test)
	require.ErrorContains(t, err, "cannot draw")
}

func TestSampledRanksByHand(t *testing.T) {
	sp := randomSplit(rand.New(rand.NewPCG(3, 4)), 200, 80, 15)
	h := hashScorer{80}
	for _, ties := range []Ties{TiesStrict, TiesPessimistic} {
		ev, err := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 11, Ties: ties})
		require.NoError(t, err)
		for _, st := range []Stage{Valid, Test} {
			res, err := ev.Evaluate(context.Background(), h, st)
			require.NoError(t, err)
			res2, err := ev.Evaluate(context.Background(), candHashScorer{h}, st)
			require.NoError(t, err)
			assert.Equal(t, res.Ranks, res2.Ranks, "ScoreAll fallback and ScoreCandidates disagree")
			var hr10 float64
			for i, u := range res.Users {
				in, tgt := sp.Train[u], sp.Valid[u]
				if st == Test {
					in, tgt = append(slices.Clone(sp.Train[u]), sp.Valid[u]), sp.Test[u]
				}
				neg, _ := ev.Negatives(st, u)
				ts := float64(h.score(in, tgt))
				want := 0
				for _, n := range neg {
					v := float64(h.score(in, n))
					if v > ts || (ties == TiesPessimistic && v == ts) {
						want++
					}
				}
				require.Equal(t, want, res.Ranks[i], "user %d", u)
				if want < 10 {
					hr10++
				}
			}
			got, _ := res.Overall.Get("hr@10")
			assert.InDelta(t, hr10/float64(len(res.Users)), got, 1e-12)
		}
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	sp := randomSplit(rand.New(rand.NewPCG(5, 6)), 500, 120, 20)
	for _, p := range []Protocol{Full, Sampled} {
		var first *Result
		for _, cfg := range []Config{{Workers: 1, Batch: 500}, {Workers: 4, Batch: 7}, {Workers: 3, Batch: 64}, {}} {
			cfg.Protocol, cfg.Seed = p, 99
			res := evaluate(t, sp, cfg, candHashScorer{hashScorer{120}}, Test)
			if first == nil {
				first = res
				continue
			}
			assert.Equal(t, first.Ranks, res.Ranks)
			assert.Equal(t, first.Overall, res.Overall)
		}
	}
}

func TestUserSubset(t *testing.T) {
	sp := randomSplit(rand.New(rand.NewPCG(8, 9)), 400, 60, 10)
	all, err := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 3})
	require.NoError(t, err)
	a, _ := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 3, Users: 50})
	b, _ := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 3, Users: 50})
	c, _ := NewEvaluator(sp, Config{Protocol: Sampled, Seed: 4, Users: 50})
	require.Len(t, a.Users(), 50)
	assert.Equal(t, a.Users(), b.Users())
	assert.NotEqual(t, a.Users(), c.Users())
	assert.True(t, slices.IsSorted(a.Users()))
	full := all.Users()
	for _, u := range a.Users() {
		_, ok := slices.BinarySearch(full, u)
		require.True(t, ok)
		x, _ := a.Negatives(Valid, u)
		y, _ := all.Negatives(Valid, u)
		require.Equal(t, y, x, "negatives must not depend on the subset")
	}
	// The subset's ranks equal the full evaluation's ranks for those users.
	h := hashScorer{60}
	ra, err := a.Evaluate(context.Background(), h, Valid)
	require.NoError(t, err)
	rall, err := all.Evaluate(context.Background(), h, Valid)
	require.NoError(t, err)
	for i, u := range ra.Users {
		j, _ := slices.BinarySearch(rall.Users, u)
		require.Equal(t, rall.Ranks[j], ra.Ranks[i])
	}
}

// TestFullRankingRandom compares full-ranking ranks with a naive count on
// random splits (repeated history items, targets inside the history) and a
// scorer with many ties, for both tie rules and both target-mask rules.
func TestFullRankingRandom(t *testing.T) {
	const ni = 37 // not a multiple of 4: exercises the kernel's tail
	sp := randomSplit(rand.New(rand.NewPCG(10, 11)), 300, ni, 25)
	h := hashScorer{ni}
	for _, ties := range []Ties{TiesStrict, TiesPessimistic} {
		for _, maskTarget := range []bool{false, true} {
			ev, err := NewEvaluator(sp, Config{Ties: ties, MaskTarget: maskTarget, Batch: 16})
			require.NoError(t, err)
			for _, st := range []Stage{Valid, Test} {
				res, err := ev.Evaluate(context.Background(), h, st)
				require.NoError(t, err)
				inHist := 0
				for i, u := range res.Users {
					in, tgt := sp.Train[u], sp.Valid[u]
					if st == Test {
						in, tgt = append(slices.Clone(sp.Train[u]), sp.Valid[u]), sp.Test[u]
					}
					want := 0
					if slices.Contains(in, tgt) {
						inHist++
					}
					if maskTarget && slices.Contains(in, tgt) {
						want = ni
					} else {
						ts := h.score(in, tgt)
						for it := 1; it <= ni; it++ {
							if it == tgt || slices.Contains(in, it) {
								continue
							}
							v := h.score(in, it)
							if v > ts || (ties == TiesPessimistic && v == ts) {
								want++
							}
						}
					}
					require.Equal(t, want, res.Ranks[i], "ties %s mask %v %s user %d", ties, maskTarget, st, u)
				}
				require.Positive(t, inHist, "the random split should have targets inside the history")
			}
		}
	}
}

func TestPopularityScorerErrors(t *testing.T) {
	p := NewPopularity([]int{0, 3, 1})
	require.Error(t, p.ScoreAll([][]int{{1}}, make([]float32, 2)))
	require.Error(t, p.ScoreCandidates([][]int{{1}}, [][]int{{1, 5}}, make([]float32, 2)))
	require.Error(t, p.ScoreCandidates([][]int{{1}}, [][]int{{1, 2}}, make([]float32, 3)))
	out := make([]float32, 2)
	require.NoError(t, p.ScoreCandidates([][]int{{1}}, [][]int{{2, 1}}, out))
	assert.Equal(t, []float32{1, 3}, out)
}
