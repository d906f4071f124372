package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// write puts one examples/tfllmer one-seed summary where study.sh would.
func write(t *testing.T, dir, ds, set, v string, sigma float64, seed int, ndcg, loss, cond, valid float64) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ds), 0o755))
	body := fmt.Sprintf(`{"dataset":%q,"seeds":[%d],"settings":{"norm_skew":%g,"input_norms":{"p99_p1":%g}},
"variants":{%q:{"ndcg@10":[%g],"full_ndcg@10":[0.01],"final_train_loss":[%g],"condition_number":[%g],"valid_ndcg@10":[%g],"epochs":[12]}}}`,
		ds, seed, sigma, 1+100*sigma, v, ndcg, loss, cond, valid)
	name := fmt.Sprintf("%s__%s__s%g__seed%d.json", set, v, sigma, seed)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ds, name), []byte(body), 0o644))
}

// Known answers: at σ = 1 the normalized LLMInit has loss 0.80±0.01 vs
// 0.90±0.01 and cond 100 vs 1000 (claim 1 holds); at σ = 0 its loss is
// higher (does not hold). TF-LLMER (σ-invariant, 0.33±0.01) is above
// LLMInit-PCA at σ = 1 (0.26) and above the λ = 0 ablation (0.30) by more
// than the std: claim 2 holds there; at σ = 0 LLMInit-PCA is 0.34: not.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	ds := "toy"
	for s, d := range []float64{-0.01, 0, 0.01} {
		seed := s + 1
		write(t, dir, ds, "fixed", "id", 0, seed, 0.27+d, 0.82, 94, 0.28)
		write(t, dir, ds, "fixed", "tfllmer", 0, seed, 0.33+d, 0.80, 90, 0.35+d)
		write(t, dir, ds, "unit", "tfllmer", 0, seed, 0.32+d, 0.81, 91, 0.34+d)
		write(t, dir, ds, "fixed", "tfllmer_lambda0", 0, seed, 0.30+d, 0.79, 80, 0.31)
		write(t, dir, ds, "fixed", "llminit_pca", 0, seed, 0.34+d, 0.73+d, 44, 0.36)
		write(t, dir, ds, "fixed", "llminit_pca_norm", 0, seed, 0.33+d, 0.75+d, 41, 0.35)
		write(t, dir, ds, "fixed", "llminit_pca", 1, seed, 0.26+d, 0.90+d, 1000, 0.27)
		write(t, dir, ds, "fixed", "llminit_pca_norm", 1, seed, 0.30+d, 0.80+d, 100, 0.31)
	}
	plots := t.TempDir()
	var out, errb bytes.Buffer
	require.NoError(t, runMain([]string{"-dir", dir, "-plots", plots}, &out, &errb))
	text := out.String()
	sec0 := text[strings.Index(text, "σ = 0 "):strings.Index(text, "σ = 1 ")]
	sec1 := text[strings.Index(text, "σ = 1 "):strings.Index(text, "Validation NDCG@10")]
	assert.Contains(t, sec0, "| llminit_pca | 3 | 0.3400±0.0100 | 0.0100±0.0000 | 0.7300±0.0100 | 44±0 | 0.3600±0.0000 | 12,12,12 |")
	assert.Contains(t, sec1, "| tfllmer (σ-invariant) | 3 | 0.3300±0.0100 |", "invariant rows repeated under every σ")
	assert.Contains(t, sec0, "Claim 1 (llminit_pca_norm vs llminit_pca): final loss 0.7500±0.0100 vs 0.7300±0.0100")
	assert.Regexp(t, `Claim 1 \(llminit_pca_norm vs llminit_pca\)[^\n]*: does NOT hold`, sec0)
	assert.Regexp(t, `Claim 1 \(llminit_pca_norm vs llminit_pca\)[^\n]*lower by \+0\.1000[^\n]*: holds`, sec1)
	assert.Regexp(t, `Claim 2 \(tfllmer 0\.3300±0\.0100\)[^\n]*claim 2 \(above LLMInit-PCA and the λ = 0 ablation\) holds`, sec1)
	assert.Regexp(t, `Claim 2 \(tfllmer 0\.3300±0\.0100\)[^\n]*claim 2 \(above LLMInit-PCA and the λ = 0 ablation\) does NOT hold`, sec0)
	assert.Regexp(t, `Claim 2 \(tfllmer \(unit-row init\) 0\.3200±0\.0100\)[^\n]*claim 2 \(above LLMInit-PCA and the λ = 0 ablation\) not measured`, sec0,
		"no unit-init λ = 0 cell")
	assert.Contains(t, sec1, "input p99/p1 norm ratio 101")
	assert.Contains(t, text, "| tfllmer (unit-row init) (σ-invariant) | 3 | 0.3400±0.0100 | -0.0100±0.0000 | 0.3200±0.0100 |")
	for _, f := range []string{"toy_ndcg_vs_sigma.png", "toy_cond_vs_sigma.png"} {
		st, err := os.Stat(filepath.Join(plots, f))
		require.NoError(t, err)
		assert.Greater(t, st.Size(), int64(1000))
	}
}

func TestErrors(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Error(t, runMain(nil, &out, &errb), "no -dir")
	assert.Error(t, runMain([]string{"-dir", t.TempDir()}, &out, &errb), "no files")
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d", "fixed__id__s0__seed1.json"), []byte("{not json"), 0o644))
	assert.Error(t, runMain([]string{"-dir", dir}, &out, &errb), "bad JSON")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d", "fixed__id__s0__seed1.json"), []byte(`{"seeds":[1],"variants":{}}`), 0o644))
	assert.Error(t, runMain([]string{"-dir", dir}, &out, &errb), "variant missing")
}
