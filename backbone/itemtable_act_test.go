package backbone

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// savedItemsJSON is the "items" section of a checkpoint written before the
// adapter activation was an nn.Activation (when it was a string): an ID
// table, a normalized identity adapter, a GELU and a ReLU adapter.
const savedItemsJSON = `{"kind":"concat","num_items":5,"dim":16,"parts":[` +
	`{"kind":"id","num_items":5,"dim":4},` +
	`{"kind":"normalized","num_items":5,"dim":4,"scale":2,"parts":[{"kind":"adapter","num_items":5,"dim":4,"llm_dim":5,"activation":"none"}]},` +
	`{"kind":"adapter","num_items":5,"dim":4,"llm_dim":5,"hidden":[6],"activation":"gelu"},` +
	`{"kind":"adapter","num_items":5,"dim":4,"llm_dim":5,"hidden":[3,6],"activation":"relu"}]}`

// An old checkpoint's table spec decodes, builds the same activations and
// is written back byte for byte.
func TestAdapterActivationOldJSON(t *testing.T) {
	var spec TableSpec
	require.NoError(t, json.Unmarshal([]byte(savedItemsJSON), &spec))
	require.Nil(t, spec.Parts[0].Activation, "the id table has no activation")
	want := []nn.Activation{nn.Identity, nn.GELU, nn.ReLU}
	got := []*nn.Activation{spec.Parts[1].Parts[0].Activation, spec.Parts[2].Activation, spec.Parts[3].Activation}
	for i := range want {
		require.NotNil(t, got[i])
		require.Equal(t, want[i], *got[i])
	}
	tab, err := BuildTable(spec)
	require.NoError(t, err)
	b, err := json.Marshal(tab.Spec())
	require.NoError(t, err)
	require.Equal(t, savedItemsJSON, string(b))

	// An adapter spec without an activation is GELU, as before.
	require.NoError(t, json.Unmarshal([]byte(`{"kind":"adapter","num_items":5,"dim":4,"llm_dim":5,"hidden":[6]}`), &spec))
	tab, err = BuildTable(spec)
	require.NoError(t, err)
	require.Equal(t, nn.GELU, *tab.Spec().Activation)

	// An unknown name is an error when the JSON is decoded.
	err = json.Unmarshal([]byte(`{"kind":"adapter","num_items":5,"dim":4,"llm_dim":5,"activation":"tanh"}`), &spec)
	require.ErrorIs(t, err, ErrBadConfig)
}

func TestAdapterActivationConfig(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	llm := randLLM(rng, 4, 3)
	// nil keeps the adapter's default, GELU.
	a, err := NewAdapter(rng, llm, 2, AdapterConfig{Hidden: []int{3}})
	require.NoError(t, err)
	require.Equal(t, nn.GELU, *a.Spec().Activation)
	a, err = NewAdapter(rng, llm, 2, AdapterConfig{Hidden: []int{3}, Activation: new(nn.ReLU)})
	require.NoError(t, err)
	require.Equal(t, nn.ReLU, *a.Spec().Activation)
	// Spec hands out a copy.
	*a.Spec().Activation = nn.Identity
	require.Equal(t, nn.ReLU, *a.Spec().Activation)

	for _, bad := range []nn.Activation{-1, 3, 9} {
		_, err = NewAdapter(rng, llm, 2, AdapterConfig{Activation: &bad})
		require.ErrorIs(t, err, ErrBadConfig, "%d", int(bad))
		_, err = NewAdapterTable(rng, llm, 2, []int{3}, bad)
		require.ErrorIs(t, err, ErrBadConfig, "%d", int(bad))
	}

	// Encoders have no identity FFN.
	enc, err := DefaultEncoderConfig(KindSASRec)
	require.NoError(t, err)
	enc.Activation = nn.Identity
	_, err = NewEncoder(rng, enc)
	require.ErrorIs(t, err, ErrBadConfig)
}

// An identity adapter with a hidden layer is the composition of its two
// affine maps, computed here with plain loops.
func TestAdapterIdentityIsAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2))
	llm := randLLM(rng, 4, 3)
	a, err := NewAdapterTable(rng, llm, 2, []int{5}, nn.Identity)
	require.NoError(t, err)
	affine := func(l *nn.Linear, x []float64) []float64 {
		w, b := l.Weight.Data, l.Bias.Data.Data
		y := make([]float64, l.Out())
		for o := range y {
			y[o] = float64(b[o])
			for i, v := range x {
				y[o] += float64(w.Data[o*l.In()+i]) * v
			}
		}
		return y
	}
	got := a.Materialize(&tensor.Tensor{})
	for r := 1; r < 4; r++ {
		x := make([]float64, 3)
		for i := range x {
			x[i] = float64(llm.Row(r)[i])
		}
		want := affine(a.layers[1], affine(a.layers[0], x))
		for j, v := range want {
			require.InDelta(t, v, got.Row(r)[j], 1e-5)
		}
	}
}
