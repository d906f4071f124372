package nn

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 12 row 5 for nn checkpoints: a NaN or infinite weight is refused
// when saving and when loading (the parameters keep their values), and
// every malformed file is ErrBadCheckpoint.
func TestCheckpointNonFiniteAndMalformed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.safetensors")
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		os.Remove(path)
		err := SaveCheckpoint(path, []Param{newParam("w", 1, v, 3)}, nil)
		require.ErrorIs(t, err, ErrNonFinite)
		assert.NoFileExists(t, path)

		require.NoError(t, safetensors.WriteFile(path, []safetensors.Named{{Name: "w", Tensor: tensor.FromSlice([]float32{1, v, 3}, 3)}}, nil))
		dst := []Param{newParam("w", 7, 8, 9)}
		err = LoadCheckpoint(path, dst)
		require.ErrorIs(t, err, ErrNonFinite)
		require.ErrorIs(t, err, ErrBadCheckpoint)
		assert.Equal(t, []float32{7, 8, 9}, dst[0].Value.Data.Data, "parameters changed by a failed load")
	}

	require.NoError(t, os.WriteFile(path, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"w\":1}        "), 0o644))
	err := LoadCheckpoint(path, []Param{newParam("w", 0)})
	require.ErrorIs(t, err, ErrBadCheckpoint)
	require.ErrorIs(t, err, safetensors.ErrFormat)

	require.NoError(t, SaveCheckpoint(path, []Param{newParam("a", 1)}, nil))
	err = LoadCheckpoint(path, []Param{newParam("b", 1)})
	var ce *CheckpointError
	require.True(t, errors.As(err, &ce))
	require.ErrorIs(t, err, ErrBadCheckpoint)

	_, err = os.Stat(filepath.Join(dir, "missing.safetensors"))
	require.Error(t, err)
	err = LoadCheckpoint(filepath.Join(dir, "missing.safetensors"), []Param{newParam("a", 1)})
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.NotErrorIs(t, err, ErrBadCheckpoint)
}
