package align

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// A loss that cannot work is an error when the model is built, never a
// panic at the first training step.
func TestBadLossConfigIsAnErrorAtConstruction(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	good := tinyAnchored(t, MKMMD{}, r)
	for name, loss := range map[string]Loss{
		"negative temperature":     InfoNCE{Temperature: -0.1},
		"NaN temperature":          CLIP{Temperature: math.NaN()},
		"empty alpha list":         MKMMD{Alphas: []float64{}},
		"zero alpha":               MKMMD{Alphas: []float64{1, 0}},
		"weights of another count": MKMMD{Alphas: []float64{1, 2}, Weights: []float64{1}},
		"negative bandwidth":       MKMMD{FixedBandwidth: -1},
		"unknown estimator":        MKMMD{Estimator: Estimator(9)},
		"nil loss":                 nil,
	} {
		_, err := NewAnchored(good.Rec, good.X, good.Y, loss, 0.2)
		require.ErrorIs(t, err, ErrBadConfig, name)
	}
	for _, w := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := NewAnchored(good.Rec, good.X, good.Y, MKMMD{}, w)
		require.ErrorIs(t, err, ErrBadConfig, "weight %v", w)
	}
	for _, loss := range []Loss{InfoNCE{}, CLIP{Temperature: 0.5}, MKMMD{Alphas: []float64{0.5, 1}, Weights: []float64{1, 2}}} {
		_, err := NewAnchored(good.Rec, good.X, good.Y, loss, 0.2)
		require.NoError(t, err)
	}
}
