package backbone

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmrec/llmrec/internal/testfile"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hardenModel(t *testing.T, seed uint64) *SeqModel {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	cfg, err := DefaultEncoderConfig(KindSASRec)
	require.NoError(t, err)
	cfg.Dim, cfg.MaxLen, cfg.Blocks = 4, 3, 1
	enc, err := NewSASRec(r, cfg)
	require.NoError(t, err)
	m, err := NewSeqModel(enc, NewIDTable(r, 6, 4), ModelConfig{})
	require.NoError(t, err)
	return m
}

func readAll(t *testing.T, paths ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	out, err := testfile.Names(dir)
	require.NoError(t, err)
	return out
}

// Issue 12 row 6: when the .json beside the model cannot be written, Save
// fails and leaves both files as they were (before: the .safetensors was
// already replaced, so model and config disagreed).
func TestSaveJSONFailureReplacesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	require.NoError(t, hardenModel(t, 1).Save(path))
	before := readAll(t, path, JSONPath(path))

	// The .json cannot be replaced: a directory of that name.
	require.NoError(t, os.Remove(JSONPath(path)))
	require.NoError(t, os.Mkdir(JSONPath(path), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(JSONPath(path), "x"), nil, 0o644))
	require.Error(t, hardenModel(t, 2).Save(path))
	assert.Equal(t, before[0], readAll(t, path)[0], "the model file was replaced")
	assert.Equal(t, []string{"m.json", "m.safetensors"}, names(t, dir), "temporary files left")

	// And the other way round: the model cannot be replaced, so the .json
	// is put back.
	require.NoError(t, os.RemoveAll(JSONPath(path)))
	require.NoError(t, os.WriteFile(JSONPath(path), before[1], 0o644))
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Mkdir(path, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(path, "x"), nil, 0o644))
	require.Error(t, hardenModel(t, 2).Save(path))
	assert.Equal(t, before[1], readAll(t, JSONPath(path))[0], "the .json was replaced")
	assert.Equal(t, []string{"m.json", "m.safetensors"}, names(t, dir), "temporary files left")
}

// Issue 12 row 7: a save killed mid-write leaves temporary files; the next
// Save of the same path removes them.
func TestSaveRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	for _, n := range []string{".m.safetensors.tmp2795161412", ".m.json.tmp123"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), make([]byte, 1<<10), 0o600))
	}
	require.NoError(t, hardenModel(t, 1).Save(path))
	assert.Equal(t, []string{"m.json", "m.safetensors"}, names(t, dir))
	_, err := Load(path)
	require.NoError(t, err)
}

// Issue 12 row 5: Save refuses a model with a non-finite weight and writes
// nothing.
func TestSaveRefusesNonFinite(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		dir := t.TempDir()
		m := hardenModel(t, 1)
		m.Enc.Params()[0].Value.Data.Data[2] = v
		err := m.Save(filepath.Join(dir, "m.safetensors"))
		require.ErrorIs(t, err, ErrNonFinite)
		assert.Empty(t, names(t, dir))
	}
}

// Issue 12 row 11: strict configs. Validate rejects what the loaders must
// not accept (each case is also a hostile file in internal/hostile).
func TestConfigValidate(t *testing.T) {
	good := hardenModel(t, 1).Config()
	require.NoError(t, good.Validate())
	bad := map[string]func(c *SavedConfig){
		"ln_eps -1":        func(c *SavedConfig) { c.Encoder.LNEps = -1 },
		"ln_eps NaN":       func(c *SavedConfig) { c.Encoder.LNEps = math.NaN() },
		"dropout 1":        func(c *SavedConfig) { c.Encoder.Dropout = 1 },
		"num_neg 1e15":     func(c *SavedConfig) { c.Model.NumNeg = 1e15 },
		"num_neg -1":       func(c *SavedConfig) { c.Model.NumNeg = -1 },
		"mask_prob NaN":    func(c *SavedConfig) { c.Model.MaskProb = math.NaN() },
		"task":             func(c *SavedConfig) { c.Model.Task = "guess" },
		"items 2^40":       func(c *SavedConfig) { c.Items.NumItems = 1 << 40 },
		"items 0":          func(c *SavedConfig) { c.Items.NumItems = 0 },
		"dim 0":            func(c *SavedConfig) { c.Encoder.Dim = 0 },
		"max_len 2^20":     func(c *SavedConfig) { c.Encoder.MaxLen = 1 << 20 },
		"blocks 1000":      func(c *SavedConfig) { c.Encoder.Blocks = 1000 },
		"scale Inf":        func(c *SavedConfig) { c.Items.Scale = math.Inf(1) },
		"format":           func(c *SavedConfig) { c.Format = "llmrec.backbone/v0" },
		"part of 3 items":  func(c *SavedConfig) { c.Items.Parts = []TableSpec{{Kind: "id", NumItems: 3, Dim: 4}} },
		"hidden width 0":   func(c *SavedConfig) { c.Items.Hidden = []int{0} },
		"heads above dim":  func(c *SavedConfig) { c.Encoder.Heads = 5 },
		"inner above caps": func(c *SavedConfig) { c.Encoder.Inner = MaxWidth + 1 },
	}
	for name, edit := range bad {
		c := good
		edit(&c)
		assert.ErrorIs(t, c.Validate(), ErrBadConfig, name)
	}
}
