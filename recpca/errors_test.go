package recpca

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

// sentinels are the errors a caller tells apart; every case below names
// the ones its error must wrap, and must wrap none of the others.
var sentinels = map[string]error{
	"ErrBadInput": ErrBadInput, "ErrBadOptions": ErrBadOptions, "ErrNotConverged": ErrNotConverged,
	"ErrNonFinite": ErrNonFinite, "ErrEmptyGraph": ErrEmptyGraph, "ErrBadAccumulator": ErrBadAccumulator,
}

// errItems is a 4-item, 2-column matrix (row 0 padding) with variance in
// both columns: items (1,1), (−1,1), (1,−1), (−1,−1).
func errItems() *tensor.Tensor {
	return tensor.FromSlice([]float32{0, 0, 1, 1, -1, 1, 1, -1, -1, -1}, 5, 2)
}

// errGraph joins items that differ only in column 0 (so column 1 varies
// across the items but never along an edge).
func errGraph(t *testing.T) *Graph {
	g, err := NewGraph(4, []Edge{{1, 2, 1}, {3, 4, 1}})
	require.NoError(t, err)
	return g
}

// Every error a caller may need to tell apart wraps its sentinel, and only
// the sentinels it should: bad data, bad options, no convergence, a
// non-finite value, an empty graph, accumulators that do not fit.
func TestErrorsWrapSentinels(t *testing.T) {
	x := errItems()
	nan := errItems()
	nan.Data[5] = float32(math.NaN())
	same := tensor.FromSlice([]float32{0, 0, 1, 2, 1, 2, 1, 2}, 4, 2)
	acc := func(t *testing.T, opt AccumulatorOptions, rows ...[]float32) *Accumulator {
		a, err := NewAccumulator(2, opt)
		require.NoError(t, err)
		for _, r := range rows {
			require.NoError(t, a.AddItem(r))
		}
		return a
	}
	pg := func(t *testing.T, n int, opt GraphOptions) *PartialGraph {
		p, err := NewPartialGraph(n, opt)
		require.NoError(t, err)
		return p
	}
	nb := func(t *testing.T) *NeighborSum {
		s, err := NewNeighborSum(2, AccumulatorOptions{})
		require.NoError(t, err)
		return s
	}
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		want []string
		run  func(t *testing.T) error
	}{
		// Fit: the data
		{"fit nil matrix", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := Fit(nil, nil, Options{Dim: 1}); return err }},
		{"fit padding row only", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := Fit(tensor.New(1, 2), nil, Options{Dim: 1})
			return err
		}},
		{"fit NaN entry", []string{"ErrBadInput", "ErrNonFinite"}, func(t *testing.T) error { _, err := Fit(nan, nil, Options{Dim: 1}); return err }},
		{"fit graph of another size", []string{"ErrBadInput"}, func(t *testing.T) error {
			g, err := NewGraph(3, []Edge{{1, 2, 1}})
			require.NoError(t, err)
			_, err = Fit(x, g, Options{Dim: 1})
			return err
		}},
		{"fit zero variance", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := Fit(same, nil, Options{Dim: 1}); return err }},
		{"fit graph sees no variation", []string{"ErrBadInput"}, func(t *testing.T) error {
			g, err := NewGraph(3, []Edge{{1, 2, 1}})
			require.NoError(t, err)
			_, err = Fit(tensor.FromSlice([]float32{0, 0, 1, 2, 1, 2, 3, 0}, 4, 2), g, Options{Dim: 1, Lambda: 0.5, Solver: SolverExact})
			return err
		}},
		{"fit l1 graph sees no variation", []string{"ErrBadInput"}, func(t *testing.T) error {
			g, err := NewGraph(3, []Edge{{1, 2, 1}})
			require.NoError(t, err)
			_, err = Fit(tensor.FromSlice([]float32{0, 0, 1, 2, 1, 2, 3, 0}, 4, 2), g, Options{Dim: 1, Lambda: 0.5, TV: TVL1, Laplacian: Combinatorial})
			return err
		}},
		{"fit penalty without graph", []string{"ErrEmptyGraph"}, func(t *testing.T) error { _, err := Fit(x, nil, Options{Dim: 1, Lambda: 0.5}); return err }},
		{"fit penalty on an edgeless graph", []string{"ErrEmptyGraph"}, func(t *testing.T) error {
			g, err := NewGraph(4, nil)
			require.NoError(t, err)
			_, err = Fit(x, g, Options{Dim: 1, Lambda: 0.5})
			return err
		}},
		// Fit: the options
		{"fit Dim 0", []string{"ErrBadOptions"}, func(t *testing.T) error { _, err := Fit(x, nil, Options{}); return err }},
		{"fit Dim above D", []string{"ErrBadOptions"}, func(t *testing.T) error { _, err := Fit(x, nil, Options{Dim: 3}); return err }},
		{"fit negative Lambda", []string{"ErrBadOptions"}, func(t *testing.T) error { _, err := Fit(x, errGraph(t), Options{Dim: 1, Lambda: -1}); return err }},
		{"fit NaN Lambda", []string{"ErrBadOptions"}, func(t *testing.T) error {
			_, err := Fit(x, errGraph(t), Options{Dim: 1, Lambda: math.NaN()})
			return err
		}},
		{"fit Beta 1", []string{"ErrBadOptions"}, func(t *testing.T) error { _, err := Fit(x, errGraph(t), Options{Dim: 1, Beta: 1}); return err }},
		{"fit TargetVariance above 1", []string{"ErrBadOptions"}, func(t *testing.T) error {
			_, err := Fit(x, errGraph(t), Options{Dim: 1, TargetVariance: 1.5})
			return err
		}},
		// Fit: no λ reaches the target (column 1 keeps half the variance
		// whatever λ, as no edge varies along it)
		{"fit unreachable TargetVariance", []string{"ErrNotConverged"}, func(t *testing.T) error {
			_, err := Fit(x, errGraph(t), Options{Dim: 1, TargetVariance: 1e-6, Solver: SolverExact})
			return err
		}},
		// graphs
		{"build graph negative count", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := BuildGraph(nil, -1, GraphOptions{})
			return err
		}},
		{"build graph item 0", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := BuildGraph([][]int{{1, 0}}, 4, GraphOptions{})
			return err
		}},
		{"build graph item above count", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := BuildGraph([][]int{{1, 5}}, 4, GraphOptions{})
			return err
		}},
		{"co-occurrences item above count", []string{"ErrBadInput"}, func(t *testing.T) error {
			return CoOccurrences([]int{9}, 4, GraphOptions{}, func(i, j int, w float64) {})
		}},
		{"new graph negative count", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := NewGraph(-2, nil); return err }},
		{"new graph end outside", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := NewGraph(4, []Edge{{1, 5, 1}}); return err }},
		{"new graph negative weight", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := NewGraph(4, []Edge{{1, 2, -1}}); return err }},
		{"new graph NaN weight", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := NewGraph(4, []Edge{{1, 2, math.NaN()}})
			return err
		}},
		{"partial graph negative count", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := NewPartialGraph(-1, GraphOptions{}); return err }},
		{"partial graph item outside", []string{"ErrBadInput"}, func(t *testing.T) error { return pg(t, 4, GraphOptions{}).Add([]int{1, 7}) }},
		{"partial graph merge other count", []string{"ErrBadAccumulator"}, func(t *testing.T) error {
			return pg(t, 4, GraphOptions{}).Merge(pg(t, 5, GraphOptions{}))
		}},
		{"partial graph merge other options", []string{"ErrBadAccumulator"}, func(t *testing.T) error {
			return pg(t, 4, GraphOptions{}).Merge(pg(t, 4, GraphOptions{Window: 2}))
		}},
		{"partial graph decode garbage", []string{"ErrBadAccumulator"}, func(t *testing.T) error {
			return new(PartialGraph).UnmarshalBinary([]byte("not a graph"))
		}},
		// accumulators
		{"accumulator dim 0", []string{"ErrBadOptions", "ErrBadAccumulator"}, func(t *testing.T) error {
			_, err := NewAccumulator(0, AccumulatorOptions{})
			return err
		}},
		{"accumulator unknown Laplacian", []string{"ErrBadOptions", "ErrBadAccumulator"}, func(t *testing.T) error {
			_, err := NewAccumulator(2, AccumulatorOptions{Laplacian: LaplacianKind(9)})
			return err
		}},
		{"neighbour sum dim 0", []string{"ErrBadOptions", "ErrBadAccumulator"}, func(t *testing.T) error {
			_, err := NewNeighborSum(0, AccumulatorOptions{})
			return err
		}},
		{"add item of the wrong width", []string{"ErrBadInput"}, func(t *testing.T) error { return acc(t, AccumulatorOptions{}).AddItem([]float32{1}) }},
		{"add item with Inf", []string{"ErrBadInput", "ErrNonFinite"}, func(t *testing.T) error {
			return acc(t, AccumulatorOptions{}).AddItem([]float32{1, inf})
		}},
		{"add edge negative weight", []string{"ErrBadInput"}, func(t *testing.T) error {
			return acc(t, AccumulatorOptions{}).AddEdge([]float32{1, 0}, []float32{0, 1}, -1, 1, 1)
		}},
		{"add edge degree below weight", []string{"ErrBadInput"}, func(t *testing.T) error {
			return acc(t, AccumulatorOptions{}).AddEdge([]float32{1, 0}, []float32{0, 1}, 2, 1, 3)
		}},
		{"neighbour row with NaN", []string{"ErrBadInput", "ErrNonFinite"}, func(t *testing.T) error {
			return nb(t).Add([]float32{float32(math.NaN()), 0}, 1, 1)
		}},
		{"add neighbours of the wrong width", []string{"ErrBadInput"}, func(t *testing.T) error {
			s := nb(t)
			s.Sum = s.Sum[:1]
			return acc(t, AccumulatorOptions{}).AddNeighbors([]float32{1, 0}, 1, s)
		}},
		{"add neighbours nil", []string{"ErrBadInput"}, func(t *testing.T) error {
			return acc(t, AccumulatorOptions{}).AddNeighbors([]float32{1, 0}, 1, nil)
		}},
		{"add neighbours Inf coefficient", []string{"ErrBadInput", "ErrNonFinite"}, func(t *testing.T) error {
			s := nb(t)
			s.Coef = math.Inf(1)
			return acc(t, AccumulatorOptions{}).AddNeighbors([]float32{1, 0}, 1, s)
		}},
		{"add neighbours NaN sum", []string{"ErrBadInput", "ErrNonFinite"}, func(t *testing.T) error {
			s := nb(t)
			s.Sum[1] = math.NaN()
			return acc(t, AccumulatorOptions{}).AddNeighbors([]float32{1, 0}, 1, s)
		}},
		{"merge other normalization", []string{"ErrBadAccumulator"}, func(t *testing.T) error {
			return acc(t, AccumulatorOptions{}).Merge(acc(t, AccumulatorOptions{NormalizeInput: true}))
		}},
		{"accumulator decode garbage", []string{"ErrBadAccumulator"}, func(t *testing.T) error {
			return new(Accumulator).UnmarshalBinary([]byte{1, 2, 3})
		}},
		// FitStats
		{"fit stats nil", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := FitStats(nil, Options{Dim: 1}); return err }},
		{"fit stats empty", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := FitStats(acc(t, AccumulatorOptions{}), Options{Dim: 1})
			return err
		}},
		{"fit stats zero variance", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := FitStats(acc(t, AccumulatorOptions{}, []float32{1, 2}, []float32{1, 2}), Options{Dim: 1})
			return err
		}},
		{"fit stats Dim 0", []string{"ErrBadOptions"}, func(t *testing.T) error {
			_, err := FitStats(acc(t, AccumulatorOptions{}, []float32{1, 2}, []float32{2, 1}), Options{})
			return err
		}},
		{"fit stats other normalization", []string{"ErrBadOptions"}, func(t *testing.T) error {
			_, err := FitStats(acc(t, AccumulatorOptions{}, []float32{1, 2}, []float32{2, 1}), Options{Dim: 1, NormalizeInput: true})
			return err
		}},
		{"fit stats l1", []string{"ErrBadOptions"}, func(t *testing.T) error {
			_, err := FitStats(acc(t, AccumulatorOptions{}, []float32{1, 2}, []float32{2, 1}), Options{Dim: 1, TV: TVL1})
			return err
		}},
		{"fit stats penalty without edges", []string{"ErrEmptyGraph"}, func(t *testing.T) error {
			_, err := FitStats(acc(t, AccumulatorOptions{}, []float32{1, 2}, []float32{2, 1}), Options{Dim: 1, Lambda: 0.5})
			return err
		}},
		// diagnostics
		{"graph TV rows", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := GraphTV(errGraph(t), tensor.New(3, 2)); return err }},
		{"alignment rows", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := Alignment(errGraph(t), tensor.New(3, 2), 10, rand.New(rand.NewPCG(1, 1)))
			return err
		}},
		{"alignment edgeless graph", []string{"ErrEmptyGraph"}, func(t *testing.T) error {
			g, err := NewGraph(4, nil)
			require.NoError(t, err)
			_, err = Alignment(g, x, 10, rand.New(rand.NewPCG(1, 1)))
			return err
		}},
		{"alignment zero rows", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := Alignment(errGraph(t), tensor.New(5, 2), 10, rand.New(rand.NewPCG(1, 1)))
			return err
		}},
		{"curvature widths", []string{"ErrBadInput"}, func(t *testing.T) error {
			_, err := Curvature(tensor.New(2, 3), x, CurvatureOptions{})
			return err
		}},
		{"curvature Inf state", []string{"ErrBadInput", "ErrNonFinite"}, func(t *testing.T) error {
			h := tensor.FromSlice([]float32{1, inf}, 1, 2)
			_, err := Curvature(h, x, CurvatureOptions{})
			return err
		}},
		{"norm stats 1-D", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := ComputeNormStats(tensor.New(4)); return err }},
		{"norm stats NaN", []string{"ErrBadInput", "ErrNonFinite"}, func(t *testing.T) error { _, err := ComputeNormStats(nan); return err }},
		{"norm stats zero rows", []string{"ErrBadInput"}, func(t *testing.T) error { _, err := ComputeNormStats(tensor.New(3, 2)); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(t)
			require.Error(t, err)
			want := map[string]bool{}
			for _, w := range c.want {
				want[w] = true
			}
			for name, s := range sentinels {
				assert.Equal(t, want[name], errors.Is(err, s), "errors.Is(%q, %s)", err, name)
			}
		})
	}
}

// The sentinels are distinct values (a planted alias would make every
// "only these" check above pass or fail together).
func TestSentinelsDistinct(t *testing.T) {
	for a, ea := range sentinels {
		for b, eb := range sentinels {
			if a != b {
				assert.False(t, errors.Is(ea, eb), "%s is %s", a, b)
			}
		}
	}
}
