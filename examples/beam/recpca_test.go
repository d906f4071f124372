package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// orthonormal returns an orthonormal basis (D x d) of the columns of a.
func orthonormal(a *mat.Dense) *mat.Dense {
	D, d := a.Dims()
	var qr mat.QR
	qr.Factorize(a)
	var q mat.Dense
	qr.QTo(&q)
	return mat.DenseCopyOf(q.Slice(0, D, 0, d))
}

// maxPrincipalAngle returns the largest principal angle (radians) between
// the column spaces of a and b, as asin ||(I − QaQaᵀ)Qb||₂ (accurate for
// small angles, unlike acos of the cosines).
func maxPrincipalAngle(a, b *mat.Dense) float64 {
	qa, qb := orthonormal(a), orthonormal(b)
	var p, r mat.Dense
	p.Mul(qa.T(), qb)
	r.Mul(qa, &p)
	r.Sub(qb, &r)
	var svd mat.SVD
	if !svd.Factorize(&r, mat.SVDNone) {
		return math.NaN()
	}
	return math.Asin(math.Min(1, svd.Values(nil)[0]))
}

func TestMaxPrincipalAngle(t *testing.T) {
	// span{e1, e2} against span{e1, cos θ e2 + sin θ e3}: the angle is θ
	for _, th := range []float64{0, 1e-7, 1e-3, 0.5} {
		a := mat.NewDense(4, 2, []float64{1, 0, 0, 1, 0, 0, 0, 0})
		b := mat.NewDense(4, 2, []float64{2, 0, 0, math.Cos(th), 0, math.Sin(th), 0, 0})
		require.InDelta(t, th, maxPrincipalAngle(a, b), 1e-12, "θ = %v", th)
	}
}

// shardFiles splits the lines of a sequence file into n files (round robin)
// and the rows of an embedding matrix into len(cuts)+1 .npy files cut at the
// given rows, in dir; it returns the two globs.
func shardFiles(t *testing.T, dir, seqPath string, n int, x *tensor.Tensor, cuts []int) (string, string) {
	b, err := os.ReadFile(seqPath)
	require.NoError(t, err)
	parts := make([]strings.Builder, n)
	for i, line := range strings.SplitAfter(string(b), "\n") {
		parts[i%n].WriteString(line)
	}
	for i := range parts {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seq-%d.txt", i)), []byte(parts[i].String()), 0o644))
	}
	D := x.Cols()
	bounds := append(append([]int{0}, cuts...), x.Rows())
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		sh := tensor.FromSlice(x.Data[lo*D:hi*D], hi-lo, D)
		require.NoError(t, data.WriteNPY(filepath.Join(dir, fmt.Sprintf("emb-%02d.npy", i)), sh))
	}
	return filepath.Join(dir, "seq-*.txt"), filepath.Join(dir, "emb-*.npy")
}

// TestRecPCAMatchesSingleMachine runs the Rec-PCA pipeline on the local
// runner from sharded sequence and embedding files and compares it with
// recpca.Fit on the whole matrix and recpca.BuildGraph on the training
// sequences: the largest principal angle between the projections is at
// most 1e-5 rad, λ agrees, and the reduced item table is the pipeline's
// projection applied to every row.
func TestRecPCAMatchesSingleMachine(t *testing.T) {
	cases := []struct {
		name, seqs, emb string
		settings        FitSettings
		window          int
		decay           bool
		cuts            []int
	}{
		{"ml-100k", "ml-100k/ml-100k_seq.txt", "ml-100k/item_emb_use_lite_512.npy",
			FitSettings{Dim: 32, NormalizeInput: true, Standardize: true, TargetVariance: 0.95}, 2, true, []int{700, 701}},
		{"beauty", "amazon-beauty/Beauty.txt", "amazon-beauty/item_emb_use_lite_512.npy",
			FitSettings{Dim: 64, NormalizeInput: true, TargetVariance: 0.9}, 1, false, []int{4000, 8000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seqPath := sharedtest.File(t, c.seqs)
			d, err := data.Load(seqPath, data.Options{})
			require.NoError(t, err)
			x, err := data.LoadNPY(sharedtest.File(t, c.emb))
			require.NoError(t, err)
			require.Equal(t, d.NumItems+1, x.Rows())

			start := time.Now()
			g, err := recpca.BuildGraph(data.LeaveOneOut(d).Train, d.NumItems, recpca.GraphOptions{Window: c.window, Decay: c.decay})
			require.NoError(t, err)
			want, err := recpca.Fit(x, g, c.settings.Options())
			require.NoError(t, err)
			single := time.Since(start)

			dir := t.TempDir()
			seqGlob, embGlob := shardFiles(t, dir, seqPath, 3, x, c.cuts)
			out := filepath.Join(dir, "out")
			p, s := beam.NewPipelineWithRoot()
			require.NoError(t, BuildRecPCA(s, RecPCAConfig{Seqs: seqGlob, Emb: embGlob, Out: out, Holdout: 2,
				Window: c.window, Decay: c.decay, Fit: c.settings, UnitRows: true}))
			start = time.Now()
			require.NoError(t, ptest.Run(p))
			pipe := time.Since(start)

			w, err := data.LoadNPY(filepath.Join(out, "projection.npy"))
			require.NoError(t, err)
			D, dim := want.W.Dims()
			require.Equal(t, []int{D, dim}, w.Shape)
			got := mat.NewDense(D, dim, nil)
			for i := range D {
				for j := range dim {
					got.Set(i, j, float64(w.Data[i*dim+j]))
				}
			}
			angle := maxPrincipalAngle(want.W, got)
			require.LessOrEqual(t, angle, 1e-5, "largest principal angle")

			var rep FitReport
			b, err := os.ReadFile(filepath.Join(out, "fit.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &rep))
			require.Equal(t, d.NumItems, rep.Items)
			require.Equal(t, g.NumEdges(), rep.Edges)
			require.InDelta(t, want.Stats.Lambda, rep.Lambda, 1e-6*math.Max(1, want.Stats.Lambda))
			require.InDelta(t, want.Stats.RetainedVariance, rep.RetainedVariance, 1e-6)

			// the reduced table: every shard, rows in order, = Transform with the
			// written projection and mean (float32 files: 1e-5)
			mean, err := data.LoadNPY(filepath.Join(out, "mean.npy"))
			require.NoError(t, err)
			pw := &recpca.Projection{Mean: make([]float64, D), W: got, NormalizeInput: c.settings.NormalizeInput}
			for i, v := range mean.Data {
				pw.Mean[i] = float64(v)
			}
			ref := pw.Transform(nil, x, true)
			var table []float32
			for i := 0; i <= len(c.cuts); i++ {
				sh, err := data.LoadNPY(filepath.Join(out, fmt.Sprintf("items-%05d.npy", i)))
				require.NoError(t, err)
				require.Equal(t, dim, sh.Cols())
				table = append(table, sh.Data...)
			}
			require.Equal(t, len(ref.Data), len(table))
			var maxDiff float64
			for i, v := range table {
				maxDiff = math.Max(maxDiff, math.Abs(float64(v-ref.Data[i])))
			}
			require.Less(t, maxDiff, 1e-5, "reduced table vs Transform")
			for _, v := range table[:dim] {
				require.Zero(t, v, "padding row")
			}
			t.Logf("%s: %d items x %d -> %d, %d edges, λ %.4f; largest principal angle %.2e rad; table max |diff| %.1e; single machine %.2f s, pipeline (%s) %.2f s",
				c.name, d.NumItems, D, dim, rep.Edges, rep.Lambda, angle, maxDiff, single.Seconds(), ptest.DefaultRunner(), pipe.Seconds())
		})
	}
}

// TestRecPCABadInput: shards of different widths fail before the job
// starts; an item id beyond the embedding rows fails the job with the user.
func TestRecPCABadInput(t *testing.T) {
	dir := t.TempDir()
	a := tensor.FromSlice([]float32{0, 0, 0, 1, 2, 3}, 2, 3)
	b := tensor.FromSlice([]float32{4, 5, 6, 7}, 2, 2)
	require.NoError(t, data.WriteNPY(filepath.Join(dir, "emb-0.npy"), a))
	require.NoError(t, data.WriteNPY(filepath.Join(dir, "emb-1.npy"), b))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seq.txt"), []byte("u1 1 2\nu2 2 9\n"), 0o644))
	_, s := beam.NewPipelineWithRoot()
	err := BuildRecPCA(s, RecPCAConfig{Seqs: filepath.Join(dir, "seq.txt"), Emb: filepath.Join(dir, "emb-*.npy"), Out: dir, Fit: FitSettings{Dim: 1}})
	require.ErrorContains(t, err, "has 2 columns")

	require.NoError(t, data.WriteNPY(filepath.Join(dir, "emb-1.npy"), tensor.FromSlice([]float32{4, 5, 6, 7, 8, 9}, 2, 3)))
	p, s := beam.NewPipelineWithRoot()
	require.NoError(t, BuildRecPCA(s, RecPCAConfig{Seqs: filepath.Join(dir, "seq.txt"), Emb: filepath.Join(dir, "emb-*.npy"), Out: dir, Fit: FitSettings{Dim: 1}}))
	err = ptest.Run(p)
	require.Error(t, err)
	require.Contains(t, err.Error(), `user u2: item "9" is not an id in 1..3`)

	_, _, err = ScanShards(t.Context(), filepath.Join(dir, "none-*.npy"))
	require.ErrorContains(t, err, "no file matches")
}
