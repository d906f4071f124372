package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
)

// TestRunML100K runs the whole example at a small size on ML-100K: it
// trains, evaluates, saves, reloads through the registries with scores
// equal bit for bit, and serves every user from several goroutines. With
// LLMREC_LONG=1 it runs the default settings and checks the quality claim:
// better than the popularity baseline.
func TestRunML100K(t *testing.T) {
	dir := sharedtest.Dir(t, "ml-100k")
	args := []string{"-data", dir, "-epochs", "2", "-maxlen", "8", "-dim", "16", "-hidden", "16", "-rank", "8", "-servers", "4"}
	long := os.Getenv("LLMREC_LONG") != ""
	if long {
		args = []string{"-data", dir}
	}
	save := filepath.Join(t.TempDir(), "m.safetensors")
	var out, errb bytes.Buffer
	require.NoError(t, run(context.Background(), append(args, "-out", save), &out, &errb), errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var s summary
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &s))
	require.True(t, s.ReloadIdentity)
	require.Equal(t, 943, s.ServedUsers)
	require.Equal(t, 1682, s.Items)
	require.Greater(t, s.Test["ndcg@10"], 0.0)
	if long {
		require.True(t, s.BeatsPop, "test ndcg@10 %v, popularity %v", s.Test["ndcg@10"], s.Popularity["ndcg@10"])
	}
	// the saved files name the user's kinds, and load without this test's help
	cfg, err := os.ReadFile(backbone.JSONPath(save))
	require.NoError(t, err)
	require.Contains(t, string(cfg), gruKind)
	require.Contains(t, string(cfg), lowRankKind)
	m, err := backbone.Load(save)
	require.NoError(t, err)
	require.IsType(t, &lowRankTable{}, m.Items)
}

func TestRunErrors(t *testing.T) {
	var out, errb bytes.Buffer
	require.ErrorContains(t, run(context.Background(), nil, &out, &errb), "-data is required")
	require.Error(t, run(context.Background(), []string{"-data", filepath.Join(t.TempDir(), "none")}, &out, &errb))
	_, err := newGRUEncoder(nil, backbone.EncoderConfig{Kind: gruKind, Dim: 4, MaxLen: 3, Custom: []byte(`{"hidden":0}`)})
	require.Error(t, err)
	_, err = buildLowRank(backbone.TableSpec{Kind: lowRankKind, NumItems: 5, Dim: 4})
	require.Error(t, err)
}

// The low-rank table's Backward is the gradient of Σ Lookup(ids)⊙R,
// checked against central differences (row 0, the padding, gets none).
func TestLowRankTableGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tb := newLowRankTable(rng, 6, 3, 4)
	ids := []int{2, 0, 5, 2}
	r := tensor.New(len(ids), 4)
	for i := range r.Data {
		r.Data[i] = float32(rng.NormFloat64())
	}
	loss := func() float64 {
		var out tensor.Tensor
		tb.Lookup(&out, ids)
		s := 0.0
		for i, v := range out.Data {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}
	loss()
	require.NoError(t, tb.Backward(r))
	for _, p := range tb.Params() {
		w := p.Value.Data.Data
		for j := range w {
			if p.Name == "a" && j < 3 {
				continue // padding row: no gradient by design (as torch's padding_idx)
			}
			old := w[j]
			w[j] = old + 1e-2
			lp := loss()
			w[j] = old - 1e-2
			lm := loss()
			w[j] = old
			require.InDelta(t, (lp-lm)/2e-2, p.Value.Grad.Data[j], 2e-3, "%s[%d]", p.Name, j)
		}
	}
	require.Equal(t, []float32{0, 0, 0}, tb.A.Grad.Data[:3], "no gradient to the padding row")
}
