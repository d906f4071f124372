package backbone

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor/safetensors"
)

// writeBare saves m, then rewrites its .safetensors without the llmrec
// metadata (as another tool would write it), so that its config can only
// come from the .json sidecar.
func writeBare(t *testing.T, m *SeqModel, path string) {
	t.Helper()
	require.NoError(t, m.Save(path))
	var ts []safetensors.Named
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	require.NoError(t, safetensors.WriteFile(path, ts, nil))
}

// Issue 21, row 6: a .json sidecar that is a link to an endless file
// (/dev/zero) or a huge one is refused at once (before: Load read it
// forever, a fatal out-of-memory). A bare model with a normal sidecar still
// loads from it.
func TestSidecarBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	m := hardenModel(t, 3)
	writeBare(t, m, path)
	got, err := Load(path)
	require.NoError(t, err, "a bare model loads its config from the sidecar")
	require.Equal(t, m.Config(), got.Config())

	if _, err := os.Stat("/dev/zero"); err == nil {
		require.NoError(t, os.Remove(JSONPath(path)))
		require.NoError(t, os.Symlink("/dev/zero", JSONPath(path)))
		_, err = Load(path)
		require.ErrorIs(t, err, ErrBadCheckpoint)
		require.ErrorContains(t, err, "not a regular file")
	}

	// a regular sidecar over the limit (sparse: no disk used)
	require.NoError(t, os.Remove(JSONPath(path)))
	fh, err := os.Create(JSONPath(path))
	require.NoError(t, err)
	require.NoError(t, fh.Truncate(1<<30))
	require.NoError(t, fh.Close())
	_, err = Load(path)
	require.ErrorIs(t, err, ErrBadCheckpoint)
	require.ErrorContains(t, err, "larger than 1048576 bytes")
}

// Issue 21, sharp edge: the .json beside a model written by Save is a
// readable copy; Load takes the config from the file's metadata, so editing
// or deleting the .json changes nothing (documented at JSONPath and Load).
func TestSidecarIsACopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	m := hardenModel(t, 4)
	require.NoError(t, m.Save(path))
	cfg := m.Config()
	cfg.Encoder.MaxLen = 99
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(JSONPath(path), b, 0o644))
	got, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, m.Config(), got.Config(), "the edited .json is not read")
	require.NoError(t, os.Remove(JSONPath(path)))
	_, err = Load(path)
	require.NoError(t, err, "nor is a deleted one missed")
}
