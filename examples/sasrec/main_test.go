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

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
)

// writeSeqFile writes a small synthetic dataset (user item item ...).
func writeSeqFile(t *testing.T) string {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for u := 1; u <= 40; u++ {
		fmt.Fprint(&b, u)
		start := 1 + rng.IntN(20)
		for j := 0; j < 4+rng.IntN(6); j++ {
			fmt.Fprint(&b, " ", 1+(start+j)%25)
		}
		b.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "toy.txt")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

func lastJSON(t *testing.T, out string) map[string]any {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &m), "last line: %s", lines[len(lines)-1])
	return m
}

func TestRunReportsJSONLastLine(t *testing.T) {
	path := writeSeqFile(t)
	for _, model := range []string{"sasrec", "gru4rec", "bert4rec"} {
		t.Run(model, func(t *testing.T) {
			var out, errb bytes.Buffer
			save := filepath.Join(t.TempDir(), "m.safetensors")
			err := run(context.Background(), []string{"-data", path, "-format", "seq", "-model", model, "-dim", "8",
				"-maxlen", "6", "-blocks", "1", "-epochs", "3", "-batch", "16", "-protocol", "sampled20", "-out", save}, &out, &errb)
			require.NoError(t, err, errb.String())
			require.Contains(t, out.String(), "epoch    1 loss")
			m := lastJSON(t, out.String())
			for _, k := range []string{"dataset", "model", "users", "items", "epochs", "best_epoch", "valid", "test", "epoch_seconds", "train_seconds"} {
				require.Contains(t, m, k)
			}
			require.Equal(t, model, m["model"])
			require.EqualValues(t, 40, m["users"])
			require.EqualValues(t, 3, m["epochs"])
			require.Len(t, m["epoch_seconds"], 3)
			for _, k := range []string{"hr@10", "ndcg@10", "mrr@10"} {
				require.Contains(t, m["test"], k)
			}
			// the saved model evaluates to the same test metrics
			out.Reset()
			require.NoError(t, run(context.Background(), []string{"-data", path, "-load", save, "-protocol", "sampled20", "-quiet"}, &out, &errb))
			require.Equal(t, m["test"], lastJSON(t, out.String())["test"])
		})
	}
}

func TestRunLossesAndSchedules(t *testing.T) {
	path := writeSeqFile(t)
	for _, args := range [][]string{
		{"-loss", "sampled", "-negs", "4", "-temperature", "0.5"},
		{"-loss", "ce", "-schedule", "cosine", "-warmup", "2", "-optimizer", "adamw", "-wd", "0.01"},
		{"-loss", "ce", "-optimizer", "sgd", "-momentum", "0.9", "-lr", "0.05", "-schedule", "warmup", "-warmup", "3"},
	} {
		var out, errb bytes.Buffer
		base := []string{"-data", path, "-format", "seq", "-dim", "8", "-maxlen", "6", "-blocks", "1", "-epochs", "2",
			"-batch", "16", "-protocol", "sampled20", "-quiet"}
		require.NoError(t, run(context.Background(), append(base, args...), &out, &errb), "%v", args)
		m := lastJSON(t, out.String())
		require.Equal(t, args[1], m["loss"])
		by := m["test_by_protocol"].(map[string]any)
		require.Contains(t, by, "full")
		require.Contains(t, by, "sampled20")
		require.Equal(t, m["test"], by["sampled20"])
	}
}

func TestRunErrors(t *testing.T) {
	var out, errb bytes.Buffer
	require.ErrorContains(t, run(context.Background(), nil, &out, &errb), "-data is required")
	require.ErrorContains(t, run(context.Background(), []string{"-data", "x", "-model", "lstm"}, &out, &errb), `-model "lstm"`)
	require.Error(t, run(context.Background(), []string{"-data", filepath.Join(t.TempDir(), "missing.txt")}, &out, &errb))
	path := writeSeqFile(t)
	for _, bad := range [][]string{{"-loss", "hinge"}, {"-loss", "ce", "-temperature", "-1"}, {"-schedule", "step"}, {"-optimizer", "lion"}} {
		err := run(context.Background(), append([]string{"-data", path, "-format", "seq", "-epochs", "1"}, bad...), &out, &errb)
		require.ErrorIs(t, err, backbone.ErrBadConfig, "%v", bad)
	}
}
