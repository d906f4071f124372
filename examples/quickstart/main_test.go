package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstartReduced runs the whole flow on the embedded data with two
// epochs and checks the report's structure (not its accuracy: two epochs
// prove nothing about quality) and the plots.
func TestQuickstartReduced(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-epochs", "2", "-plots", dir}, &out, &errb)
	require.NoError(t, err, errb.String())
	text := out.String()
	for _, want := range []string{"EMBEDDED SYNTHETIC", "2000 users, 1000 items", "Rec-PCA 128 -> 64",
		"ID-only      epoch  2", "LLM-enhanced epoch  2", "HR@10", "LLM vs ID", "-data"} {
		assert.Contains(t, text, want)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var rep report
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &rep), "last line is the JSON summary")
	assert.True(t, rep.Synthetic)
	assert.Equal(t, 2000, rep.Users)
	assert.Equal(t, 1000, rep.Items)
	require.Len(t, rep.Models, 2)
	for _, m := range rep.Models {
		assert.Len(t, m.Losses, 2, m.Name)
		assert.Equal(t, 2000.0, m.Test["count"], m.Name)
		hr := m.Test["hr@10"]
		assert.True(t, hr > 0 && hr <= 1, "%s hr@10 %v", m.Name, hr)
		assert.GreaterOrEqual(t, hr, m.Test["ndcg@10"], m.Name)
	}
	for _, name := range []string{"loss.png", "valid_ndcg.png", "norms.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		_, err = png.Decode(f)
		f.Close()
		require.NoError(t, err, name)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-epochs", "0"}, {"-target-var", "1.5"}, {"stray"}, {"-data", filepath.Join(t.TempDir(), "nope")},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		assert.Error(t, err, "%v", args)
	}
}

// A folder with a sequence file but no embeddings is refused with a message
// naming what is missing.
func TestDataDirWithoutEmbeddings(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x_seq.txt"), []byte("1 1 2 3\n2 2 3 1\n"), 0o644))
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-data", dir}, &out, &errb)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "item-embedding")
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	assert.Error(t, run(ctx, nil, &out, &errb))
}
