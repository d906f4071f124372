package backbone

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

// Issue 21, sharp edge: the Recommender of a loaded model reaches its item
// table (SeqModel().Items) so that NewItemEncoder can be built for it
// (before: Model() was an unexported scorer and nothing else led there),
// and Window reports the encoder's MaxLen.
func TestLoadedRecommenderReachesItemEncoder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	m := hardenModel(t, 5)
	require.NoError(t, m.Save(path))
	rec, err := LoadRecommender(path)
	require.NoError(t, err)
	sm := rec.SeqModel()
	require.NotNil(t, sm)
	require.Equal(t, m.Items.NumItems(), sm.Items.NumItems())
	require.Equal(t, m.Enc.MaxLen(), rec.Window())

	llm := tensor.New(sm.Items.NumItems()+1, 5)
	for i := range llm.Data {
		llm.Data[i] = float32(i%7) - 3 + float32(i%3)/10
	}
	enc, err := NewItemEncoder(sm.Items, ItemEncoderOptions{LLM: llm})
	require.NoError(t, err)
	require.NoError(t, rec.SetItemEncoder(enc))
	first, err := rec.AddItems(tensor.FromSlice(append([]float32(nil), llm.Data[5:15]...), 2, 5))
	require.NoError(t, err)
	require.Equal(t, sm.Items.NumItems()+1, first)
	// after an addition the SeqModel is still the trained one
	require.Same(t, sm, rec.SeqModel())

	// any other ItemScorer: no SeqModel, Window from the model or 0
	other := NewRecommenderFor(rec.Model())
	require.NotNil(t, other.SeqModel(), "a SeqModel's scorer keeps its model")
	require.Nil(t, NewRecommenderFor(windowless{rec.Model()}).SeqModel())
	require.Equal(t, 0, NewRecommenderFor(windowless{rec.Model()}).Window())
}

// windowless hides the concrete scorer behind the bare interface.
type windowless struct{ ItemScorer }
