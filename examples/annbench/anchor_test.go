package main

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/coder/hnsw"
	"github.com/viterin/vek/vek32"
)

// TestAugmentationKeepsInnerProductOrder checks the reduction the anchor
// runs on: after appending √(M² − ‖x‖²) to every item and 0 to the query,
// the Euclidean order of the items is their inner-product order (so the
// anchor's poor recall is not the reduction's), and a planted mistake
// (appending ‖x‖ instead) breaks it. It also logs the anchor's recall on
// plain Euclidean data, without the reduction, as context.
func TestAugmentationKeepsInnerProductOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 500, 8
	items := make([][]float32, n)
	var m2 float64
	for i := range items {
		items[i] = make([]float32, d)
		s := math.Exp(rng.NormFloat64())
		for k := range d {
			items[i][k] = float32(s * rng.NormFloat64())
		}
		m2 = math.Max(m2, norm2(items[i]))
	}
	order := func(q []float32, aug func([]float32) []float32, byL2 bool) []int {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		qa := append(append([]float32(nil), q...), 0)
		key := func(i int) float32 {
			if byL2 {
				return vek32.Distance(qa, aug(items[i]))
			}
			return -vek32.Dot(q, items[i])
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
		return idx[:10]
	}
	good := func(x []float32) []float32 {
		return append(append([]float32(nil), x...), float32(math.Sqrt(math.Max(0, m2-norm2(x)))))
	}
	bad := func(x []float32) []float32 {
		return append(append([]float32(nil), x...), float32(math.Sqrt(norm2(x))))
	}
	differ := 0
	for range 20 {
		q := make([]float32, d)
		for k := range q {
			q[k] = float32(rng.NormFloat64())
		}
		want := order(q, nil, false)
		if got := order(q, good, true); !slices.Equal(got, want) {
			t.Fatalf("augmented L2 order %v, inner-product order %v", got, want)
		}
		if !slices.Equal(order(q, bad, true), want) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("the planted augmentation went unnoticed")
	}

	// context: the anchor on plain Euclidean data (3,000 points, d 8)
	g := hnsw.NewGraph[int]()
	g.Distance, g.EfSearch = vek32.Distance, 256
	pts := make([][]float32, 3000)
	for i := range pts {
		pts[i] = make([]float32, d)
		for k := range d {
			pts[i][k] = float32(rng.NormFloat64())
		}
		g.Add(hnsw.MakeNode(i, pts[i]))
	}
	hit := 0
	for range 50 {
		q := make([]float32, d)
		for k := range q {
			q[k] = float32(rng.NormFloat64())
		}
		idx := make([]int, len(pts))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(vek32.Distance(q, pts[a]), vek32.Distance(q, pts[b])) })
		res := g.Search(q, 256)
		slices.SortFunc(res, func(a, b hnsw.Node[int]) int {
			return cmp.Compare(vek32.Distance(q, a.Value), vek32.Distance(q, b.Value))
		})
		for _, r := range res[:min(10, len(res))] {
			if slices.Contains(idx[:10], r.Key) {
				hit++
			}
		}
	}
	t.Logf("coder/hnsw on 3,000 Gaussian points in 8-d, Euclidean, ef 256: recall@10 %.3f", float64(hit)/500)
}
