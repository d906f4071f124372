package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/data/sharedtest"
)

func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	return last
}

func TestRunSynthetic(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-case", "synthetic", "-n", "400", "-dim", "32", "-d", "4", "-reps", "2"}, &out))
	last := lastJSON(t, out.String())
	assert.Equal(t, 400.0, last["items"])
	assert.Equal(t, "krylov32", last["solver"])
	assert.Len(t, last["fit_seconds"], 2)
	rv := last["retained_variance"].(float64)
	assert.True(t, rv > 0 && rv < last["pca_retained_variance"].(float64)+1e-9, "retained %v", rv)
	assert.Equal(t, 2, strings.Count(out.String(), "fit_seconds "))
}

// The Beauty case: the dataset's 12,101 items and its window-1 graph.
func TestRunBeauty(t *testing.T) {
	dir := sharedtest.Dir(t, "amazon-beauty")
	var out bytes.Buffer
	require.NoError(t, run([]string{"-data", dir}, &out))
	last := lastJSON(t, out.String())
	assert.Equal(t, 12101.0, last["items"])
	assert.Equal(t, 512.0, last["dim"])
	assert.Equal(t, 111649.0, last["edges"])
	assert.Equal(t, "exact", last["solver"])
}

func TestRunErrors(t *testing.T) {
	var out bytes.Buffer
	assert.Error(t, run([]string{"-case", "nope"}, &out))
	assert.Error(t, run([]string{"-case", "synthetic", "-reps", "0"}, &out))
	assert.Error(t, run([]string{"-case", "synthetic", "-n", "100", "-dim", "8", "-solver", "x"}, &out))
	assert.Error(t, run([]string{"-data", t.TempDir()}, &out))
}
