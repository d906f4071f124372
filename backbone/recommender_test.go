package backbone

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

func smallModel(t testing.TB, kind string, items int) *SeqModel {
	rng := rand.New(rand.NewPCG(21, 22))
	cfg := DefaultEncoderConfig(kind)
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Heads = 16, 10, 2, 2
	enc, err := NewEncoder(cfg, rng)
	require.NoError(t, err)
	m, err := NewSeqModel(enc, NewIDTable(items, 16, rng), ModelConfig{})
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
			got, err := r.TopK(hist, 0, nil)
			require.NoError(t, err)
			require.Empty(t, got)
			_, err = r.TopK([]int{51}, 3, nil)
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
	ad, err := NewAdapterTable(llm, 8, []int{10}, "gelu", rng)
	require.NoError(t, err)
	cat, err := NewConcatTable(NewIDTable(30, 8, rng), ad)
	require.NoError(t, err)
	items := NewNormalizedTable(cat, 2, true)
	cfg := DefaultEncoderConfig("sasrec")
	cfg.Dim, cfg.MaxLen, cfg.Blocks = 16, 8, 1
	enc, err := NewSASRec(cfg, rng)
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
