package backbone

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

func smallModel(t testing.TB, kind string, items int) *SeqModel {
	rng := rand.New(rand.NewPCG(21, 22))
	cfg, cerr := DefaultEncoderConfig(EncoderKind(kind))
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads = 16, 10, 2, 2
	enc, err := NewEncoder(rng, cfg)
	require.NoError(t, err)
	m, err := NewSeqModel(enc, NewIDTable(rng, items, 16), ModelConfig{})
	require.NoError(t, err)
	// a few steps so that the weights are not just the initialization
	_, err = Train(context.Background(), m, synthSeqs(rng, 64, items, 2, 14), TrainConfig{Epochs: 2, BatchSize: 16}, TrainOptions{KeepLast: true})
	require.NoError(t, err)
	return m
}

// naiveTopK scores every item with Score and sorts.
func naiveTopK(t *testing.T, r *Recommender, hist []int, k int, exclude []int) []Scored {
	all := make([]int, r.NumItems())
	for i := range all {
		all[i] = i + 1
	}
	s, err := r.Score(nil, hist, all)
	require.NoError(t, err)
	var c []Scored
	for i, v := range s {
		if !slices.Contains(exclude, i+1) {
			c = append(c, Scored{Item: i + 1, Score: v})
		}
	}
	sort.SliceStable(c, func(a, b int) bool { return c[a].Score > c[b].Score })
	return c[:min(k, len(c))]
}

func TestRecommenderTopKMatchesSort(t *testing.T) {
	for _, kind := range []string{"sasrec", "gru4rec", "bert4rec"} {
		t.Run(kind, func(t *testing.T) {
			m := smallModel(t, kind, 50)
			r := NewRecommender(m)
			hist := []int{3, 9, 27, 4, 4, 17}
			for _, k := range []int{1, 5, 50, 80} {
				got, err := r.TopK(hist, k, hist)
				require.NoError(t, err)
				want := naiveTopK(t, r, hist, k, hist)
				require.Equal(t, want, got, "k=%d", k)
				for _, g := range got {
					require.NotContains(t, hist, g.Item)
				}
			}
			for _, k := range []int{0, -3} {
				// k < 1 is an error, not an empty list (issue 21)
				got, err := r.TopK(hist, k, nil)
				require.ErrorIs(t, err, ErrBadK, "k=%d", k)
				require.Empty(t, got)
				dst := []Scored{{Item: 7}}
				got, err = r.AppendTopK(dst, hist, k, nil)
				require.ErrorIs(t, err, ErrBadK)
				require.Equal(t, dst, got, "dst unchanged on error")
			}
			_, err := r.TopK([]int{51}, 3, nil)
			require.ErrorContains(t, err, "item id 51 outside 1..50")
			// a long history is cut to the window: only the last MaxLen items matter
			long := append(slices.Repeat([]int{1}, 30), hist...)
			cut := long[len(long)-m.Enc.MaxLen():]
			a, _ := r.Score(nil, long, []int{1, 2, 3})
			b, _ := r.Score(nil, cut, []int{1, 2, 3})
			require.Equal(t, a, b)
		})
	}
}

// The scores of a user do not depend on the other users of the batch (packed
// batches isolate sequences), and ScoreAll, ScoreCandidates and Score agree.
func TestRecommenderBatchIsolation(t *testing.T) {
	m := smallModel(t, "sasrec", 40)
	r := NewRecommender(m)
	inputs := [][]int{{1, 2, 3}, {5}, {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, {}}
	n1 := r.NumItems() + 1
	all := make([]float32, len(inputs)*n1)
	require.NoError(t, r.ScoreAll(inputs, all))
	cands := [][]int{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
	cs := make([]float32, 8)
	require.NoError(t, r.ScoreCandidates(inputs, cands, cs))
	for i, in := range inputs {
		alone := make([]float32, n1)
		require.NoError(t, r.ScoreAll([][]int{in}, alone))
		require.InDeltaSlice(t, alone, all[i*n1:(i+1)*n1], 1e-5, "input %d", i)
		one, err := r.Score(nil, in, cands[i])
		if len(in) == 0 { // ScoreAll's zero state is for evaluation only
			require.ErrorIs(t, err, ErrEmptyHistory)
			require.Equal(t, []float32{0, 0}, cs[2*i:2*i+2])
			continue
		}
		require.NoError(t, err)
		require.InDeltaSlice(t, one, cs[2*i:2*i+2], 1e-5)
	}
}

func TestRecommenderConcurrent(t *testing.T) {
	m := smallModel(t, "sasrec", 60)
	r := NewRecommender(m)
	rng := rand.New(rand.NewPCG(3, 3))
	hists := make([][]int, 16)
	want := make([][]Scored, len(hists))
	for i := range hists {
		hists[i] = synthSeqs(rng, 1, 60, 1, 20)[0]
		w, err := r.TopK(hists[i], 10, hists[i])
		require.NoError(t, err)
		want[i] = w
	}
	const calls = 1000
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			var buf []Scored
			for c := 0; c < calls; c++ {
				i := (g*7 + c) % len(hists)
				var err error
				buf, err = r.AppendTopK(buf[:0], hists[i], 10, hists[i])
				if err != nil {
					errs <- err
					return
				}
				if !slices.Equal(buf, want[i]) {
					errs <- errMismatch
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

var errMismatch = &mismatchError{}

type mismatchError struct{}

func (*mismatchError) Error() string { return "concurrent TopK differs from the serial result" }

func TestRecommenderNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := NewRecommender(smallModel(t, "sasrec", 60))
	hist := []int{1, 2, 3, 4, 5}
	buf := make([]Scored, 0, 10)
	scores := make([]float32, 0, 3)
	allocs := testing.AllocsPerRun(200, func() {
		buf, _ = r.AppendTopK(buf[:0], hist, 10, hist)
		scores, _ = r.Score(scores[:0], hist, []int{1, 2, 3})
	})
	require.Zero(t, allocs)
}

func TestSaveLoadBitIdentical(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range []string{"sasrec", "gru4rec", "bert4rec"} {
		m := smallModel(t, kind, 30)
		path := filepath.Join(dir, kind+".safetensors")
		require.NoError(t, m.Save(path))
		require.FileExists(t, JSONPath(path))
		r2, err := LoadRecommender(path)
		require.NoError(t, err)
		r1 := NewRecommender(m)
		inputs := [][]int{{1, 2, 3}, {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}}
		a := make([]float32, 2*31)
		b := make([]float32, 2*31)
		require.NoError(t, r1.ScoreAll(inputs, a))
		require.NoError(t, r2.ScoreAll(inputs, b))
		require.Equal(t, a, b, kind) // bit-identical
	}
}

func TestSaveLoadComposedTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	llm := tensor.New(31, 12)
	for i := range llm.Data[12:] {
		llm.Data[12+i] = float32(rng.NormFloat64())
	}
	ad, err := NewAdapterTable(rng, llm, 8, []int{10}, nn.GELU)
	require.NoError(t, err)
	cat, err := NewConcatTable(NewIDTable(rng, 30, 8), ad)
	require.NoError(t, err)
	items := NewNormalizedTable(cat, 2, true)
	cfg, cerr := DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks = 16, 8, 1
	enc, err := NewSASRec(rng, cfg)
	require.NoError(t, err)
	m, err := NewSeqModel(enc, items, ModelConfig{})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, m.Save(path))
	m2, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, m.Config(), m2.Config())
	a, _ := NewRecommender(m).Score(nil, []int{1, 2}, []int{3, 4, 5})
	b, _ := NewRecommender(m2).Score(nil, []int{1, 2}, []int{3, 4, 5})
	require.Equal(t, a, b)
}

// modModel is an ItemScorer with scores known by hand: item i scores
// i mod 7, plus the history's length when cands are given (so that Score
// and ScoreCandidates can be told from ScoreAll). It checks the contract the
// Recommender promises (valid ids, exact output sizes) and fails on the
// history {13}.
type modModel struct{ n int }

func (m modModel) NumItems() int { return m.n }

func (m modModel) ScoreItems(inputs, cands [][]int, out []float32) error {
	want := 0
	for i, in := range inputs {
		if slices.Equal(in, []int{13}) {
			return errModel
		}
		for _, it := range in {
			if it < 1 || it > m.n {
				panic("modModel: invalid history id reached the model")
			}
		}
		if cands == nil {
			want += m.n + 1
			continue
		}
		for _, it := range cands[i] {
			if it < 0 || it > m.n {
				panic("modModel: invalid candidate reached the model")
			}
		}
		want += len(cands[i])
	}
	if len(out) != want || (cands != nil && len(cands) != len(inputs)) {
		panic("modModel: wrong output size")
	}
	off := 0
	for i, in := range inputs {
		if cands == nil {
			for it := 0; it <= m.n; it++ {
				out[off+it] = float32(it % 7)
			}
			off += m.n + 1
			continue
		}
		for j, it := range cands[i] {
			out[off+j] = float32(it%7) + float32(len(in))
		}
		off += len(cands[i])
	}
	return nil
}

var errModel = &modelError{}

type modelError struct{}

func (*modelError) Error() string { return "modModel: refused" }

// A Recommender over a user's own ItemScorer: the top-k, exclusion, tie
// order and id checks are the SeqModel's, and the model only ever sees
// valid arguments.
func TestRecommenderForItemScorer(t *testing.T) {
	r := NewRecommenderFor(modModel{n: 10})
	require.Equal(t, 10, r.NumItems())
	require.Nil(t, r.ItemVectors())
	require.Equal(t, modModel{n: 10}, r.Model())
	// scores 1..6,0,1,2,3 for items 1..10; 6 excluded; ties: lower id first
	got, err := r.TopK([]int{1, 2}, 4, []int{6, 0, 99, -1})
	require.NoError(t, err)
	require.Equal(t, []Scored{{5, 5}, {4, 4}, {3, 3}, {10, 3}}, got)
	// k beyond the items left: all of them, item 7 (score 0) last
	got, err = r.TopK([]int{1}, 50, []int{1, 2, 3})
	require.NoError(t, err)
	require.Equal(t, []Scored{{6, 6}, {5, 5}, {4, 4}, {10, 3}, {9, 2}, {8, 1}, {7, 0}}, got)
	dst := []Scored{{Item: 99}}
	dst, err = r.AppendTopK(dst, []int{1}, 1, nil)
	require.NoError(t, err)
	require.Equal(t, []Scored{{Item: 99}, {6, 6}}, dst)

	s, err := r.Score([]float32{-1}, []int{4, 4, 4}, []int{7, 8, 3})
	require.NoError(t, err)
	require.Equal(t, []float32{-1, 3, 4, 6}, s)
	cs := make([]float32, 4)
	require.NoError(t, r.ScoreCandidates([][]int{{1}, {}}, [][]int{{0, 9}, {6, 10}}, cs))
	require.Equal(t, []float32{1, 3, 6, 3}, cs)
	all := make([]float32, 2*11+3) // longer than needed: the rest is untouched
	all[22] = 42
	require.NoError(t, r.ScoreAll([][]int{{1}, {2}}, all))
	require.Equal(t, float32(3), all[11+10])
	require.Equal(t, float32(42), all[22])

	// every check happens before the model is called (it would panic)
	_, err = r.TopK([]int{11}, 3, nil)
	require.ErrorContains(t, err, "input 0: item id 11 outside 1..10")
	_, err = r.Score(nil, []int{0}, []int{1})
	require.ErrorContains(t, err, "item id 0 outside 1..10")
	s, err = r.Score(s[:1], []int{1}, []int{2, 11})
	require.ErrorContains(t, err, "candidate item id 11 outside 1..10")
	require.Equal(t, []float32{-1}, s)
	require.ErrorContains(t, r.ScoreCandidates([][]int{{1}}, [][]int{{11}}, cs), "item id 11 outside 0..10")
	require.ErrorContains(t, r.ScoreCandidates([][]int{{1}}, [][]int{{1}, {2}}, cs), "1 inputs, 2 candidate lists")
	require.ErrorContains(t, r.ScoreCandidates([][]int{{1}}, [][]int{{1, 2, 3, 4, 5}}, cs), "out has 4 elements, need 5")
	require.ErrorContains(t, r.ScoreAll([][]int{{1}, {2}, {3}}, all), "out has 25 elements, need 33")
	require.ErrorContains(t, r.ScoreAll([][]int{{1}, {-3}}, all), "input 1: item id -3")
	// the model's own errors come back unchanged
	_, err = r.TopK([]int{13}, 3, nil)
	require.ErrorContains(t, err, "item id 13 outside")
	r2 := NewRecommenderFor(modModel{n: 20})
	_, err = r2.TopK([]int{13}, 3, nil)
	require.ErrorIs(t, err, errModel)
	_, err = r2.Score(nil, []int{13}, []int{1})
	require.ErrorIs(t, err, errModel)
	require.ErrorIs(t, r2.ScoreAll([][]int{{13}}, make([]float32, 21)), errModel)
}

// A SeqModel's Recommender and a Recommender built with NewRecommenderFor
// over the same model (its Model) give the same answers: one code path.
func TestRecommenderForSeqModelSame(t *testing.T) {
	m := smallModel(t, "sasrec", 40)
	r1 := NewRecommender(m)
	r2 := NewRecommenderFor(r1.Model())
	require.Same(t, r1.ItemVectors(), r2.ItemVectors())
	require.Equal(t, m.Items.NumItems()+1, r2.ItemVectors().Shape[0])
	hist := []int{4, 8, 15, 16, 23}
	a, err := r1.TopK(hist, 7, hist)
	require.NoError(t, err)
	b, err := r2.TopK(hist, 7, hist)
	require.NoError(t, err)
	require.Equal(t, a, b)
	// one user's full scores (TopK's path) are Score's, bit for bit
	all := make([]float32, 41)
	require.NoError(t, r2.ScoreAll([][]int{hist}, all))
	ids := make([]int, 40)
	for i := range ids {
		ids[i] = i + 1
	}
	s, err := r1.Score(nil, hist, ids)
	require.NoError(t, err)
	require.Equal(t, all[1:], s)
	// the model called directly (its own scratch pool) agrees too
	direct := make([]float32, 41)
	require.NoError(t, r1.Model().ScoreItems([][]int{hist}, nil, direct))
	require.Equal(t, all, direct)
	two := make([]float32, 3)
	require.NoError(t, r1.Model().ScoreItems([][]int{hist, {1}}, [][]int{{5, 6}, {7}}, two))
	require.Equal(t, all[5:7], two[:2])
}
