package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// toyDir writes a small synthetic dataset folder: users walk inside one of
// 3 item clusters, and the "LLM" vectors are cluster centres plus noise
// with norms spread over 0.3..3 (norm disparity).
func toyDir(t *testing.T, users, items, dim int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	var sb strings.Builder
	for u := 1; u <= users; u++ {
		c := rng.IntN(3)
		n := 5 + rng.IntN(8)
		fmt.Fprintf(&sb, "%d", u)
		for range n {
			it := 1 + c + 3*rng.IntN(items/3)
			fmt.Fprintf(&sb, " %d", it)
		}
		sb.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "toy_seq.txt"), []byte(sb.String()), 0o644))
	centres := make([][]float64, 3)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = rng.NormFloat64()
		}
	}
	x := tensor.New(items+1, dim)
	for i := 1; i <= items; i++ {
		s := 0.3 + 2.7*rng.Float64()
		for j := 0; j < dim; j++ {
			x.Data[i*dim+j] = float32(s * (centres[(i-1)%3][j] + 0.7*rng.NormFloat64()))
		}
	}
	require.NoError(t, data.WriteNPY(filepath.Join(dir, "item_emb_toy_16.npy"), x))
	return dir
}

// TestReducedRun runs every variant on a toy folder with 2 seeds and 2
// epochs and checks the printed table, the claims lines, the plots and the
// last-line JSON (structure and ranges: two epochs say nothing about
// quality).
func TestReducedRun(t *testing.T) {
	dir := toyDir(t, 120, 30, 16)
	plots := t.TempDir()
	jsonPath := filepath.Join(t.TempDir(), "summary.json")
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"-data", dir, "-seeds", "2", "-epochs", "2", "-dim", "8", "-maxlen", "10",
		"-adapter-in", "12", "-variants", strings.Join(allVariants, ","), "-curv-users", "20", "-plots", plots,
		"-target-var", "0.8", "-norm-skew", "0.5", "-norm-skew-seed", "4", "-json", jsonPath}, &out, &errb)
	require.NoError(t, err, errb.String())
	text := out.String()
	for _, want := range []string{"120 users, 30 items", "Rec-PCA 16 -> 8", "final_train_loss", "condition_number",
		"Claim 1 (llminit_pca vs llminit_pca_norm)", "Claim 2 (tfllmer vs id)", "Claim 2 (tfllmer vs llminit_pca)",
		"Claim 2 (tfllmer vs tfllmer_lambda0)", "SYNTHETIC norm skew", "σ 0.5", "p99/p1", "mean pairwise cosine"} {
		assert.Contains(t, text, want)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var rep struct {
		Dataset  string `json:"dataset"`
		Variants map[string]map[string]json.RawMessage
		Settings settingsJSON `json:"settings"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &rep), "last line is the JSON summary")
	assert.NotEmpty(t, rep.Dataset)
	saved, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	assert.Equal(t, lines[len(lines)-1]+"\n", string(saved), "-json writes the last line")
	assert.Equal(t, 0.5, rep.Settings.NormSkew)
	assert.Equal(t, uint64(4), rep.Settings.NormSkewSeed)
	// toyDir's norms span 0.3..3 before the skew; the skew widens that.
	assert.Greater(t, rep.Settings.Input.MaxMin, 3.0)
	assert.Greater(t, rep.Settings.Input.MaxMin, rep.Settings.Input.P99P1)
	assert.True(t, rep.Settings.Input.MeanCos > -1 && rep.Settings.Input.MeanCos < 1)
	require.Len(t, rep.Variants, len(allVariants))
	for _, v := range allVariants {
		m := rep.Variants[v]
		require.NotNil(t, m, v)
		get := func(key string) []float64 {
			var xs []float64
			require.NoError(t, json.Unmarshal(m[key], &xs), "%s %s", v, key)
			require.Len(t, xs, 2, "%s %s: one value per seed", v, key)
			return xs
		}
		ndcg, hr := get("ndcg@10"), get("hr@10")
		for s := range 2 {
			assert.True(t, hr[s] > 0 && hr[s] <= 1, "%s hr@10 %v", v, hr[s])
			assert.LessOrEqual(t, ndcg[s], hr[s], v)
		}
		for _, vn := range get("valid_ndcg@10") {
			assert.True(t, vn >= 0 && vn <= 1, "%s valid ndcg %v", v, vn)
		}
		for _, l := range get("final_train_loss") {
			assert.True(t, l > 0 && !math.IsInf(l, 0), "%s loss %v", v, l)
		}
		var conds []*float64
		require.NoError(t, json.Unmarshal(m["condition_number"], &conds))
		require.Len(t, conds, 2)
		for _, c := range conds {
			if c != nil {
				assert.GreaterOrEqual(t, *c, 1.0, v)
			}
		}
	}
	for _, name := range []string{"train_loss.png", "valid_ndcg.png", "condition.png"} {
		f, err := os.Open(filepath.Join(plots, name))
		require.NoError(t, err)
		_, err = png.Decode(f)
		f.Close()
		require.NoError(t, err, name)
	}
}

func TestFlagErrors(t *testing.T) {
	dir := toyDir(t, 30, 9, 4)
	for _, args := range [][]string{
		{}, {"-data", dir, "-seeds", "0"}, {"-data", dir, "-target-var", "1.5"}, {"-data", dir, "-variants", "nope"},
		{"-data", dir, "-laplacian", "x"}, {"-data", dir, "-tv", "l3"}, {"-data", dir, "stray"},
		{"-data", filepath.Join(dir, "missing")}, {"-data", dir, "-dim", "64"}, {"-data", dir, "-head-frac", "1"},
		{"-data", dir, "-norm-skew", "-1"}, {"-data", dir, "-norm-skew", "NaN"}, {"-data", dir, "-norm-skew", "+Inf"},
	} {
		var out, errb bytes.Buffer
		assert.Error(t, run(context.Background(), args, &out, &errb), "%v", args)
	}
}

func TestCanceled(t *testing.T) {
	dir := toyDir(t, 30, 9, 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	assert.Error(t, run(ctx, []string{"-data", dir, "-dim", "4", "-adapter-in", "4"}, &out, &errb))
}

// toyModel returns a small SASRec over an item table initialized from z.
func toyModel(t *testing.T, table backbone.ItemTable, dim int) *backbone.SeqModel {
	t.Helper()
	cfg, cerr := backbone.DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Heads = dim, 6, 1
	enc, err := backbone.NewSASRec(rand.New(rand.NewPCG(1, 2)), cfg)
	require.NoError(t, err)
	m, err := backbone.NewSeqModel(enc, table, backbone.ModelConfig{})
	require.NoError(t, err)
	return m
}

// The wiring: normalized Rec-PCA ID tables have unit rows pointing like
// the reduced vectors; adapter tables are normalized after the adapter;
// the dual view has two unit halves.
func TestTables(t *testing.T) {
	const n, D, d = 30, 12, 6
	rng := rand.New(rand.NewPCG(5, 5))
	x := tensor.New(n+1, D)
	for i := D; i < len(x.Data); i++ {
		x.Data[i] = float32(rng.NormFloat64() * (1 + float64(i/D%4)))
	}
	var seqs [][]int
	for u := 0; u < 40; u++ {
		s := []int{}
		for k := 0; k < 6; k++ {
			s = append(s, 1+rng.IntN(n))
		}
		seqs = append(seqs, s)
	}
	g, err := recpca.BuildGraph(seqs, n, recpca.GraphOptions{})
	require.NoError(t, err)
	r, err := reduce(context.Background(), x, reduceConfig{Dim: d, Graph: g, Lambda: 0.5, NormalizeInput: true, Seed: 1})
	require.NoError(t, err)
	require.Equal(t, []int{n + 1, d}, r.Z.Shape)

	unit := func(tab *tensor.Tensor, from, to int) {
		w := tab.Shape[1]
		for i := 1; i <= n; i++ {
			s := 0.0
			for j := from; j < to; j++ {
				v := float64(tab.Data[i*w+j])
				s += v * v
			}
			assert.InDelta(t, 1, math.Sqrt(s), 1e-5, "row %d cols %d..%d", i, from, to)
		}
	}
	tab, err := recPCAIDTable(r, true, 1, false)
	require.NoError(t, err)
	e := tab.Materialize(&tensor.Tensor{})
	unit(e, 0, d)
	for i := 1; i <= n; i++ { // same direction as Z's row: cosine 1
		dot, nz := 0.0, 0.0
		for j := 0; j < d; j++ {
			dot += float64(e.Data[i*d+j]) * float64(r.Z.Data[i*d+j])
			nz += float64(r.Z.Data[i*d+j]) * float64(r.Z.Data[i*d+j])
		}
		assert.InDelta(t, 1, dot/math.Sqrt(nz), 1e-5)
	}
	raw, err := recPCAIDTable(r, false, 1, false)
	require.NoError(t, err)
	assert.Equal(t, r.Z.Data[d:], raw.Materialize(&tensor.Tensor{}).Data[d:])

	ad, err := adapterTable(x, d, true, 2, false, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	ea := ad.Materialize(&tensor.Tensor{})
	tensor.Scale(ea, ea, 0.5)
	unit(ea, 0, d)

	half, err := reduce(context.Background(), x, reduceConfig{Dim: d / 2, Graph: g, Lambda: 0.5, NormalizeInput: true, Seed: 1})
	require.NoError(t, err)
	dv, err := dualViewTable(half, x, d, 1, false, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	ed := dv.Materialize(&tensor.Tensor{})
	require.Equal(t, []int{n + 1, d}, ed.Shape)
	unit(ed, 0, d/2)
	unit(ed, d/2, d)
	_, err = dualViewTable(r, x, d, 1, false, rand.New(rand.NewPCG(1, 1)))
	assert.Error(t, err, "ID view of the wrong width")

	// λ = 0 through reduce is PCA: the kept subspace equals the top
	// eigenvectors of the naive float64 covariance of the normalized,
	// centred rows (largest principal angle ≈ 0).
	p0, err := reduce(context.Background(), x, reduceConfig{Dim: d, Graph: g, NormalizeInput: true, Seed: 1})
	require.NoError(t, err)
	assert.Less(t, largestAngle(t, p0.Proj.W, naivePCA(x, d)), 1e-6)
}

// naivePCA returns the top-d eigenvectors of the covariance of the
// L2-normalized, centred rows 1..n of x, computed densely in float64.
func naivePCA(x *tensor.Tensor, d int) *mat.Dense {
	n, D := x.Shape[0]-1, x.Shape[1]
	xs := mat.NewDense(n, D, nil)
	for i := 1; i <= n; i++ {
		s := 0.0
		for j := 0; j < D; j++ {
			s += float64(x.Data[i*D+j]) * float64(x.Data[i*D+j])
		}
		s = math.Sqrt(s)
		for j := 0; j < D; j++ {
			xs.Set(i-1, j, float64(x.Data[i*D+j])/s)
		}
	}
	for j := 0; j < D; j++ {
		mu := 0.0
		for i := 0; i < n; i++ {
			mu += xs.At(i, j)
		}
		mu /= float64(n)
		for i := 0; i < n; i++ {
			xs.Set(i, j, xs.At(i, j)-mu)
		}
	}
	var c mat.SymDense
	c.SymOuterK(1, xs.T())
	var es mat.EigenSym
	if !es.Factorize(&c, true) {
		panic("eigen")
	}
	var v mat.Dense
	es.VectorsTo(&v) // ascending eigenvalues
	return mat.DenseCopyOf(v.Slice(0, D, D-d, D))
}

// largestAngle returns the largest principal angle (radians) between the
// column spaces of a and b (both with orthonormal columns).
func largestAngle(t *testing.T, a, b mat.Matrix) float64 {
	var m mat.Dense
	m.Mul(a.T(), b)
	var svd mat.SVD
	require.True(t, svd.Factorize(&m, mat.SVDNone))
	s := svd.Values(nil)
	return math.Acos(math.Min(1, s[len(s)-1]))
}

// curvature's condition number is λmax/λmin of the batch average of
// Cov_p(e) over every position of the batch, recomputed here naively.
func TestCurvatureNaive(t *testing.T) {
	const n, d = 15, 4
	m := toyModel(t, backbone.NewIDTable(rand.New(rand.NewPCG(9, 9)), n, d), d)
	seqs := [][]int{{1, 2, 3, 4}, {5, 6}, {7, 8, 9, 10, 11, 12, 13, 14}}
	sp, err := curvature(m, seqs)
	require.NoError(t, err)
	e := m.Items.Materialize(&tensor.Tensor{})
	h, err := m.HiddenStates(seqs)
	require.NoError(t, err)
	B := h.Shape[0]
	require.Equal(t, 4+2+6, B)
	hess := mat.NewSymDense(d, nil)
	for b := 0; b < B; b++ {
		z := make([]float64, n+1)
		zmax := math.Inf(-1)
		for i := 1; i <= n; i++ {
			for j := 0; j < d; j++ {
				z[i] += float64(h.Data[b*d+j]) * float64(e.Data[i*d+j])
			}
			zmax = math.Max(zmax, z[i])
		}
		sum := 0.0
		for i := 1; i <= n; i++ {
			z[i] = math.Exp(z[i] - zmax)
			sum += z[i]
		}
		mu := make([]float64, d)
		for i := 1; i <= n; i++ {
			for j := 0; j < d; j++ {
				mu[j] += z[i] / sum * float64(e.Data[i*d+j])
			}
		}
		for i := 1; i <= n; i++ {
			p := z[i] / sum
			for j := 0; j < d; j++ {
				for k := j; k < d; k++ {
					hess.SetSym(j, k, hess.At(j, k)+p*(float64(e.Data[i*d+j])-mu[j])*(float64(e.Data[i*d+k])-mu[k])/float64(B))
				}
			}
		}
	}
	var es mat.EigenSym
	require.True(t, es.Factorize(hess, false))
	ev := es.Values(nil)
	assert.InEpsilon(t, ev[d-1]/ev[0], sp.Cond, 1e-3)
	assert.InEpsilon(t, ev[d-1], sp.Max, 1e-3)
}

func TestHeadThreshold(t *testing.T) {
	// Ten items with frequencies 10, 9, ..., 1 (entry 0 is padding).
	freq := []int{0, 3, 10, 1, 7, 5, 9, 2, 8, 4, 6}
	thr, nh := headThreshold(freq, 0.2)
	assert.Equal(t, 9, thr) // items 2 (10) and 6 (9)
	assert.Equal(t, 2, nh)
	thr, nh = headThreshold([]int{0, 5, 5, 5, 1}, 0.25) // ties at the cut keep all tied items in the head
	assert.Equal(t, 5, thr)
	assert.Equal(t, 3, nh)
	assert.InDelta(t, 1.0, std([]float64{1, 2, 3}), 1e-12)
	assert.Equal(t, 0.0, std([]float64{4}))
}
