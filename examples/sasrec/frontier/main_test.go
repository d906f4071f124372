package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTableAndFigure writes two seeds of two objectives and checks the
// table's means (worked out here by hand) and that the PNG exists; a folder
// without runs and a file that is not a run are errors.
func TestTableAndFigure(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	run := func(obj string, seed int, full, s100, train float64) string {
		return `{"dataset":"toy","objective":"` + obj + `","seed":` + itoa(seed) + `,"epochs":10,"best_epoch":5,` +
			`"valid":{"ndcg@10":0.1},"test_by_protocol":{"full":{"ndcg@10":` + ftoa(full) + `},"sampled100":{"ndcg@10":` + ftoa(s100) + `}},` +
			`"epoch_seconds":[1,1,1,1,1,1,1,1,1,1],"train_seconds":` + ftoa(train) + `,"eval_seconds":2,"load":1}`
	}
	write("a.json", run("ce", 1, 0.05, 0.30, 40))
	write("b.json", run("ce", 2, 0.07, 0.34, 60))
	write("c.json", run("bce-1", 1, 0.02, 0.30, 10))
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, runFrontier(context.Background(), []string{"-in", dir, "-out", out}, &stdout, &stderr))
	lines := strings.Split(stdout.String(), "\n")
	var ce, bce string
	for _, l := range lines {
		if strings.HasPrefix(l, "| ce ") {
			ce = l
		}
		if strings.HasPrefix(l, "| bce-1 ") {
			bce = l
		}
	}
	require.Contains(t, ce, "| 2 | ", "two seeds")
	require.Contains(t, ce, "0.0600 ± 0.0141", "mean and sample std of 0.05 and 0.07")
	require.Contains(t, ce, "| 5.00 ± 1.41 |", "40 and 60 train seconds over 10 epochs")
	require.Less(t, strings.Index(stdout.String(), "| bce-1 "), strings.Index(stdout.String(), "| ce "), "cheapest first")
	require.NotEmpty(t, bce)
	_, err := os.Stat(filepath.Join(out, "frontier_toy.png"))
	require.NoError(t, err)

	require.Error(t, runFrontier(context.Background(), []string{"-in", t.TempDir()}, &stdout, &stderr))
	write("d.json", `{"dataset":"toy"}`)
	require.Error(t, runFrontier(context.Background(), []string{"-in", dir}, &stdout, &stderr))
}

func itoa(i int) string     { return strconv.Itoa(i) }
func ftoa(f float64) string { return strings.TrimRight(strings.TrimRight(fmtF(f), "0"), ".") }

func fmtF(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }

// TestEpochSeconds checks the side-by-side columns: the mean of an
// objective's epochs in epochtime.sh's output, its ratio to BCE's, and the
// time for a run's epochs.
func TestEpochSeconds(t *testing.T) {
	dir, sbs := t.TempDir(), t.TempDir()
	body := `{"dataset":"toy","objective":"ce","seed":1,"epochs":10,"best_epoch":5,"valid":{"ndcg@10":0.1},` +
		`"test_by_protocol":{"full":{"ndcg@10":0.05},"sampled100":{"ndcg@10":0.3}},"epoch_seconds":[1],"train_seconds":1,"load":1}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.json"), []byte(body), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(sbs, "epochtime_toy.txt"),
		[]byte("1 bce-1 2.0 4.0 load 3\n1 ce 9.0 11.0 load 3\nbce-1 3.000 s/epoch  1.00x bce-1\n"), 0o644))
	var stdout, stderr bytes.Buffer
	require.NoError(t, runFrontier(context.Background(), []string{"-in", dir, "-epoch-seconds", sbs}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "| 10.00 | 3.33 | 100 |", "mean 10 s, 10/3 x BCE's, 10 epochs x 10 s")
}
