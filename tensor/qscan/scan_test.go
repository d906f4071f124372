package qscan

import (
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bruteTopK is the reference: every row scored with Dot, sorted by score
// then id, the excluded ids dropped.
func bruteTopK(rows []float32, d int, h []float32, k int, exclude []int) []Result {
	var all []Result
	for i := 0; i < len(rows)/d; i++ {
		if slices.Contains(exclude, i) {
			continue
		}
		all = append(all, Result{ID: i, Score: Dot(h, rows[i*d:(i+1)*d])})
	}
	slices.SortFunc(all, func(a, b Result) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return all[:min(k, len(all))]
}

// mipsRows draws n rows of d whose norms vary over two orders of
// magnitude (an inner-product catalog, not a normalised one), with a few
// exact duplicates (ties), zero rows and tiny rows.
func mipsRows(rng *rand.Rand, n, d int) []float32 {
	rows := make([]float32, n*d)
	for i := 0; i < n; i++ {
		norm := math.Exp(rng.NormFloat64() * 1.2)
		for k := 0; k < d; k++ {
			rows[i*d+k] = float32(rng.NormFloat64() * norm)
		}
		switch {
		case i%17 == 5 && i > 0:
			copy(rows[i*d:(i+1)*d], rows[(i-1)*d:i*d])
		case i%53 == 7:
			clear(rows[i*d : (i+1)*d])
		case i%61 == 9:
			for k := 0; k < d; k++ {
				rows[i*d+k] *= 1e-40
			}
		}
	}
	return rows
}

func normals(rng *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * s)
	}
	return v
}

// TestTopKEqualsBruteForce checks the scan against scoring every row, for
// widths that are and are not multiples of four, tables that end inside a
// block and inside a group, with exclusion, k above the number of rows and
// k = 0.
func TestTopKEqualsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 3, 4, 7, 64, 65} {
		for _, n := range []int{1, 5, 8, 33, 300, 2049} {
			rows := mipsRows(rng, n, d)
			tab, err := New(rows, d)
			require.NoError(t, err)
			require.Equal(t, n, tab.Len())
			for q := 0; q < 6; q++ {
				h := normals(rng, d, math.Exp(rng.NormFloat64()))
				if q == 5 {
					clear(h) // every score 0: ties everywhere
				}
				k := []int{1, 10, 50, n + 3, 0, 10}[q]
				var ex []int
				if q%2 == 1 {
					ex = []int{0, n / 2, n - 1, -4, n + 7}
				}
				got, err := tab.TopK(nil, h, k, ex)
				require.NoError(t, err)
				want := bruteTopK(rows, d, h, k, ex)
				if len(want) == 0 {
					assert.Empty(t, got)
					continue
				}
				require.Equal(t, want, got, "d %d n %d query %d k %d", d, n, q, k)
			}
		}
	}
}

// TestPlantedBugsFail checks that the comparison with the brute force
// catches an off-by-one in the re-rank and a wrong distance (the
// squared Euclidean one of a nearest-neighbour search, which a MIPS
// catalog with varied norms answers differently).
func TestPlantedBugsFail(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, d = 4000, 16
	rows := mipsRows(rng, n, d)
	tab, err := New(rows, d)
	require.NoError(t, err)
	for bug := 1; bug <= 2; bug++ {
		wrong := 0
		for q := 0; q < 40; q++ {
			h := normals(rng, d, 1)
			var s Searcher
			s.u.plant = bug
			require.NoError(t, s.Begin(h, 10, nil))
			s.Scan(tab, 0, nil)
			if !slices.Equal(s.Append(nil), bruteTopK(rows, d, h, 10, nil)) {
				wrong++
			}
		}
		assert.Greater(t, wrong, 0, "planted bug %d went unnoticed", bug)
	}
}

// TestBoundHolds checks the bound row by row in float64: every row's
// bound (what the kernels compare, computed without rounding) is at least
// its exact score divided by the query scale, and not absurdly loose.
func TestBoundHolds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, d = 3000, 24
	rows := mipsRows(rng, n, d)
	tab, err := New(rows, d)
	require.NoError(t, err)
	var u user
	for q := 0; q < 20; q++ {
		h := normals(rng, d, math.Exp(2*rng.NormFloat64()))
		u.plant = 0
		if q%5 == 4 {
			u.plant = 3 // the error term with the wrong sign
		}
		require.NoError(t, u.prepare(h, d, tab.dp, 10, nil))
		slack := 0.0
		broken := false
		for i := 0; i < n; i++ {
			var D int64
			for k := 0; k < tab.dp; k++ {
				D += int64(u.qb[k]) * int64(tab.codes[tab.codeAt(i, k)])
			}
			D -= int64(tab.sum64[i])
			ub := float64(tab.scale[i])*(float64(D)+float64(u.g)) + float64(tab.half[i])
			exact := float64(Dot(h, tab.Row(i))) / u.t
			if u.plant == 3 {
				broken = broken || ub < exact
				continue
			}
			require.GreaterOrEqual(t, ub, exact, "query %d row %d", q, i)
			slack = math.Max(slack, (ub-exact)/(float64(tab.scale[i])*float64(u.g)+float64(tab.half[i])+1e-300))
		}
		if u.plant == 3 {
			assert.True(t, broken, "planted bug 3 went unnoticed")
			continue
		}
		assert.LessOrEqual(t, slack, 2.0+1e-6, "the bound is looser than its own error terms")
	}
}

// TestKernelsAgree compares the assembly kernels' masks with the portable
// ones at thresholds away from the rows' bounds (where rounding could
// decide either way).
func TestKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range []int{4, 13, 64} {
		const n = 700
		tab, err := New(mipsRows(rng, n, d), d)
		require.NoError(t, err)
		var us [batchUsers]user
		qb := make([]uint8, batchUsers*tab.dp)
		var g, thr [batchUsers]float32
		for i := range us {
			require.NoError(t, us[i].prepare(normals(rng, d, 1), d, tab.dp, 10, nil))
			copy(qb[i*tab.dp:], us[i].qb)
			g[i] = us[i].g
			thr[i] = float32(rng.NormFloat64() * 30)
		}
		nb := tab.nb
		ms := nb + 3
		got4, want4 := make([]uint8, batchUsers*ms), make([]uint8, batchUsers*ms)
		scanFour(tab, 0, nb, qb, &g, &thr, got4, ms)
		scanFourGo(tab, 0, nb, qb, &g, &thr, want4, ms)
		got1, want1 := make([]uint8, nb), make([]uint8, nb)
		scanOne(tab, 0, nb, qb[:tab.dp], g[0], thr[0], got1)
		scanOneGo(tab, 0, nb, qb[:tab.dp], g[0], thr[0], want1)
		assert.Equal(t, want1, got1, "d %d one query", d)
		assert.Equal(t, want4, got4, "d %d four queries", d)
		// the masks are not trivially all set or all clear
		ones := 0
		for _, m := range want4 {
			ones += popcount(m)
		}
		assert.Greater(t, ones, n/10)
		assert.Less(t, ones, batchUsers*n-n/10)
	}
}

func popcount(m uint8) int {
	c := 0
	for ; m != 0; m &= m - 1 {
		c++
	}
	return c
}

// TestBatchEqualsTopK checks TopKBatch against TopK for query counts that
// do and do not fill the last group of four, with per-query exclusion.
func TestBatchEqualsTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n, d = 1500, 20
	rows := mipsRows(rng, n, d)
	tab, err := New(rows, d)
	require.NoError(t, err)
	for _, m := range []int{1, 4, 7} {
		hs := normals(rng, m*d, 1)
		ex := make([][]int, m)
		for i := range ex {
			ex[i] = []int{rng.IntN(n), rng.IntN(n)}
		}
		got, err := tab.TopKBatch(hs, 10, ex, 2)
		require.NoError(t, err)
		require.Len(t, got, m)
		for i := range m {
			assert.Equal(t, bruteTopK(rows, d, hs[i*d:(i+1)*d], 10, ex[i]), got[i], "m %d query %d", m, i)
		}
	}
}

// TestUpdates checks Append, Set and Delete against tables built from
// scratch, and that the receiver is left unchanged.
func TestUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const d = 9
	rows := mipsRows(rng, 30, d)
	tab, err := New(rows, d)
	require.NoError(t, err)
	add := normals(rng, 7*d, 3)
	t2, err := tab.Append(add)
	require.NoError(t, err)
	all := append(slices.Clone(rows), add...)
	row := normals(rng, d, 5)
	t3, err := t2.Set(4, row)
	require.NoError(t, err)
	set := slices.Clone(all)
	copy(set[4*d:], row)
	t4, err := t3.Delete(2)
	require.NoError(t, err)
	del := slices.Clone(set[:len(set)-d])
	copy(del[2*d:3*d], set[len(set)-d:])
	for _, c := range []struct {
		tab  *Table
		rows []float32
	}{{tab, rows}, {t2, all}, {t3, set}, {t4, del}} {
		ref, err := New(c.rows, d)
		require.NoError(t, err)
		assert.Equal(t, ref.n, c.tab.n)
		assert.Equal(t, ref.rows, c.tab.rows)
		assert.Equal(t, ref.codes, c.tab.codes[:len(ref.codes)])
		assert.Equal(t, ref.scale, c.tab.scale[:len(ref.scale)])
		assert.Equal(t, ref.half, c.tab.half[:len(ref.half)])
		h := normals(rng, d, 1)
		got, err := c.tab.TopK(nil, h, 5, nil)
		require.NoError(t, err)
		assert.Equal(t, bruteTopK(c.rows, d, h, 5, nil), got)
	}
	// deleting the only row leaves an empty table that returns nothing
	one, err := New(rows[:d], d)
	require.NoError(t, err)
	empty, err := one.Delete(0)
	require.NoError(t, err)
	got, err := empty.TopK(nil, rows[:d], 3, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

// TestErrors checks the sentinels of bad rows and queries.
func TestErrors(t *testing.T) {
	_, err := New([]float32{1, 2, 3}, 2)
	assert.True(t, errors.Is(err, ErrShape))
	_, err = New([]float32{1, float32(math.NaN())}, 2)
	assert.True(t, errors.Is(err, ErrNonFinite))
	tab, err := New([]float32{1, 2, 3, 4}, 2)
	require.NoError(t, err)
	_, err = tab.TopK(nil, []float32{1}, 1, nil)
	assert.True(t, errors.Is(err, ErrShape))
	_, err = tab.TopK(nil, []float32{1, float32(math.Inf(1))}, 1, nil)
	assert.True(t, errors.Is(err, ErrNonFinite))
	_, err = tab.Set(5, []float32{1, 2})
	assert.True(t, errors.Is(err, ErrShape))
	_, err = tab.Append([]float32{1, float32(math.NaN())})
	assert.True(t, errors.Is(err, ErrNonFinite))
	_, err = tab.TopKBatch([]float32{1, 2, 3}, 1, nil, 1)
	assert.True(t, errors.Is(err, ErrShape))
}
