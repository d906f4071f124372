package moe

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// refMixScores computes, in float64 and without backbone.Recommender, the
// mixed scores of items 0..NumItems for history: every expert's last hidden
// state (its encoder run on the last MaxLen items of history, looked up in
// its materialized table) dotted with every item vector, weighted by the
// FreqGate formula σ(α_k[b(i)]) / Σ_k' σ(α_k'[b(i)]) (or its softmax).
func refMixScores(t testing.TB, m *Mixture, history []int) []float64 {
	t.Helper()
	g, ok := m.Gate.(*FreqGate)
	require.True(t, ok, "refMixScores needs a FreqGate")
	n1, K := m.NumItems()+1, len(m.Experts)
	logits := g.Logits.Data
	out := make([]float64, n1)
	for k, e := range m.Experts {
		d := e.Enc.Dim()
		table := e.Items.Materialize(&tensor.Tensor{})
		h := make([]float32, d) // an empty history has a zero state
		if len(history) > 0 {
			var b backbone.Batch
			b.Reset(e.Enc.MaxLen())
			b.AddSeq(history)
			x := tensor.New(b.NumTokens(), d)
			for j, it := range b.Items {
				copy(x.Data[j*d:(j+1)*d], table.Data[it*d:(it+1)*d])
			}
			hs := e.Enc.Forward(e.Enc.NewScratch(), &b, x, false, nil)
			copy(h, hs.Data[(b.NumTokens()-1)*d:])
		}
		for i := range n1 {
			var s float64
			for j := range d {
				s += float64(h[j]) * float64(table.Data[i*d+j])
			}
			a := make([]float64, K)
			for e := range K {
				a[e] = float64(logits.Data[g.Bin(i)*K+e])
			}
			out[i] += refGate(a, g.Norm)[k] * s
		}
	}
	return out
}

// trainedPAD is padMixture trained for two epochs on synthetic sequences,
// with its gate logits then scrambled so that every bin mixes differently.
func trainedPAD(t testing.TB, n int, share bool, seed uint64) *Mixture {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	m := padMixture(t, n, 8, share, r)
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 2, 8
	_, err := backbone.Train(context.Background(), m, synthSeqs(r, 40, n), tc, backbone.TrainOptions{KeepLast: true})
	require.NoError(t, err)
	for i := range m.Gate.(*FreqGate).Logits.Data.Data {
		m.Gate.(*FreqGate).Logits.Data.Data[i] = float32(2 * r.NormFloat64())
	}
	return m
}

// TestMixtureRecommenderRoundTrip saves a trained PAD mixture, loads it with
// LoadRecommender and checks that the loaded *backbone.Recommender serves
// exactly what the in-memory one does (scores bit for bit, the same top-k),
// and that its scores are the gate-weighted sums of the experts' scores
// computed independently in float64 (refMixScores).
func TestMixtureRecommenderRoundTrip(t *testing.T) {
	const n = 30
	for _, share := range []bool{false, true} {
		m := trainedPAD(t, n, share, 31)
		path := filepath.Join(t.TempDir(), "pad.safetensors")
		require.NoError(t, m.Save(path))
		isMoE, err := IsCheckpoint(path)
		require.NoError(t, err)
		require.True(t, isMoE)

		mem, err := m.NewRecommender()
		require.NoError(t, err)
		loaded, err := LoadRecommender(path)
		require.NoError(t, err)
		require.Equal(t, n, loaded.NumItems())
		require.Nil(t, loaded.ItemVectors()) // not a SeqModel

		// histories: short, repeated items, longer than the window (6), empty
		inputs := [][]int{{1, 2, 3}, {30, 4}, {5, 6, 7, 8, 9, 10, 11, 12, 13}, {17}, {}}
		a := make([]float32, len(inputs)*(n+1))
		b := make([]float32, len(inputs)*(n+1))
		require.NoError(t, mem.ScoreAll(inputs, a))
		require.NoError(t, loaded.ScoreAll(inputs, b))
		require.Equal(t, a, b, "share=%v: ScoreAll after reload", share)
		for u, hist := range inputs {
			ref := refMixScores(t, m, hist)
			one := make([]float32, n+1)
			require.NoError(t, loaded.ScoreAll([][]int{hist}, one))
			for i := range ref {
				tol := 1e-5 * max(1, math.Abs(ref[i]))
				assert.InDelta(t, ref[i], float64(one[i]), tol, "share=%v user %d item %d", share, u, i)
				assert.InDelta(t, ref[i], float64(b[u*(n+1)+i]), tol, "share=%v user %d item %d (batched)", share, u, i)
			}
			if len(hist) == 0 { // TopK refuses an empty history
				_, err := loaded.TopK(hist, 5, nil)
				require.ErrorIs(t, err, backbone.ErrEmptyHistory)
				continue
			}
			for _, k := range []int{1, 5, n} {
				t1, err := mem.TopK(hist, k, hist)
				require.NoError(t, err)
				t2, err := loaded.TopK(hist, k, hist)
				require.NoError(t, err)
				require.Equal(t, t1, t2, "share=%v user %d k=%d", share, u, k)
				// the top-k is the best of the reference scores: same items
				// as a float64 sort, up to near-ties
				wantLen := n
				for _, it := range slices.Compact(slices.Sorted(slices.Values(hist))) {
					if it >= 1 && it <= n {
						wantLen--
					}
				}
				require.Len(t, t2, min(k, wantLen))
				for j, s := range t2 {
					assert.NotContains(t, hist, s.Item)
					assert.Equal(t, one[s.Item], s.Score)
					if j > 0 {
						assert.GreaterOrEqual(t, t2[j-1].Score, s.Score)
					}
				}
				worst := t2[len(t2)-1].Score
				for it := 1; it <= n; it++ {
					if !slices.Contains(hist, it) && !slices.ContainsFunc(t2, func(s backbone.Scored) bool { return s.Item == it }) {
						assert.LessOrEqual(t, ref[it], float64(worst)+1e-5, "item %d left out of the top %d", it, k)
					}
				}
			}
			cands := []int{1, n, 7, 7}
			s1, err := mem.Score(nil, hist, cands)
			require.NoError(t, err)
			s2, err := loaded.Score(nil, hist, cands)
			require.NoError(t, err)
			require.Equal(t, s1, s2)
			for j, it := range cands {
				assert.InDelta(t, ref[it], float64(s2[j]), 1e-5*max(1, math.Abs(ref[it])))
			}
		}
		// candidate lists of different lengths, batched
		cands := [][]int{{3, 1}, {}, {0, 30, 12}, {17}, {2}}
		c1 := make([]float32, 7)
		c2 := make([]float32, 7)
		require.NoError(t, mem.ScoreCandidates(inputs, cands, c1))
		require.NoError(t, loaded.ScoreCandidates(inputs, cands, c2))
		require.Equal(t, c1, c2)
		off := 0
		for u, cs := range cands {
			for j, it := range cs {
				assert.InDelta(t, float64(b[u*(n+1)+it]), float64(c2[off+j]), 1e-5)
			}
			off += len(cs)
		}
		// the shared checks
		_, err = loaded.TopK([]int{n + 1}, 3, nil)
		require.ErrorContains(t, err, "item id 31 outside 1..30")
		_, err = loaded.Score(nil, []int{1}, []int{0})
		require.ErrorContains(t, err, "candidate item id 0 outside 1..30")
	}
}

// IsCheckpoint tells a mixture's files from a SeqModel's, also when only the
// JSON config beside the file says what it is.
func TestIsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(8, 9))
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks = 8, 4, 1
	enc, err := backbone.NewSASRec(r, cfg)
	require.NoError(t, err)
	sm, err := backbone.NewSeqModel(enc, backbone.NewIDTable(r, 10, 8), backbone.ModelConfig{})
	require.NoError(t, err)
	seqPath := filepath.Join(dir, "seq.safetensors")
	require.NoError(t, sm.Save(seqPath))
	is, err := IsCheckpoint(seqPath)
	require.NoError(t, err)
	assert.False(t, is)
	_, err = IsCheckpoint(filepath.Join(dir, "none.safetensors"))
	assert.ErrorContains(t, err, "none.safetensors")
	_, err = LoadRecommender(seqPath)
	assert.Error(t, err, "a SeqModel file is not a mixture")

	// a mixture whose .safetensors lost its metadata (rewritten by another
	// tool): the JSON beside it decides, and Load reads the config from it
	m := padMixture(t, 12, 8, false, r)
	path := filepath.Join(dir, "pad.safetensors")
	require.NoError(t, m.Save(path))
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	var ts []safetensors.Named
	for _, name := range f.Names() {
		x, err := f.Tensor(name)
		require.NoError(t, err)
		ts = append(ts, safetensors.Named{Name: name, Tensor: x})
	}
	require.NoError(t, f.Close())
	bare := filepath.Join(dir, "bare.safetensors")
	require.NoError(t, safetensors.WriteFile(bare, ts, nil))
	is, err = IsCheckpoint(bare)
	require.NoError(t, err)
	assert.False(t, is, "no JSON beside it yet")
	raw, err := os.ReadFile(backbone.JSONPath(path))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(backbone.JSONPath(bare), raw, 0o644))
	is, err = IsCheckpoint(bare)
	require.NoError(t, err)
	assert.True(t, is)
	_, err = LoadRecommender(bare)
	assert.ErrorContains(t, err, "freq gate has 0 popularity bins, want one per item id 0..12")
	// (the .json drops the bins, which live in the metadata: Load needs it)
	mcfg, err := m.Config()
	require.NoError(t, err)
	full, err := json.Marshal(mcfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(backbone.JSONPath(bare), full, 0o644))
	rec, err := LoadRecommender(bare)
	require.NoError(t, err)
	want, err := m.NewRecommender()
	require.NoError(t, err)
	a, err := rec.TopK([]int{1, 2}, 4, nil)
	require.NoError(t, err)
	b, err := want.TopK([]int{1, 2}, 4, nil)
	require.NoError(t, err)
	assert.Equal(t, b, a)
	assert.Equal(t, 6, rec.Window(), "a mixture's window is its experts' longest")

	// Issue 21, row 6: a sidecar that is a link to an endless file is not
	// read forever (before: a fatal out-of-memory in IsCheckpoint and Load)
	if _, err := os.Stat("/dev/zero"); err == nil {
		require.NoError(t, os.Remove(backbone.JSONPath(bare)))
		require.NoError(t, os.Symlink("/dev/zero", backbone.JSONPath(bare)))
		is, err = IsCheckpoint(bare)
		require.NoError(t, err)
		assert.False(t, is)
		_, err = Load(bare)
		assert.ErrorIs(t, err, backbone.ErrBadCheckpoint)
	}
}

// Many goroutines serve one mixture Recommender (run with -race).
func TestMixtureRecommenderConcurrent(t *testing.T) {
	const n = 25
	m := trainedPAD(t, n, false, 41)
	rec, err := m.NewRecommender()
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	hists := synthSeqs(r, 12, n)
	want := make([][]backbone.Scored, len(hists))
	wantAll := make([]float32, len(hists)*(n+1))
	require.NoError(t, rec.ScoreAll(hists, wantAll))
	for i, h := range hists {
		want[i], err = rec.TopK(h, 5, h)
		require.NoError(t, err)
	}
	calls := 200
	if raceEnabled || testing.Short() {
		calls = 40
	}
	var wg sync.WaitGroup
	bad := make(chan string, 8)
	for g := range 4 {
		wg.Go(func() {
			var buf []backbone.Scored
			all := make([]float32, len(hists)*(n+1))
			for c := range calls {
				i := (g*5 + c) % len(hists)
				var err error
				buf, err = rec.AppendTopK(buf[:0], hists[i], 5, hists[i])
				if err != nil || !slices.Equal(buf, want[i]) {
					bad <- "TopK differs from the serial result"
					return
				}
				if c%10 == 0 {
					if err := rec.ScoreAll(hists, all); err != nil || !slices.Equal(all, wantAll) {
						bad <- "ScoreAll differs from the serial result"
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Error(msg)
	}
}

// Serving a mixture allocates nothing per call once warm, as for a SeqModel.
func TestMixtureRecommenderNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	rec, err := padMixture(t, 20, 8, true, rand.New(rand.NewPCG(3, 3))).NewRecommender()
	require.NoError(t, err)
	hist := []int{1, 2, 3, 4, 5}
	buf := make([]backbone.Scored, 0, 10)
	scores := make([]float32, 0, 3)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = rec.AppendTopK(buf[:0], hist, 10, hist)
		scores, _ = rec.Score(scores[:0], hist, []int{1, 2, 3})
	})
	require.Zero(t, allocs)
}
