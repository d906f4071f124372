package safetensors_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmrec/llmrec/internal/testfile"
	"github.com/llmrec/llmrec/tensor/safetensors"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	out, err := testfile.Names(dir)
	require.NoError(t, err)
	return out
}

// A save killed mid-write leaves a temporary file; the next save of the same
// path removes it (issue 12 row 7), and only files of our exact pattern.
func TestWriteFileAtomicRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	for _, n := range []string{".m.safetensors.tmp123456", ".m.safetensors.tmp9", ".m.safetensors.tmpX1", ".other.tmp12", "m.safetensors.tmp5"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644))
	}
	require.NoError(t, safetensors.WriteFileAtomic(path, writeString("new")))
	assert.Equal(t, []string{".m.safetensors.tmpX1", ".other.tmp12", "m.safetensors", "m.safetensors.tmp5"}, dirNames(t, dir))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(b))
}

// When one file of a unit cannot be written, no target is replaced and no
// temporary file is left.
func TestWriteFilesAtomicWriteFailure(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "a.safetensors")
	require.NoError(t, os.WriteFile(a, []byte("old a"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("old b"), 0o644))
	boom := errors.New("boom")
	err := safetensors.WriteFilesAtomic(safetensors.AtomicFile{a, writeString("new a")}, safetensors.AtomicFile{b, func(io.Writer) error { return boom }})
	require.ErrorIs(t, err, boom)
	for p, want := range map[string]string{a: "old a", b: "old b"} {
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	assert.Equal(t, []string{"a.json", "a.safetensors"}, dirNames(t, dir))
}

// When the last rename fails (its target is a directory), the file already
// replaced gets its old contents back: the unit is all or nothing.
func TestWriteFilesAtomicRenameFailureRestores(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "a.safetensors")
	require.NoError(t, os.WriteFile(a, []byte("old a"), 0o644))
	require.NoError(t, os.Mkdir(b, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b, "x"), nil, 0o644))
	err := safetensors.WriteFilesAtomic(safetensors.AtomicFile{a, writeString("new a")}, safetensors.AtomicFile{b, writeString("new b")})
	require.Error(t, err)
	got, err := os.ReadFile(a)
	require.NoError(t, err)
	assert.Equal(t, "old a", string(got))
	assert.Equal(t, []string{"a.json", "a.safetensors"}, dirNames(t, dir))

	// A first file that did not exist before is removed again.
	c := filepath.Join(dir, "c.json")
	require.Error(t, safetensors.WriteFilesAtomic(safetensors.AtomicFile{c, writeString("new c")}, safetensors.AtomicFile{b, writeString("new b")}))
	assert.NoFileExists(t, c)
	assert.Equal(t, []string{"a.json", "a.safetensors"}, dirNames(t, dir))
}
