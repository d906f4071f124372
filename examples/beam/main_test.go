package main

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/require"
)

// TestMain points sharedtest at ../shared/data beside the repository root
// (this module's go.mod is two levels below it) and runs the pipelines on
// Prism, Beam's local runner (-runner direct also works).
func TestMain(m *testing.M) {
	if os.Getenv("LLMREC_DATA") == "" {
		if dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data")); err == nil {
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				os.Setenv("LLMREC_DATA", dir)
			}
		}
	}
	os.Exit(ptest.MainRetWithDefault(m, "prism"))
}

// trainModel trains (epochs > 0) or just initializes a small SASRec on the
// training part of d and saves it to dir.
func trainModel(t *testing.T, d *data.Dataset, epochs int, dir string) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 1))
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	require.NoError(t, err)
	cfg.Dim, cfg.MaxLen = 32, 50
	enc, err := backbone.NewEncoder(rng, cfg)
	require.NoError(t, err)
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, d.NumItems, 32), backbone.ModelConfig{})
	require.NoError(t, err)
	if epochs > 0 {
		tc := backbone.DefaultTrainConfig()
		tc.Epochs = epochs
		_, err = backbone.Train(context.Background(), m, data.LeaveOneOut(d).Train, tc, backbone.TrainOptions{})
		require.NoError(t, err)
	}
	path := filepath.Join(dir, "model.safetensors")
	require.NoError(t, m.Save(path))
	return path
}

// TestTopKMatchesSingleMachine runs the all-user top-k pipeline on the local
// runner and checks that every user's list (items and float32 score bits)
// equals the single-machine Recommender's on the same saved model.
func TestTopKMatchesSingleMachine(t *testing.T) {
	cases := []struct {
		name, file      string
		epochs, holdout int
		shards, k       int
	}{
		{"ml-100k", "ml-100k/ml-100k_seq.txt", 1, 0, 4, 10},
		{"beauty", "amazon-beauty/Beauty.txt", 0, 2, 8, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := sharedtest.File(t, c.file)
			d, err := data.Load(path, data.Options{})
			require.NoError(t, err)
			dir := t.TempDir()
			modelPath := trainModel(t, d, c.epochs, dir)

			// single machine: the saved model, every user, history excluded
			rec, err := backbone.LoadRecommender(modelPath)
			require.NoError(t, err)
			start := time.Now()
			want := map[string][]backbone.Scored{}
			hists := d.Seqs
			if c.holdout == 2 {
				hists = data.LeaveOneOut(d).Train
			}
			tops, err := rec.TopKBatch(hists, c.k, hists)
			require.NoError(t, err)
			for u, top := range tops {
				want[d.UserRaw[u]] = top
			}
			single := time.Since(start)

			loads := modelLoads.Load()
			out := filepath.Join(dir, "out", "topk")
			p, s := beam.NewPipelineWithRoot()
			BuildTopK(s, TopKConfig{Seqs: path, Model: modelPath, Out: out, K: c.k, Shards: c.shards, Holdout: c.holdout})
			start = time.Now()
			require.NoError(t, ptest.Run(p))
			pipe := time.Since(start)
			require.Equal(t, int64(1), modelLoads.Load()-loads, "model loads in this worker process")

			got, err := ReadTopK(context.Background(), out)
			require.NoError(t, err)
			files, err := filepath.Glob(out + "-*-of-*.jsonl")
			require.NoError(t, err)
			require.LessOrEqual(t, len(files), c.shards)
			require.Equal(t, len(want), len(got), "users")
			for user, w := range want {
				g, ok := got[user]
				require.True(t, ok, "user %s missing", user)
				require.Equal(t, len(w), len(g), "user %s", user)
				for i := range w {
					require.Equal(t, w[i].Item, g[i].Item, "user %s rank %d", user, i)
					require.Equal(t, math.Float32bits(w[i].Score), math.Float32bits(g[i].Score), "user %s rank %d", user, i)
				}
			}
			t.Logf("%s: %d users, top-%d identical; single machine %.2f s, pipeline (%s) %.2f s",
				c.name, len(want), c.k, single.Seconds(), ptest.DefaultRunner(), pipe.Seconds())
		})
	}
}

// TestTopKBadInput: an item id the model does not know fails the pipeline
// with the user and the id in the message, and writes no output.
func TestTopKBadInput(t *testing.T) {
	d, err := data.ReadSeq(stringsReader("1 1 2 3\n2 2 3\n"), "toy.txt", data.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	modelPath := trainModel(t, d, 0, dir)
	seqs := filepath.Join(dir, "seqs.txt")
	require.NoError(t, os.WriteFile(seqs, []byte("1 1 2\n7 3 99\n"), 0o644))
	out := filepath.Join(dir, "out", "topk")
	p, s := beam.NewPipelineWithRoot()
	BuildTopK(s, TopKConfig{Seqs: seqs, Model: modelPath, Out: out, K: 2, Shards: 1})
	err = ptest.Run(p)
	require.Error(t, err)
	require.Contains(t, err.Error(), `user 7: item "99" is not an id in 1..3`)
	files, _ := filepath.Glob(out + "*")
	require.Empty(t, files)
}

func TestCompareUsers(t *testing.T) {
	require.Equal(t, -1, compareUsers("9", "10"))
	require.Equal(t, 1, compareUsers("10", "9"))
	require.Equal(t, 0, compareUsers("10", "10"))
	require.Equal(t, -1, compareUsers("10", "a"))
	require.Equal(t, 1, compareUsers("b", "a"))
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
