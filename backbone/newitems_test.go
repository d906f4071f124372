package backbone

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

func randLLM(rng *rand.Rand, rows, cols int) *tensor.Tensor {
	x := tensor.New(rows, cols)
	for i := cols; i < len(x.Data); i++ {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x
}

// An adapter runs on the new rows: encoding the table's own LLM rows gives
// its materialized rows; normalizing keeps the norm; a dual view is its
// parts side by side.
func TestItemEncoderAdapterExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	llm := randLLM(rng, 41, 12)
	ad, err := NewAdapterTable(rng, llm, 8, []int{10}, nn.GELU)
	require.NoError(t, err)
	norm := NewNormalizedTable(ad, 3, false)
	cat, err := NewConcatTable(NewIDTable(rng, 40, 4), norm)
	require.NoError(t, err)
	want := norm.Materialize(&tensor.Tensor{})
	for _, tab := range []ItemTable{ad, norm, cat} {
		enc, err := NewItemEncoder(tab, ItemEncoderOptions{LLM: llm})
		require.NoError(t, err)
		require.Equal(t, 12, enc.LLMDim())
		require.Equal(t, tab.Dim(), enc.Dim())
		got, err := enc.Encode(tensor.FromSlice(slices.Clone(llm.Data[12:]), 40, 12))
		require.NoError(t, err)
		all := tab.Materialize(&tensor.Tensor{})
		if tab == ItemTable(cat) { // the adapter half is exact
			for r := range 40 {
				require.InDeltaSlice(t, want.Row(r+1), got.Row(r)[4:], 1e-5)
			}
			continue
		}
		require.InDeltaSlice(t, all.Data[all.Cols():], got.Data, 1e-5)
		if tab == ItemTable(norm) {
			for r := range 40 {
				require.InDelta(t, 3.0, math.Sqrt(float64(tensor.Dot(got.Row(r), got.Row(r)))), 1e-4)
			}
		}
	}
}

// An ID table whose rows are a linear function of the (reduced) LLM rows,
// plus an offset, is recovered by the ridge map, for items it never saw;
// with Reduce the map reads the reduced features; a normalized ID table
// gets normalized vectors.
func TestItemEncoderRidge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, p, d = 300, 10, 6
	llm := randLLM(rng, n+1, p)
	a := make([]float32, p*d)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	apply := func(x []float32) []float32 {
		y := make([]float32, d)
		for j := range d {
			y[j] = 0.5
			for i := range p {
				y[j] += x[i] * a[i*d+j]
			}
		}
		return y
	}
	init := tensor.New(n+1, d)
	for it := 1; it <= n; it++ {
		copy(init.Row(it), apply(llm.Row(it)))
	}
	id, err := NewIDTableFrom(init)
	require.NoError(t, err)
	fresh := randLLM(rng, 6, p).Data[p:] // 5 new items
	newRows := tensor.FromSlice(slices.Clone(fresh), 5, p)
	enc, err := NewItemEncoder(id, ItemEncoderOptions{LLM: llm, Ridge: 1e-6})
	require.NoError(t, err)
	got, err := enc.Encode(newRows)
	require.NoError(t, err)
	for r := range 5 {
		require.InDeltaSlice(t, apply(newRows.Row(r)), got.Row(r), 1e-3, "new item %d", r)
	}
	// a Reduce that keeps the first p columns of a wider input
	wide := tensor.New(n+1, p+3)
	for it := range n + 1 {
		copy(wide.Row(it), llm.Row(it))
		wide.Row(it)[p] = float32(rng.NormFloat64())
	}
	reduce := func(x *tensor.Tensor) (*tensor.Tensor, error) {
		z := tensor.New(x.Rows(), p)
		for r := range x.Rows() {
			copy(z.Row(r), x.Row(r)[:p])
		}
		return z, nil
	}
	norm := NewNormalizedTable(id, 2, false)
	enc, err = NewItemEncoder(norm, ItemEncoderOptions{LLM: wide, Reduce: reduce, Ridge: 1e-6})
	require.NoError(t, err)
	require.Equal(t, p+3, enc.LLMDim())
	wideNew := tensor.New(5, p+3)
	for r := range 5 {
		copy(wideNew.Row(r), newRows.Row(r))
	}
	got, err = enc.Encode(wideNew)
	require.NoError(t, err)
	for r := range 5 {
		w := apply(newRows.Row(r))
		nw := float32(math.Sqrt(float64(tensor.Dot(w, w))))
		for j := range w {
			w[j] *= 2 / nw
		}
		require.InDeltaSlice(t, w, got.Row(r), 1e-3)
	}

	// bad inputs
	_, err = enc.Encode(tensor.New(2, p))
	require.ErrorIs(t, err, ErrBadConfig)
	bad := tensor.New(1, p+3)
	bad.Data[2] = float32(math.NaN())
	_, err = enc.Encode(bad)
	require.ErrorIs(t, err, ErrNonFinite)
	_, err = NewItemEncoder(id, ItemEncoderOptions{LLM: tensor.New(n, p)})
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = NewItemEncoder(id, ItemEncoderOptions{LLM: llm, FitItems: []int{0, 1}})
	require.ErrorIs(t, err, ErrItemOutOfRange)
}

// Items added to a serving Recommender get the next ids, are ranked with
// the old ones (TopK, Score, TopKBatch agree), survive SaveItems/LoadItems,
// and bad additions change nothing.
func TestRecommenderAddItems(t *testing.T) {
	m := smallModel(t, "sasrec", 30)
	rng := rand.New(rand.NewPCG(8, 8))
	llm := randLLM(rng, 31, 5)
	enc, err := NewItemEncoder(m.Items, ItemEncoderOptions{LLM: llm})
	require.NoError(t, err)
	r := NewRecommender(m)
	require.Zero(t, r.LLMDim())
	_, err = r.AddItems(tensor.New(1, 5))
	require.ErrorIs(t, err, ErrBadConfig) // no encoder yet
	require.NoError(t, r.SetItemEncoder(enc))
	require.Equal(t, 5, r.LLMDim())

	hist := []int{3, 4, 5}
	before, err := r.TopK(hist, 5, hist)
	require.NoError(t, err)
	first, err := r.AddItems(randLLM(rng, 3, 5)) // 3 items
	require.NoError(t, err)
	require.Equal(t, 31, first)
	require.Equal(t, 33, r.NumItems())
	// a vector that beats every item: the user's own state, scaled
	h := r.state.Load().seq
	sc := h.newScratch()
	h.encode(sc, [][]int{hist})
	best := tensor.New(1, 16)
	for j, v := range sc.hid.Data[:16] {
		best.Data[j] = 100 * v
	}
	id, err := r.AddItemVectors(best)
	require.NoError(t, err)
	require.Equal(t, 34, id)
	after, err := r.TopK(hist, 5, hist)
	require.NoError(t, err)
	require.Equal(t, 34, after[0].Item)
	s, err := r.Score(nil, hist, []int{34, before[0].Item})
	require.NoError(t, err)
	require.Equal(t, []float32{after[0].Score, before[0].Score}, s)
	batch, err := r.TopKBatch([][]int{hist}, 5, [][]int{hist})
	require.NoError(t, err)
	require.Equal(t, after, batch[0])
	all := make([]float32, 35)
	require.NoError(t, r.ScoreAll([][]int{hist}, all))
	require.Equal(t, after[0].Score, all[34])
	require.Equal(t, 35, r.ItemVectors().Rows())

	// bad additions change nothing
	for _, bad := range []*tensor.Tensor{tensor.New(1, 15), tensor.FromSlice([]float32{float32(math.Inf(1))}, 1, 1), nil} {
		_, err := r.AddItemVectors(bad)
		require.Error(t, err)
	}
	nan := tensor.New(1, 16)
	nan.Data[3] = float32(math.NaN())
	_, err = r.AddItemVectors(nan)
	require.ErrorIs(t, err, ErrNonFinite)
	_, err = r.AddItems(tensor.New(2, 4))
	require.ErrorIs(t, err, ErrBadConfig)
	require.Equal(t, 34, r.NumItems())
	require.Equal(t, 4, r.NumAdded())

	// saved and reloaded into a fresh Recommender of the same model
	path := filepath.Join(t.TempDir(), "items.safetensors")
	require.NoError(t, r.SaveItems(path))
	r2 := NewRecommender(m)
	n, err := r2.LoadItems(path)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	again, err := r2.TopK(hist, 5, hist)
	require.NoError(t, err)
	require.Equal(t, after, again)
	require.Equal(t, r.ItemVectors().Data, r2.ItemVectors().Data)
	// loading twice, or into another model, is refused and adds nothing
	_, err = r2.LoadItems(path)
	require.ErrorIs(t, err, ErrBadCheckpoint)
	require.Equal(t, 34, r2.NumItems())
	_, err = NewRecommender(smallModel(t, "sasrec", 20)).LoadItems(path)
	require.ErrorIs(t, err, ErrBadCheckpoint)
	_, err = NewRecommender(m).LoadItems(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, ErrBadCheckpoint)
}

// The race test of issue 13: 8 goroutines call TopK while another adds
// items one at a time, 1,000 times. Every added item beats all earlier
// ones for the history, so a result names the snapshot it came from; each
// result must be exactly the top-k of one snapshot (never a half-added
// item), and a goroutine never sees snapshots go backwards.
func TestRecommenderAddWhileServing(t *testing.T) {
	m := smallModel(t, "sasrec", 40)
	hist := []int{1, 2, 3}
	r := NewRecommender(m)
	ref := NewRecommender(m)
	s := r.state.Load().seq
	sc := s.newScratch()
	s.encode(sc, [][]int{hist})
	h := sc.hid.Data[:16]
	const adds = 1000
	vecs := make([]*tensor.Tensor, adds)
	want := map[int][]Scored{} // newest item id -> top 3 of that snapshot
	w0, err := ref.TopK(hist, 3, hist)
	require.NoError(t, err)
	want[0] = w0
	for j := range vecs {
		v := tensor.New(1, 16)
		for i, x := range h {
			v.Data[i] = x * float32(10+j)
		}
		vecs[j] = v
		_, err := ref.AddItemVectors(v)
		require.NoError(t, err)
		w, err := ref.TopK(hist, 3, hist)
		require.NoError(t, err)
		require.Equal(t, 41+j, w[0].Item)
		want[41+j] = w
	}
	snapshot := func(got []Scored) int {
		if got[0].Item > 40 {
			return got[0].Item
		}
		return 0
	}
	var wg sync.WaitGroup
	errs := make(chan string, 9)
	done := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			last := 0
			buf := make([]Scored, 0, 3)
			for {
				select {
				case <-done:
					return
				default:
				}
				var err error
				buf, err = r.AppendTopK(buf[:0], hist, 3, hist)
				if err != nil {
					errs <- err.Error()
					return
				}
				sn := snapshot(buf)
				if !slices.Equal(buf, want[sn]) {
					errs <- "a result matches no snapshot"
					return
				}
				if sn < last {
					errs <- "snapshots went backwards"
					return
				}
				last = sn
			}
		})
	}
	for _, v := range vecs {
		if _, err := r.AddItemVectors(v); err != nil {
			errs <- err.Error()
			break
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	got, err := r.TopK(hist, 3, hist)
	require.NoError(t, err)
	require.Equal(t, want[40+adds], got)
}

// MatchDispersion: with targets that the features explain only in part,
// the plain ridge predictions are less dispersed than the targets, and the
// matched ones are exactly as dispersed (mean squared deviation norm).
func TestItemEncoderMatchDispersion(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, p, d = 400, 8, 4
	llm := randLLM(rng, n+1, p)
	init := tensor.New(n+1, d)
	for it := 1; it <= n; it++ {
		for j := range d {
			init.Row(it)[j] = llm.Row(it)[j] + 3*float32(rng.NormFloat64()) // mostly noise
		}
	}
	id, err := NewIDTableFrom(init)
	require.NoError(t, err)
	own := tensor.FromSlice(slices.Clone(llm.Data[p:]), n, p)
	dispersion := func(v *tensor.Tensor) float64 {
		var mean [d]float64
		for r := range v.Rows() {
			for j, x := range v.Row(r) {
				mean[j] += float64(x) / float64(v.Rows())
			}
		}
		var ss float64
		for r := range v.Rows() {
			for j, x := range v.Row(r) {
				ss += (float64(x) - mean[j]) * (float64(x) - mean[j])
			}
		}
		return ss / float64(v.Rows())
	}
	target := dispersion(tensor.FromSlice(init.Data[d:], n, d))
	plain, err := NewItemEncoder(id, ItemEncoderOptions{LLM: llm})
	require.NoError(t, err)
	a, err := plain.Encode(own)
	require.NoError(t, err)
	matched, err := NewItemEncoder(id, ItemEncoderOptions{LLM: llm, MatchDispersion: true})
	require.NoError(t, err)
	b, err := matched.Encode(own)
	require.NoError(t, err)
	require.Less(t, dispersion(a), 0.5*target)
	require.InDelta(t, target, dispersion(b), 1e-3*target)
}
