package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunBeauty runs the program on Amazon Beauty (sampled100) and checks
// the statistics against the dataset's README and the shape of the last line.
func TestRunBeauty(t *testing.T) {
	dir := sharedtest.Dir(t, "amazon-beauty")
	var out bytes.Buffer
	require.NoError(t, run([]string{"-data", dir, "-protocol", "sampled100", "-seed", "42"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var last map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	assert.Equal(t, 22363.0, last["users"])
	assert.Equal(t, 12101.0, last["items"])
	assert.Equal(t, 198502.0, last["interactions"])
	assert.InDelta(t, 8.8764, last["avg_len"], 1e-4)
	assert.Equal(t, "sampled100", last["protocol"])
	test := last["test"].(map[string]any)
	for _, k := range []string{"hr@10", "ndcg@10", "mrr@10"} {
		v, ok := test[k].(float64)
		require.True(t, ok, k)
		assert.True(t, v > 0 && v < 1, "%s = %v", k, v)
	}
	assert.Contains(t, out.String(), "pop_bin")
}

func TestRunErrors(t *testing.T) {
	var out bytes.Buffer
	require.Error(t, run(nil, &out))
	require.Error(t, run([]string{"-data", "x", "-protocol", "top"}, &out))
	require.Error(t, run([]string{"-data", "does-not-exist"}, &out))
}
