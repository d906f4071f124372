package tensor

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDropoutMaskRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, p := range []float64{0.5, 0.25, 0.2, 0.1, 0.6, 0.013} {
		for _, n := range []int{200003, 64 * 3125} {
			m := make([]float32, n)
			DropoutMask(rng, m, p)
			zeros, keep := 0, float32(1/(1-p))
			for _, v := range m {
				if v == 0 {
					zeros++
				} else {
					require.Equal(t, keep, v)
				}
			}
			// binomial: sd = sqrt(n p (1-p)) < 224; allow 5 sd (plus the 2^-16 rounding of p)
			require.InDelta(t, p*float64(n), float64(zeros), 1200, "p=%g n=%d", p, n)
		}
	}
}

func TestDropoutMaskIndependentBits(t *testing.T) {
	// Neighbouring elements share one 64-bit draw: their decisions must still
	// be independent (pairs of zeros at rate p², not p).
	rng := rand.New(rand.NewPCG(3, 4))
	m := make([]float32, 400000)
	DropoutMask(rng, m, 0.5)
	both := 0
	for i := 0; i+1 < len(m); i += 2 {
		if m[i] == 0 && m[i+1] == 0 {
			both++
		}
	}
	require.InDelta(t, 0.25*float64(len(m)/2), float64(both), 5*141)
}

func TestDropoutMaskEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m := []float32{7, 7, 7}
	DropoutMask(rng, m, 0)
	require.Equal(t, []float32{1, 1, 1}, m)
	DropoutMask(rng, m, 1)
	require.Equal(t, []float32{0, 0, 0}, m)
	DropoutMask(rng, nil, 0.5) // no panic on empty
}
