package index

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/tensor/qscan"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mixture draws n rows of d around c random centres with norms that vary
// (an inner-product catalog, not a normalised one).
func mixture(rng *rand.Rand, n, d, c int) []float32 {
	centres := make([]float64, c*d)
	for i := range centres {
		centres[i] = rng.NormFloat64()
	}
	rows := make([]float32, n*d)
	for i := range n {
		j := rng.IntN(c)
		scale := math.Exp(0.4 * rng.NormFloat64())
		for k := range d {
			rows[i*d+k] = float32(scale * (centres[j*d+k] + 0.5*rng.NormFloat64()))
		}
	}
	return rows
}

func normals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// brute is the reference: every (id, vector) scored with qscan.Dot,
// sorted by score then id, the excluded ids dropped.
func brute(vecs map[int][]float32, q []float32, k int, exclude []int) []qscan.Result {
	var all []qscan.Result
	for id, v := range vecs {
		if !slices.Contains(exclude, id) {
			all = append(all, qscan.Result{ID: id, Score: qscan.Dot(q, v)})
		}
	}
	slices.SortFunc(all, func(a, b qscan.Result) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return all[:min(k, len(all))]
}

func asMap(rows []float32, d int, ids []int32) map[int][]float32 {
	m := map[int][]float32{}
	for i := range len(rows) / d {
		id := i
		if ids != nil {
			id = int(ids[i])
		}
		m[id] = rows[i*d : (i+1)*d]
	}
	return m
}

// recall is the fraction of want's ids that got holds.
func recall(got, want []qscan.Result) float64 {
	if len(want) == 0 {
		return 1
	}
	hit := 0
	for _, w := range want {
		for _, g := range got {
			if g.ID == w.ID {
				hit++
				break
			}
		}
	}
	return float64(hit) / float64(len(want))
}

// TestExactWhenProbingAll checks that probing every list gives exactly the
// brute-force top-k (with ids mapped and excluded), and that dropping one
// probed list (a planted bug) does not.
func TestExactWhenProbingAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 3000, 16
	rows := mixture(rng, n, d, 12)
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(5 + 3*i)
	}
	x, err := Build(rng, rows, d, ids, Config{Lists: 20})
	require.NoError(t, err)
	require.Equal(t, n, x.Len())
	require.Equal(t, 20, x.Lists())
	vecs := asMap(rows, d, ids)
	wrong := 0
	for q := range 30 {
		h := normals(rng, d)
		ex := []int{int(ids[q]), int(ids[q+1]), 4, -1}
		got, err := x.SearchProbe(nil, h, 10, ex, 20)
		require.NoError(t, err)
		want := brute(vecs, h, 10, ex)
		require.Equal(t, want, got, "query %d", q)
		x.plant = 1
		got, err = x.SearchProbe(nil, h, 10, ex, 20)
		x.plant = 0
		require.NoError(t, err)
		if !slices.Equal(got, want) {
			wrong++
		}
	}
	assert.Greater(t, wrong, 0, "a dropped list went unnoticed")
}

// TestRecall checks that probing a quarter of the lists of a clustered
// catalog finds most of the true top-10.
func TestRecall(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, d = 20000, 32
	rows := mixture(rng, n, d, 40)
	x, err := Build(rng, rows, d, nil, Config{Lists: 64, Probe: 16})
	require.NoError(t, err)
	vecs := asMap(rows, d, nil)
	var sum float64
	const nq = 50
	for range nq {
		h := normals(rng, d)
		got, err := x.Search(nil, h, 10, nil)
		require.NoError(t, err)
		sum += recall(got, brute(vecs, h, 10, nil))
	}
	assert.GreaterOrEqual(t, sum/nq, 0.9)
}

// TestInsertReplaceRemove applies random inserts, replacements and
// removals and compares every state with the brute force (probing all
// lists), and checks that an old snapshot's searches are unchanged.
func TestInsertReplaceRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, d = 500, 8
	rows := mixture(rng, n, d, 6)
	x, err := Build(rng, rows, d, nil, Config{Lists: 7})
	require.NoError(t, err)
	vecs := asMap(rows, d, nil)
	for step := range 300 {
		switch op := rng.IntN(3); {
		case op == 0 || len(vecs) < 10: // a new id
			id := n + step
			v := normals(rng, d)
			require.NoError(t, x.Insert(id, v))
			vecs[id] = v
		case op == 1: // a new vector for an existing id
			id := rng.IntN(n + step)
			if _, ok := vecs[id]; !ok {
				continue
			}
			v := normals(rng, d)
			require.NoError(t, x.Insert(id, v))
			vecs[id] = v
		default:
			id := rng.IntN(n + step)
			if _, ok := vecs[id]; !ok {
				assert.True(t, errors.Is(x.Remove(id), ErrNotFound))
				continue
			}
			require.NoError(t, x.Remove(id))
			delete(vecs, id)
		}
		require.Equal(t, len(vecs), x.Len())
		if step%20 == 0 {
			h := normals(rng, d)
			got, err := x.SearchProbe(nil, h, 15, nil, 7)
			require.NoError(t, err)
			require.Equal(t, brute(vecs, h, 15, nil), got, "step %d", step)
		}
	}
	// bad writes change nothing
	assert.True(t, errors.Is(x.Insert(1, make([]float32, d+1)), ErrBadConfig))
	assert.True(t, errors.Is(x.Insert(-1, make([]float32, d)), ErrBadConfig))
	assert.True(t, errors.Is(x.Insert(1, []float32{1, 2, 3, 4, 5, 6, 7, float32(math.NaN())}), ErrNonFinite))
	assert.Equal(t, len(vecs), x.Len())
}

// TestConcurrentInsertSearch inserts items while 8 goroutines search: every
// answer must be valid (k results, best first, no repeats, each score the
// exact score of its id's vector), and afterwards the inserted items must
// be found where they belong in the exact top-10.
func TestConcurrentInsertSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n, add := 20000, 10000
	if testing.Short() {
		n, add = 5000, 2000
	}
	const d = 16
	all := mixture(rng, n+add, d, 30)
	x, err := Build(rng, all[:n*d], d, nil, Config{Lists: 64, Probe: 12})
	require.NoError(t, err)
	queries := normals(rng, 64*d)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []qscan.Result
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h := queries[(i%64)*d : (i%64+1)*d]
				var err error
				dst, err = x.Search(dst[:0], h, 10, nil)
				if err != nil || len(dst) != 10 {
					errs <- "search failed or short"
					return
				}
				seen := map[int]bool{}
				for j, r := range dst {
					if r.ID < 0 || r.ID >= n+add || seen[r.ID] ||
						r.Score != qscan.Dot(h, all[r.ID*d:(r.ID+1)*d]) ||
						(j > 0 && r.Score > dst[j-1].Score) {
						errs <- "invalid answer"
						return
					}
					seen[r.ID] = true
				}
			}
		}()
	}
	for i := n; i < n+add; i++ {
		require.NoError(t, x.Insert(i, all[i*d:(i+1)*d]))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	require.Equal(t, n+add, x.Len())
	// the inserted items are found: over queries that are inserted items'
	// own vectors, recall of the inserted items in the exact top-10
	vecs := asMap(all, d, nil)
	found, total := 0, 0
	for q := range 100 {
		h := all[(n+q*add/100)*d : (n+q*add/100+1)*d]
		got, err := x.Search(nil, h, 10, nil)
		require.NoError(t, err)
		for _, w := range brute(vecs, h, 10, nil) {
			if w.ID < n {
				continue
			}
			total++
			if slices.ContainsFunc(got, func(r qscan.Result) bool { return r.ID == w.ID }) {
				found++
			}
		}
	}
	require.Greater(t, total, 50)
	assert.GreaterOrEqual(t, float64(found)/float64(total), 0.95)
}

// TestSaveLoad round-trips an index through a file and a buffer, and
// checks that truncation and flipped bytes are refused with ErrBadFile.
func TestSaveLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n, d = 800, 12
	rows := mixture(rng, n, d, 5)
	x, err := Build(rng, rows, d, nil, Config{Lists: 9, Probe: 3})
	require.NoError(t, err)
	require.NoError(t, x.Insert(n+4, normals(rng, d)))
	require.NoError(t, x.Remove(3))
	path := t.TempDir() + "/ivf.bin"
	require.NoError(t, x.Save(path))
	y, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, x.Len(), y.Len())
	assert.Equal(t, x.Probe(), y.Probe())
	for range 10 {
		h := normals(rng, d)
		a, err := x.Search(nil, h, 7, nil)
		require.NoError(t, err)
		b, err := y.Search(nil, h, 7, nil)
		require.NoError(t, err)
		assert.Equal(t, a, b)
	}
	// the loaded index accepts writes (its id map was rebuilt)
	require.NoError(t, y.Insert(3, normals(rng, d)))
	assert.True(t, errors.Is(y.Remove(3+n*100), ErrNotFound))
	require.NoError(t, y.Remove(n+4))
	var buf bytes.Buffer
	_, err = x.WriteTo(&buf)
	require.NoError(t, err)
	data := buf.Bytes()
	for _, cut := range []int{0, 10, 28, 100, len(data) / 2, len(data) - 1} {
		_, err := Read(bytes.NewReader(data[:cut]))
		assert.True(t, errors.Is(err, ErrBadFile), "cut at %d: %v", cut, err)
	}
	for _, at := range []int{3, 9, 30, len(data) / 3, len(data) - 2} {
		c := slices.Clone(data)
		c[at] ^= 0x40
		_, err := Read(bytes.NewReader(c))
		assert.True(t, errors.Is(err, ErrBadFile), "flip at %d: %v", at, err)
	}
	_, err = Read(bytes.NewReader(append(slices.Clone(data), 0)))
	assert.True(t, errors.Is(err, ErrBadFile))
}

// FuzzRead feeds the loader mutated index files: it must never panic, and
// an index it accepts must answer a search with valid ids.
//
//	go test ./backbone/index -run '^$' -fuzz '^FuzzRead$' -fuzztime 60s
func FuzzRead(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct{ n, d, l int }{{0, 3, 1}, {5, 2, 2}, {40, 4, 3}} {
		x, err := Build(rng, mixture(rng, c.n, c.d, 2), c.d, nil, Config{Lists: c.l})
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := x.WriteTo(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Read(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("error without ErrBadFile: %v", err)
			}
			return
		}
		h := make([]float32, x.Dim())
		for i := range h {
			h[i] = float32(i%3) - 1
		}
		got, err := x.SearchProbe(nil, h, 5, nil, x.Lists())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != min(5, x.Len()) {
			t.Fatalf("%d results from %d items", len(got), x.Len())
		}
		for _, r := range got {
			if r.ID < 0 || r.ID > MaxID {
				t.Fatalf("id %d", r.ID)
			}
		}
	})
}
