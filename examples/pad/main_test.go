package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// writeToyDataset writes a folder laid out like ../shared/data: users walk
// item chains i, i+1, ... (so there is something to learn), and every item
// has a random 8-d "text" vector.
func writeToyDataset(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	const users, items = 80, 30
	var sb strings.Builder
	for u := 1; u <= users; u++ {
		n := 5 + rng.IntN(4)
		start := 1 + rng.IntN(items-n+1)
		if u == 1 {
			start = items - n + 1 // item ids run up to items
		}
		fmt.Fprintf(&sb, "%d", u)
		for j := range n {
			fmt.Fprintf(&sb, " %d", start+j)
		}
		sb.WriteString("\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "toy_seq.txt"), []byte(sb.String()), 0o644))
	emb := tensor.New(items+1, 8)
	for i := 8; i < len(emb.Data); i++ {
		emb.Data[i] = float32(rng.NormFloat64())
	}
	require.NoError(t, data.WriteNPY(filepath.Join(dir, "item_emb_toy.npy"), emb))
	return dir
}

// Every phase and variant runs, the last line is the JSON summary the issue
// asks for, and the saved mixture reloads and serves.
func TestRunAllVariantsAndServe(t *testing.T) {
	dir := writeToyDataset(t)
	out := filepath.Join(t.TempDir(), "pad.safetensors")
	var stdout, stderr bytes.Buffer
	args := []string{"-data", dir, "-seeds", "2", "-dim", "8", "-blocks", "1", "-maxlen", "6", "-batch", "16",
		"-epochs1", "2", "-epochs2", "1", "-epochs3", "1", "-bins", "5", "-eval-users", "0", "-align-rows", "32",
		"-threads", "1", "-out", out}
	require.NoError(t, run(context.Background(), args, &stdout, &stderr), stderr.String())

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum struct {
		Dataset  string `json:"dataset"`
		Variants map[string]map[string]json.RawMessage
		Forget   map[string][]float64 `json:"forgetting"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum), "last line must be the JSON summary")
	for _, v := range []string{"id", "text", "pad_infonce", "pad_noanchor", "pad_nomix", "pad"} {
		for _, k := range []string{"ndcg@10", "hr@10", "cold_ndcg@10", "warm_ndcg@10"} {
			var vals []float64
			require.NoError(t, json.Unmarshal(sum.Variants[v][k], &vals), "%s %s", v, k)
			require.Len(t, vals, 2, "%s %s: one value per seed", v, k)
			for _, x := range vals {
				require.True(t, x >= 0 && x <= 1, "%s %s = %v", v, k, x)
			}
		}
	}
	require.Len(t, sum.Forget["mkmmd"], 2)
	require.Len(t, sum.Forget["infonce"], 2)
	require.Len(t, sum.Forget["mkmmd_norec"], 2)
	require.Len(t, sum.Forget["infonce_norec"], 2)
	require.Contains(t, stdout.String(), "# forgetting")

	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"-data", dir, "-bins", "5", "-serve", out}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "via backbone.Recommender")
}

func TestRunRejectsBadInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Error(t, run(context.Background(), []string{"-data", t.TempDir()}, &stdout, &stderr), "empty folder")
	dir := writeToyDataset(t)
	require.Error(t, run(context.Background(), []string{"-data", dir, "-emb", filepath.Join(dir, "missing.npy")}, &stdout, &stderr))
	err := run(context.Background(), []string{"-data", dir, "-variants", "id,padd"}, &stdout, &stderr)
	require.ErrorContains(t, err, `unknown "padd"`)
}
