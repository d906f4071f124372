// Command sigmastudy summarizes the σ study that examples/tfllmer/study.sh
// runs (a SYNTHETIC per-row norm disparity, examples/tfllmer -norm-skew):
// it reads the one-seed JSON summaries OUT/<dataset>/<setting>__<variant>__s<σ>__seed<k>.json,
// and prints, per dataset, Markdown tables of test NDCG@10 (sampled-100 and
// full ranking), final training loss, condition number and best validation
// NDCG@10 (mean ± sample std over seeds, n = number of seeds) for every σ,
// the two claims checked at every σ, and the validation table used to
// choose TF-LLMER's defaults; with -plots it writes ndcg_vs_sigma.png and
// cond_vs_sigma.png per dataset.
//
//	go run ./examples/tfllmer/sigmastudy -dir OUT -plots OUT/plots
//
// Variants that L2-normalize their input rows (tfllmer, tfllmer_lambda0) and
// ID-only are unaffected by the skew and run at σ = 0 only; their row is
// repeated under every σ, marked "(σ-invariant)".
//
// Every run of seed k validates and tests on the users and sampled negatives
// of evaluator seed k, so comparisons at the same seed are paired.
//
// Claim 1 at a σ holds when llminit_pca_norm's mean final training loss and
// mean condition number are both below llminit_pca's, each by more than the
// larger of the two seeds' std (likewise for the adapter pair). Claim 2
// holds when TF-LLMER's mean test NDCG@10 is above LLMInit-PCA's and above
// the λ = 0 ablation's, each by more than the larger std.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/llmrec/llmrec/examples/internal/plot"
)

// run is one seed of one (dataset, setting, variant, σ).
type run struct {
	Dataset, Setting, Variant string
	Sigma                     float64
	Seed                      int
	NDCG, Full, Loss, Cond    float64
	Valid                     float64
	Epochs                    int
	P99P1                     float64
}

// key names a table cell.
type key struct {
	Dataset, Setting, Variant string
	Sigma                     float64
}

// summary is the JSON that examples/tfllmer writes (the fields used here).
type summary struct {
	Dataset  string `json:"dataset"`
	Settings struct {
		NormSkew float64 `json:"norm_skew"`
		Input    struct {
			P99P1 float64 `json:"p99_p1"`
		} `json:"input_norms"`
	} `json:"settings"`
	Variants map[string]struct {
		NDCG   []float64  `json:"ndcg@10"`
		Full   []float64  `json:"full_ndcg@10"`
		Loss   []float64  `json:"final_train_loss"`
		Cond   []*float64 `json:"condition_number"`
		Valid  []float64  `json:"valid_ndcg@10"`
		Epochs []int      `json:"epochs"`
	} `json:"variants"`
	Seeds []int `json:"seeds"`
}

// load reads every <setting>__<variant>__s<σ>__seed<k>.json under dir.
func load(dir string) ([]run, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "*__*__s*__seed*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no <dataset>/<setting>__<variant>__s<σ>__seed<k>.json files", dir)
	}
	var out []run
	for _, f := range files {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(f), ".json"), "__")
		if len(parts) != 4 {
			return nil, fmt.Errorf("%s: name is not <setting>__<variant>__s<σ>__seed<k>.json", f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s summary
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		v, ok := s.Variants[parts[1]]
		if !ok || len(v.NDCG) != 1 || len(v.Loss) != 1 || len(v.Cond) != 1 || len(s.Seeds) != 1 {
			return nil, fmt.Errorf("%s: want one seed of variant %q", f, parts[1])
		}
		r := run{Dataset: filepath.Base(filepath.Dir(f)), Setting: parts[0], Variant: parts[1],
			Sigma: s.Settings.NormSkew, Seed: s.Seeds[0], NDCG: v.NDCG[0], Loss: v.Loss[0],
			Cond: math.Inf(1), Full: math.NaN(), Valid: math.NaN(), P99P1: s.Settings.Input.P99P1}
		if v.Cond[0] != nil {
			r.Cond = *v.Cond[0]
		}
		if len(v.Full) == 1 {
			r.Full = v.Full[0]
		}
		if len(v.Valid) == 1 {
			r.Valid = v.Valid[0]
		}
		if len(v.Epochs) == 1 {
			r.Epochs = v.Epochs[0]
		}
		out = append(out, r)
	}
	return out, nil
}

// stat is mean ± sample std over n seeds.
type stat struct {
	Mean, Std float64
	N         int
}

func statOf(xs []float64) stat {
	s := stat{N: len(xs)}
	if s.N == 0 {
		return stat{Mean: math.NaN(), Std: math.NaN()}
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		for _, x := range xs {
			s.Std += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(s.Std / float64(s.N-1))
	}
	return s
}

func (s stat) fmt(prec int) string {
	if s.N == 0 {
		return "–"
	}
	if prec < 0 { // condition numbers: 3 significant digits
		return fmt.Sprintf("%.3g±%.2g", s.Mean, s.Std)
	}
	return fmt.Sprintf("%.*f±%.*f", prec, s.Mean, prec, s.Std)
}

// cells groups runs by cell, seeds sorted.
type cells map[key][]run

func (c cells) get(k key, f func(run) float64) stat {
	var xs []float64
	for _, r := range c[k] {
		xs = append(xs, f(r))
	}
	return statOf(xs)
}

// invariant reports whether a variant ignores the skew (normalized input
// rows, or no LLM input at all).
func invariant(v string) bool {
	return v == "id" || v == "tfllmer" || v == "tfllmer_lambda0"
}

// at returns the cell of (ds, set, v) at σ: σ = 0 for invariant variants.
func at(ds, set, v string, sigma float64) key {
	if invariant(v) {
		sigma = 0
	}
	return key{ds, set, v, sigma}
}

var (
	ndcgF  = func(r run) float64 { return r.NDCG }
	fullF  = func(r run) float64 { return r.Full }
	lossF  = func(r run) float64 { return r.Loss }
	condF  = func(r run) float64 { return r.Cond }
	validF = func(r run) float64 { return r.Valid }
)

// rowOrder is the order of the table rows: setting/variant pairs.
var rowOrder = [][2]string{
	{"fixed", "id"}, {"fixed", "llminit_pca"}, {"fixed", "llminit_pca_norm"},
	{"fixed", "tfllmer_lambda0"}, {"unit", "tfllmer_lambda0"},
	{"fixed", "tfllmer"}, {"unit", "tfllmer"}, {"ls", "tfllmer"},
	{"fixed", "frozen_adapter"}, {"fixed", "frozen_adapter_norm"},
	{"es", "llminit_pca"}, {"es", "tfllmer"},
}

var settingDoc = map[string]string{
	"fixed": "", "unit": " (unit-row init)", "ls": " (learnable scale)", "es": " (early stopping, cap 30)",
}

func label(set, v string) string {
	s := v + settingDoc[set]
	if invariant(v) {
		s += " (σ-invariant)"
	}
	return s
}

func report(w io.Writer, runs []run, plots string) error {
	c := cells{}
	var datasets []string
	sigmas := map[string][]float64{}
	p99 := map[key]float64{}
	for _, r := range runs {
		k := key{r.Dataset, r.Setting, r.Variant, r.Sigma}
		c[k] = append(c[k], r)
		if !slices.Contains(datasets, r.Dataset) {
			datasets = append(datasets, r.Dataset)
		}
		if !slices.Contains(sigmas[r.Dataset], r.Sigma) {
			sigmas[r.Dataset] = append(sigmas[r.Dataset], r.Sigma)
		}
		p99[key{Dataset: r.Dataset, Sigma: r.Sigma}] = r.P99P1
	}
	sort.Strings(datasets)
	say := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	for _, ds := range datasets {
		sg := sigmas[ds]
		slices.Sort(sg)
		say("## %s", ds)
		say("")
		for _, sigma := range sg {
			say("σ = %g (input p99/p1 norm ratio %.3g); mean ± std over n seeds, test sampled-100 and full NDCG@10:", sigma, p99[key{Dataset: ds, Sigma: sigma}])
			say("")
			say("| variant | n | NDCG@10 | full NDCG@10 | final loss | cond | valid NDCG@10 | epochs |")
			say("|---|---|---|---|---|---|---|---|")
			for _, sv := range rowOrder {
				k := at(ds, sv[0], sv[1], sigma)
				rs := c[k]
				if len(rs) == 0 {
					continue
				}
				var ep []string
				for _, r := range rs {
					ep = append(ep, strconv.Itoa(r.Epochs))
				}
				say("| %s | %d | %s | %s | %s | %s | %s | %s |", label(sv[0], sv[1]), len(rs),
					c.get(k, ndcgF).fmt(4), c.get(k, fullF).fmt(4), c.get(k, lossF).fmt(4),
					c.get(k, condF).fmt(-1), c.get(k, validF).fmt(4), strings.Join(ep, ","))
			}
			say("")
			claims(say, c, ds, sigma)
			say("")
		}
		validation(say, c, ds)
		if plots != "" {
			if err := sigmaPlots(plots, c, ds, sg); err != nil {
				return err
			}
		}
	}
	return nil
}

// beats reports whether a's mean is below (lower) or above (!lower) b's by
// more than the larger of their stds, and the gap.
func beats(a, b stat, lower bool) (bool, float64) {
	gap := a.Mean - b.Mean
	if lower {
		gap = -gap
	}
	return a.N > 0 && b.N > 0 && gap > math.Max(a.Std, b.Std), gap
}

func verdict(ok bool) string {
	if ok {
		return "holds"
	}
	return "does NOT hold"
}

func claims(say func(string, ...any), c cells, ds string, sigma float64) {
	for _, p := range [][2]string{{"llminit_pca", "llminit_pca_norm"}, {"frozen_adapter", "frozen_adapter_norm"}} {
		ku, kn := at(ds, "fixed", p[0], sigma), at(ds, "fixed", p[1], sigma)
		if len(c[ku]) == 0 || len(c[kn]) == 0 {
			continue
		}
		lu, ln := c.get(ku, lossF), c.get(kn, lossF)
		cu, cn := c.get(ku, condF), c.get(kn, condF)
		okL, gL := beats(ln, lu, true)
		okC, gC := beats(cn, cu, true)
		say("- Claim 1 (%s vs %s): final loss %s vs %s (normalized lower by %+.4f), cond %s vs %s (lower by %+.3g): %s",
			p[1], p[0], ln.fmt(4), lu.fmt(4), gL, cn.fmt(-1), cu.fmt(-1), gC, verdict(okL && okC))
	}
	for _, set := range []string{"fixed", "unit"} {
		kt := at(ds, set, "tfllmer", sigma)
		if len(c[kt]) == 0 {
			continue
		}
		t := c.get(kt, ndcgF)
		var parts []string
		all, compared := true, 0
		for _, base := range []key{at(ds, "fixed", "llminit_pca", sigma), at(ds, set, "tfllmer_lambda0", sigma), at(ds, "fixed", "id", sigma)} {
			if len(c[base]) == 0 {
				continue
			}
			b := c.get(base, ndcgF)
			ok, gap := beats(t, b, false)
			if base.Variant != "id" {
				all = all && ok
				compared++
			}
			parts = append(parts, fmt.Sprintf("vs %s %s: %+.4f (%s)", label(base.Setting, base.Variant), b.fmt(4), gap, verdict(ok)))
		}
		v := verdict(all)
		if compared < 2 {
			v = "not measured (a cell is missing)"
		}
		say("- Claim 2 (%s%s %s): %s; claim 2 (above LLMInit-PCA and the λ = 0 ablation) %s",
			"tfllmer", settingDoc[set], t.fmt(4), strings.Join(parts, "; "), v)
	}
}

// validation prints the settings compared on validation NDCG@10 to choose
// the defaults (σ = 0: the real embeddings).
func validation(say func(string, ...any), c cells, ds string) {
	say("Validation NDCG@10 (σ = 0) for TF-LLMER's defaults, %s:", ds)
	say("")
	say("| setting | n | valid NDCG@10 | paired Δ valid vs tfllmer | test NDCG@10 | final loss |")
	say("|---|---|---|---|---|---|")
	ref := key{ds, "fixed", "tfllmer", 0}
	for _, sv := range rowOrder {
		k := key{ds, sv[0], sv[1], 0}
		if len(c[k]) == 0 || sv[0] == "es" {
			continue
		}
		say("| %s | %d | %s | %s | %s | %s |", label(sv[0], sv[1]), len(c[k]), c.get(k, validF).fmt(4),
			paired(c[k], c[ref]).fmt(4), c.get(k, ndcgF).fmt(4), c.get(k, lossF).fmt(4))
	}
	say("")
}

// paired is the mean ± std over the seeds both cells have of a's minus b's
// validation NDCG@10: the same seed has the same validation users and
// negatives, so the difference removes that part of the spread.
func paired(a, b []run) stat {
	var d []float64
	for _, x := range a {
		for _, y := range b {
			if x.Seed == y.Seed {
				d = append(d, x.Valid-y.Valid)
			}
		}
	}
	return statOf(d)
}

func sigmaPlots(dir string, c cells, ds string, sg []float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ndcg, cond := map[string][]plot.XY{}, map[string][]plot.XY{}
	for _, sv := range rowOrder {
		if sv[0] == "es" {
			continue
		}
		name := label(sv[0], sv[1])
		for _, sigma := range sg {
			k := at(ds, sv[0], sv[1], sigma)
			if len(c[k]) == 0 {
				continue
			}
			ndcg[name] = append(ndcg[name], plot.XY{X: sigma, Y: c.get(k, ndcgF).Mean})
			if cs := c.get(k, condF); !math.IsInf(cs.Mean, 0) {
				cond[name] = append(cond[name], plot.XY{X: sigma, Y: math.Log10(cs.Mean)})
			}
		}
	}
	if len(ndcg) == 0 {
		return nil
	}
	if err := plot.XYCurves(filepath.Join(dir, ds+"_ndcg_vs_sigma.png"), "test NDCG@10 (sampled-100) against the synthetic norm skew σ, "+ds,
		"σ (row norms × exp(σ·z))", "test NDCG@10", ndcg); err != nil {
		return err
	}
	return plot.XYCurves(filepath.Join(dir, ds+"_cond_vs_sigma.png"), "Hessian condition number against σ, "+ds,
		"σ (row norms × exp(σ·z))", "log10 cond", cond)
}

func runMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sigmastudy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the OUT folder of examples/tfllmer/study.sh; required")
	plots := fs.String("plots", "", "write <dataset>_ndcg_vs_sigma.png and <dataset>_cond_vs_sigma.png into this folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return errors.New("usage: sigmastudy -dir OUT [-plots DIR]")
	}
	runs, err := load(*dir)
	if err != nil {
		return err
	}
	return report(stdout, runs, *plots)
}

func main() {
	if err := runMain(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			slog.Error("sigmastudy", "err", err)
		}
		os.Exit(1)
	}
}
