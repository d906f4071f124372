package moe

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// A gate or mixture that cannot work is an error when it is built.
func TestBadGateConfigIsAnErrorAtConstruction(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := tinyMixture(t, 12, 4, r)
	fg := m.Gate.(*FreqGate)
	fg.Norm = Normalization(7)
	_, err := NewMixture(m.Experts, fg, 1)
	require.ErrorIs(t, err, ErrBadConfig)
	fg.Norm = SigmoidNorm
	_, err = NewMixture(m.Experts, fg, -1)
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = NewMixture(m.Experts, nil, 1)
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = NewMixture(nil, fg, 1)
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = NewFeatureGate(r, tensor.New(13, 2), 3, Normalization(5))
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = NewFreqGate(make([]int, 13), [][]float64{})
	require.Error(t, err)
	_, err = NewMixture(m.Experts, fg, 1)
	require.NoError(t, err)
}
