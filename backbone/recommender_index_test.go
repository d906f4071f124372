package backbone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/llmrec/llmrec/backbone/index"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/qscan"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildIndex indexes r's item vectors 1..NumItems, probing every list
// (an exact index).
func buildIndex(t *testing.T, r *Recommender, lists int) *index.IVF {
	tab := r.ItemVectors()
	d := tab.Cols()
	x, err := index.Build(rand.New(rand.NewPCG(1, 2)), tab.Data[d:], d, nil, index.Config{Lists: lists, Probe: lists, Base: 1})
	require.NoError(t, err)
	return x
}

// TestIndexedTopKEqualsExact checks that TopK through an exact index (every
// list probed) answers exactly what the exact scan answers: the same items
// and scores bit for bit, exclusion (with the padding id and ids out of
// range in it) and k above the catalog included.
func TestIndexedTopKEqualsExact(t *testing.T) {
	for _, kind := range []string{"sasrec", "gru4rec"} {
		m := smallModel(t, kind, 300)
		r := NewRecommender(m)
		hists := [][]int{{3, 9, 27, 4, 4, 17}, {1}, {300, 299, 5}, {42, 42, 42, 8, 150, 151, 152, 7, 9, 11, 13}}
		type q struct {
			hist, ex []int
			k        int
		}
		var qs []q
		for _, h := range hists {
			for _, k := range []int{1, 10, 400} {
				qs = append(qs, q{h, append([]int{0, -3, 301, 1000}, h...), k}, q{h, nil, k})
			}
		}
		want := make([][]Scored, len(qs))
		for i, c := range qs {
			var err error
			want[i], err = r.TopK(c.hist, c.k, c.ex)
			require.NoError(t, err)
		}
		x := buildIndex(t, r, 7)
		require.NoError(t, r.SetIndex(x, 1))
		require.Equal(t, ItemIndex(x), r.Index())
		for i, c := range qs {
			got, err := r.TopK(c.hist, c.k, c.ex)
			require.NoError(t, err)
			require.Equal(t, want[i], got, "%s: history %v k %d exclude %v", kind, c.hist, c.k, c.ex)
		}
	}
}

// countIndex counts searches and answers with a fixed list or error.
type countIndex struct {
	calls atomic.Int64
	res   []qscan.Result
	err   error
}

func (c *countIndex) Search(dst []qscan.Result, q []float32, k int, exclude []int) ([]qscan.Result, error) {
	c.calls.Add(1)
	return append(dst, c.res...), c.err
}

// TestIndexThreshold checks that below the size threshold the exact path
// answers (the index is not asked), at it the index does, that ids outside
// the snapshot are dropped, and that a non-finite answer is ErrNonFinite.
func TestIndexThreshold(t *testing.T) {
	m := smallModel(t, "sasrec", 60)
	r := NewRecommender(m)
	hist := []int{5, 6, 7}
	want, err := r.TopK(hist, 5, nil)
	require.NoError(t, err)
	fake := &countIndex{res: []qscan.Result{{ID: 9, Score: 3}, {ID: 61, Score: 2}, {ID: 0, Score: 1.5}, {ID: 4, Score: 1}}}
	require.NoError(t, r.SetIndex(fake, 61))
	got, err := r.TopK(hist, 5, nil)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Zero(t, fake.calls.Load())
	require.NoError(t, r.SetIndex(fake, 60))
	got, err = r.TopK(hist, 5, nil)
	require.NoError(t, err)
	assert.Equal(t, []Scored{{Item: 9, Score: 3}, {Item: 4, Score: 1}}, got)
	assert.Equal(t, int64(1), fake.calls.Load())
	fake.err = fmt.Errorf("wrapped: %w", qscan.ErrNonFinite)
	_, err = r.TopK(hist, 5, nil)
	assert.True(t, errors.Is(err, ErrNonFinite), "%v", err)
	fake.err, fake.res = nil, []qscan.Result{{ID: 3, Score: float32(posInf())}}
	_, err = r.TopK(hist, 5, nil)
	assert.True(t, errors.Is(err, ErrNonFinite), "%v", err)
	// removing the index restores the exact path
	require.NoError(t, r.SetIndex(nil, 0))
	got, err = r.TopK(hist, 5, nil)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	// bad options
	assert.True(t, errors.Is(r.SetIndex(fake, -1), ErrBadConfig))
	other := NewRecommenderFor(modModel{n: 10})
	assert.True(t, errors.Is(other.SetIndex(fake, 0), ErrBadConfig))
}

func posInf() float64 { return 1 / zero() }
func zero() float64   { return 0 }

// TestIndexGetsAddedItems checks that items added to the Recommender are
// inserted into an index that takes them and are then found by TopK.
func TestIndexGetsAddedItems(t *testing.T) {
	m := smallModel(t, "sasrec", 200)
	r := NewRecommender(m)
	x := buildIndex(t, r, 5)
	require.NoError(t, r.SetIndex(x, 1))
	hist := []int{10, 20, 30}
	before, err := r.TopK(hist, 1, nil)
	require.NoError(t, err)
	// a new item that scores far above the best: the best item's vector
	// scaled up
	d := r.ItemVectors().Cols()
	best := r.ItemVectors().Data[before[0].Item*d : (before[0].Item+1)*d]
	v := tensor.New(2, d)
	for k := range d {
		v.Data[k] = 10 * best[k]
		v.Data[d+k] = -best[k]
	}
	first, err := r.AddItemVectors(v)
	require.NoError(t, err)
	assert.Equal(t, 201, first)
	assert.Equal(t, 202, x.Len())
	got, err := r.TopK(hist, 1, nil)
	require.NoError(t, err)
	assert.Equal(t, 201, got[0].Item)
	exact := NewRecommender(m)
	_, err = exact.AddItemVectors(v)
	require.NoError(t, err)
	want, err := exact.TopK(hist, 10, hist)
	require.NoError(t, err)
	x.SetProbe(x.Lists())
	got, err = r.TopK(hist, 10, hist)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
