package recpca

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The solvers' randomness comes from Options.Seed alone: the same Options
// give bit-identical projections, also when one Options value is used by
// concurrent fits; another Seed draws another start block (a different,
// equally converged answer); the zero Seed is the generator a nil Rand
// meant before Seed existed (PCG(1, 2)), so default results did not move;
// and the deprecated Rand still wins when set.
func TestFitSeed(t *testing.T) {
	x, g := synth(300, 40, 4, 11)
	for _, solver := range []Solver{SolverRandomized, SolverRandomized32, SolverKrylov32} {
		t.Run(solver.String(), func(t *testing.T) {
			opt := Options{Dim: 6, Lambda: 0.3, Solver: solver, Seed: 7}
			fitW := func(o Options) []float64 {
				p, err := Fit(x, g, o)
				require.NoError(t, err)
				return p.W.RawMatrix().Data
			}
			first := fitW(opt)
			var wg sync.WaitGroup
			again := make([][]float64, 2)
			for i := range again {
				wg.Go(func() { again[i] = fitW(opt) })
			}
			wg.Wait()
			for _, w := range again {
				assert.Equal(t, first, w, "same Options, same projection")
			}
			other := opt
			other.Seed = 8
			assert.NotEqual(t, first, fitW(other), "another seed, another start block")

			zero := opt
			zero.Seed = 0
			old := zero
			old.Rand = rand.New(rand.NewPCG(1, 2))
			assert.Equal(t, fitW(old), fitW(zero), "Seed 0 is the former nil-Rand default")

			dep := opt
			dep.Rand = rand.New(rand.NewPCG(5, 5))
			assert.NotEqual(t, first, fitW(dep), "a set Rand is drawn from instead of Seed's generator")
		})
	}
}
