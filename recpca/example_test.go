package recpca_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

func ExampleBuildGraph() {
	train := [][]int{{1, 2, 3, 2}, {4, 4, 5}}
	g, err := recpca.BuildGraph(train, 5, recpca.GraphOptions{Window: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(g.NumEdges(), g.Weight(2, 3), g.Weight(4, 4))
	// Output: 3 2 0
}

func ExampleFit() {
	// 200 items in 8 dimensions; items 2k-1 and 2k co-occur.
	x := exampleItems()
	var train [][]int
	for i := 1; i < 200; i += 2 {
		train = append(train, []int{i, i + 1})
	}
	g, _ := recpca.BuildGraph(train, 200, recpca.GraphOptions{})
	p, err := recpca.Fit(x, g, recpca.Options{Dim: 2, TargetVariance: 0.9})
	if err != nil {
		panic(err)
	}
	z := p.Transform(nil, x, true)
	s := p.Stats
	fmt.Println(z.Shape, z.Row(0))
	fmt.Printf("retained %.2f of PCA's; TV lower than PCA's: %v\n", s.RetainedVariance/s.PCARetainedVariance, s.GraphTV < s.PCAGraphTV)
	// Output:
	// [201 2] [0 0]
	// retained 0.90 of PCA's; TV lower than PCA's: true
}

func ExampleCurvature() {
	// Two items: the Hessian is p1·p2·(e1−e2)(e1−e2)ᵀ, rank one.
	e := tensor.FromSlice([]float32{0, 0, 1, 0, 0, 1}, 3, 2)
	h := tensor.FromSlice([]float32{0, 0}, 1, 2)
	st, _ := recpca.Curvature(h, e, recpca.CurvatureOptions{})
	fmt.Printf("λmax %.3f rank %d cond %v\n", st.Mean.Max, st.Mean.Rank, st.Mean.Cond)
	// Output: λmax 0.500 rank 1 cond +Inf
}

func ExampleFitStats() {
	// 200 items in 8 dimensions; items 2k-1 and 2k co-occur.
	x := exampleItems()
	var train [][]int
	for i := 1; i < 200; i += 2 {
		train = append(train, []int{i, i + 1})
	}
	// Two shards count co-occurrences; their merge is BuildGraph's graph.
	pg, _ := recpca.NewPartialGraph(200, recpca.GraphOptions{})
	other, _ := recpca.NewPartialGraph(200, recpca.GraphOptions{})
	for k, s := range train {
		if k%2 == 0 {
			_ = pg.Add(s)
		} else {
			_ = other.Add(s)
		}
	}
	_ = pg.Merge(other)
	g, _ := pg.Graph()
	deg := g.Degree()

	// Two shards of statistics: items on one, edges (with both end rows and
	// degrees) on the other; merged, they fit what Fit fits.
	items, _ := recpca.NewAccumulator(8, recpca.AccumulatorOptions{})
	edges, _ := recpca.NewAccumulator(8, recpca.AccumulatorOptions{})
	for i := 1; i <= 200; i++ {
		_ = items.AddItem(x.Row(i))
	}
	for _, e := range pg.Edges() {
		_ = edges.AddEdge(x.Row(e.I), x.Row(e.J), e.W, deg[e.I], deg[e.J])
	}
	if err := items.Merge(edges); err != nil {
		panic(err)
	}
	opt := recpca.Options{Dim: 2, TargetVariance: 0.9}
	ps, err := recpca.FitStats(items, opt)
	if err != nil {
		panic(err)
	}
	pf, _ := recpca.Fit(x, g, opt)
	fmt.Printf("λ %.4f vs Fit's %.4f; retained %.4f of PCA's\n", ps.Stats.Lambda, pf.Stats.Lambda, ps.Stats.RetainedVariance/ps.Stats.PCARetainedVariance)
	// Output: λ 0.8906 vs Fit's 0.8906; retained 0.9007 of PCA's
}

// The graph term per item instead of per edge: each item's neighbours are
// summed (O(D) each) and the item adds one D x D update (Accumulator.AddNeighbors),
// where AddEdge adds one per edge.
func ExampleAccumulator_AddNeighbors() {
	x := exampleItems()
	var train [][]int
	for i := 1; i < 200; i += 2 {
		train = append(train, []int{i, i + 1, 1 + (i*7)%200})
	}
	g, _ := recpca.BuildGraph(train, 200, recpca.GraphOptions{})
	deg := g.Degree()

	acc, _ := recpca.NewAccumulator(8, recpca.AccumulatorOptions{})
	nb, _ := recpca.NewNeighborSum(8, acc.Options())
	for i := 1; i <= 200; i++ {
		_ = acc.AddItem(x.Row(i))
		nb.Reset()
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			j := int(g.Col[t])
			_ = nb.Add(x.Row(j), g.Val[t], deg[j])
		}
		if nb.Count > 0 {
			if err := acc.AddNeighbors(x.Row(i), deg[i], nb); err != nil {
				panic(err)
			}
		}
	}
	opt := recpca.Options{Dim: 2, Lambda: 0.5}
	ps, err := recpca.FitStats(acc, opt)
	if err != nil {
		panic(err)
	}
	pf, _ := recpca.Fit(x, g, opt)
	fmt.Printf("%d edges; trace ratio %.6f vs Fit's %.6f\n", acc.NumEdges(), ps.Stats.TraceRatio, pf.Stats.TraceRatio)
	// Output: 198 edges; trace ratio 1.026938 vs Fit's 1.026938
}

// exampleItems returns the examples' item matrix: 200 items in 8
// dimensions (row 0 padding), column j drawn with deviation 1/(j+1).
func exampleItems() *tensor.Tensor {
	r := rand.New(rand.NewPCG(1, 2))
	x := tensor.New(201, 8)
	for i := 1; i <= 200; i++ {
		for j := range 8 {
			x.Row(i)[j] = float32(r.NormFloat64() / float64(j+1))
		}
	}
	return x
}
