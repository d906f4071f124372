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
	for _, v := range []string{"id", "text", "pad_infonce", "pad_noanchor", "pad_nomix", "pad", "pad_tfllmer"} {
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
	err = run(context.Background(), []string{"-data", dir, "-select3", "hr@10,cold_hr"}, &stdout, &stderr)
	require.ErrorContains(t, err, `unknown metric "cold_hr"`)
	err = run(context.Background(), []string{"-data", dir, "-select3", "hr@10:0"}, &stdout, &stderr)
	require.ErrorContains(t, err, "positive integer")
}

// The phase-3 options of the Beauty cold-item study: -select3 selects the
// phase-3 weights by each listed validation metric (pad and mix_texttower,
// each also as _coldsel) from one joint run, which gives exactly what a run
// with that metric alone gives; the cold selection keeps the epoch with
// the best validation cold-bin NDCG@10 it logged; -ckpt reuses phase 1, the
// text tower and phase 2 in later runs with the same results.
func TestRunSelect3AndCheckpoints(t *testing.T) {
	dir := writeToyDataset(t)
	ckpt := t.TempDir()
	args := func(sel string) []string {
		return []string{"-data", dir, "-seeds", "2", "-dim", "8", "-blocks", "1", "-maxlen", "6", "-batch", "16",
			"-epochs1", "2", "-epochs2", "1", "-epochs3", "8", "-patience", "2", "-bins", "5", "-eval-users", "0", "-align-rows", "32",
			"-threads", "1", "-variants", "id,text,pad,mix_texttower", "-select3", sel, "-ckpt", ckpt}
	}
	type series struct {
		NDCG []float64 `json:"ndcg@10"`
		HR   []float64 `json:"hr@10"`
		Cold []float64 `json:"cold_ndcg@10"`
	}
	runOnce := func(sel string) (map[string]series, string) {
		var stdout, stderr bytes.Buffer
		require.NoError(t, run(context.Background(), args(sel), &stdout, &stderr), stderr.String())
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		var sum struct{ Variants map[string]series }
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum))
		return sum.Variants, stderr.String()
	}
	joint, log1 := runOnce("hr@10,cold_ndcg@10,hr@10:3")
	for _, v := range []string{"id", "text", "pad_nomix", "pad", "pad_coldsel", "pad_cap3", "mix_texttower", "mix_texttower_coldsel", "mix_texttower_cap3"} {
		require.Len(t, joint[v].Cold, 2, v)
	}
	require.NotContains(t, log1, " loaded")

	// each selection kept the epoch of its best logged validation metric
	// (the first on ties) and stopped -patience (2) epochs after it, as
	// a run stopping on that metric alone; training ran until the last
	// selection stopped
	early := 0
	for _, base := range []string{"pad", "mix_texttower"} {
		for seed := 1; seed <= 2; seed++ {
			var hr, cold []float64
			kept, stop := map[string]int{}, map[string]int{}
			for _, l := range strings.Split(log1, "\n") {
				if strings.Contains(l, fmt.Sprintf(`msg="seed %d phase 3 (%s)"`, seed, base)) {
					var h, c float64
					_, err := fmt.Sscanf(field(l, "valid_hr@10")+" "+field(l, "valid_cold_ndcg@10"), "%g %g", &h, &c)
					require.NoError(t, err, l)
					hr, cold = append(hr, h), append(cold, c)
				}
				if strings.Contains(l, fmt.Sprintf(`msg="seed %d phase 3 (%s) done"`, seed, base)) {
					var k, st int
					_, err := fmt.Sscanf(field(l, "best_epoch")+" "+field(l, "stop_epoch"), "%d %d", &k, &st)
					require.NoError(t, err, l)
					key := field(l, "select")
					if field(l, "cap") != "0" {
						key += ":" + field(l, "cap")
					}
					kept[key], stop[key] = k, st
				}
			}
			require.NotEmpty(t, hr, "%s seed %d: no epochs logged", base, seed)
			for metric, vals := range map[string][]float64{"hr@10": hr, "cold_ndcg@10": cold, "hr@10:3": hr[:min(3, len(hr))]} {
				best := 0
				for ep := 1; ep <= len(vals); ep++ {
					if vals[ep-1] > vals[best] {
						best = ep - 1
					}
					if ep-(best+1) >= 2 {
						break
					}
				}
				want := min(best+1+2, len(vals))
				require.Equal(t, best+1, kept[metric], "%s seed %d %s: best epoch", base, seed, metric)
				require.Equal(t, want, stop[metric], "%s seed %d %s: stop epoch", base, seed, metric)
				if want < len(vals) {
					early++
				}
			}
			require.Equal(t, len(hr), max(stop["hr@10"], stop["cold_ndcg@10"]), "%s seed %d: joint run length", base, seed)
		}
	}
	require.Positive(t, early, "some selection stopped before the joint run ended")

	files, err := filepath.Glob(filepath.Join(ckpt, "*.safetensors"))
	require.NoError(t, err)
	require.Len(t, files, 6, "phase 1, text tower and phase 2 for each of 2 seeds")

	for _, sel := range []string{"cold_ndcg@10", "hr@10"} {
		alone, log2 := runOnce(sel)
		require.Equal(t, 6, strings.Count(log2, " loaded"), "every checkpoint reused")
		require.NotContains(t, log2, `phase 1 (id)" epoch=`)
		require.Len(t, alone, 5)
		require.Contains(t, log2, "cap=0")
		for v, s := range alone {
			require.Equal(t, joint[v], s, "%s: alone and joint, trained and reused must agree", v)
		}
	}
}

// field returns the value of key=value in a slog text line ("" if absent).
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
