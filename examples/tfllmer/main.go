package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/examples/internal/cli"
	"github.com/llmrec/llmrec/examples/internal/plot"
	"github.com/llmrec/llmrec/examples/internal/stats"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// allVariants lists the variants in the order they run and print.
var allVariants = []string{"id", "llminit_pca", "llminit_pca_norm", "tfllmer", "tfllmer_lambda0",
	"frozen_adapter", "frozen_adapter_norm", "frozen_adapter_recpca_norm", "dualview_recpca"}

// defaultVariants is what runs without -variants.
const defaultVariants = "id,llminit_pca,llminit_pca_norm,tfllmer,frozen_adapter,frozen_adapter_norm"

var variantDoc = map[string]string{
	"id":                         "ID-only SASRec (random ID table)",
	"llminit_pca":                "ID table initialized from PCA(X) to d, raw (LLMInit)",
	"llminit_pca_norm":           "same + item-embedding normalization",
	"tfllmer":                    "TF-LLMER: ID table from Rec-PCA(normalized X), rows kept normalized",
	"tfllmer_lambda0":            "ablation: TF-LLMER with λ = 0 (PCA of normalized X), rows kept normalized",
	"frozen_adapter":             "frozen LLM X + Linear adapter",
	"frozen_adapter_norm":        "frozen LLM X + Linear adapter, normalized after the adapter",
	"frozen_adapter_recpca_norm": "frozen Rec-PCA(X) to -adapter-in + adapter, normalized",
	"dualview_recpca":            "ID view from Rec-PCA (d/2) ⊕ adapted LLM view (d/2), each normalized",
}

type options struct {
	data, emb, plots, protocol, variants string
	jsonOut, loss                        string
	laplacian, tv                        string
	seeds, dim, maxLen, epochs, patience int
	batch, threads, adapterIn, window    int
	topK, curvUsers, validUsers          int
	lr, dropout, lambda, targetVar       float64
	headFrac, scale, normSkew            float64
	learnScale, decay, full, unitInit    bool
	seed, normSkewSeed                   uint64
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tfllmer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "dataset folder with a sequence file and an item-embedding .npy (e.g. ../shared/data/amazon-beauty); required")
	fs.StringVar(&o.emb, "emb", "", "item-embedding .npy (row i = item i, row 0 padding); default: the folder's item_emb*.npy")
	fs.StringVar(&o.plots, "plots", "", "write train_loss.png, valid_ndcg.png and condition.png into this folder")
	fs.StringVar(&o.protocol, "protocol", "sampled100", "validation/test protocol: sampled100 (LLM-ESR), sampledN or full")
	fs.BoolVar(&o.full, "full", true, "also report full-ranking test metrics")
	fs.StringVar(&o.variants, "variants", defaultVariants, "comma-separated variants to run, from "+strings.Join(allVariants, ","))
	fs.IntVar(&o.seeds, "seeds", 3, "number of seeds (seed, seed+1, ...)")
	fs.Uint64Var(&o.seed, "seed", 1, "first seed")
	fs.IntVar(&o.dim, "dim", 64, "hidden width d, also the Rec-PCA dimension")
	fs.IntVar(&o.maxLen, "maxlen", 50, "input window (last items)")
	fs.IntVar(&o.epochs, "epochs", 40, "maximum epochs per model")
	fs.IntVar(&o.patience, "patience", 5, "stop after this many epochs without a better validation NDCG@10")
	fs.IntVar(&o.batch, "batch", 128, "users per step")
	fs.IntVar(&o.threads, "threads", 2, "GOMAXPROCS")
	fs.Float64Var(&o.lr, "lr", 1e-3, "Adam learning rate")
	fs.Float64Var(&o.dropout, "dropout", 0.5, "dropout")
	fs.Float64Var(&o.lambda, "lambda", -1, "Rec-PCA graph penalty λ (scale-free); < 0 = use -target-var")
	fs.Float64Var(&o.targetVar, "target-var", 0.9, "Rec-PCA strength when -lambda < 0: keep this fraction of PCA's retained variance (1 = PCA)")
	fs.IntVar(&o.window, "window", 1, "co-occurrence window (-1 = user level)")
	fs.BoolVar(&o.decay, "decay", false, "weight co-occurrence pairs by 1/distance")
	fs.IntVar(&o.topK, "topk", 0, "keep each item's top-k graph neighbours (0 = all)")
	fs.StringVar(&o.laplacian, "laplacian", "sym", "Laplacian: sym (normalized) or comb (D − A)")
	fs.StringVar(&o.tv, "tv", "l2", "total variation: l2 (Dirichlet, closed form) or l1 (IRLS)")
	fs.Float64Var(&o.scale, "scale", 1, "row norm s of the normalized tables")
	fs.BoolVar(&o.unitInit, "unit-init", false, "initialize Rec-PCA ID tables with unit rows (methods.md §1.5a) instead of the raw reduced rows, whose\n"+
		"smaller norms make Adam's angular steps larger under normalization; off by default: lower validation NDCG@10 (docs/tfllmer.md)")
	fs.BoolVar(&o.learnScale, "learn-scale", false, "train the normalized tables' row norm s")
	fs.IntVar(&o.adapterIn, "adapter-in", 128, "Rec-PCA width before the adapter (frozen_adapter_recpca_norm)")
	fs.Float64Var(&o.headFrac, "head-frac", 0.2, "head items = this fraction of most frequent items in training; the rest are tail")
	fs.IntVar(&o.curvUsers, "curv-users", 128, "training sequences in the batch whose Hessian condition number is measured")
	fs.IntVar(&o.validUsers, "valid-users", 0, "validate on a fixed random subset of this many users (0 = all)")
	fs.Float64Var(&o.normSkew, "norm-skew", 0, "SYNTHETIC stress: multiply item row i of the loaded embeddings by exp(σ·z_i), z_i standard normal\n"+
		"from -norm-skew-seed, before anything else (0 = off; 0.5 gives a p99/p1 norm ratio of about 10, 1 about 100)")
	fs.Uint64Var(&o.normSkewSeed, "norm-skew-seed", 1, "seed of the -norm-skew draws")
	fs.StringVar(&o.loss, "loss", "", "training objective: ce, gbce (256 negatives), sampled, bce; default the library's (backbone.DefaultObjective; the figures before it were BCE)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the JSON summary (the last line of the output) to this file, atomically")
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if o.data == "" {
		return nil, errors.New("-data DIR is required (a folder with a sequence file and an item_emb*.npy)")
	}
	if o.seeds < 1 || o.dim < 2 || o.maxLen < 1 || o.epochs < 1 || o.batch < 1 || o.threads < 1 || o.adapterIn < 1 || o.curvUsers < 1 {
		return nil, errors.New("-seeds, -maxlen, -epochs, -batch, -threads, -adapter-in and -curv-users must be positive, -dim at least 2")
	}
	if !(o.normSkew >= 0) || math.IsInf(o.normSkew, 0) {
		return nil, fmt.Errorf("-norm-skew %v: want a finite σ >= 0", o.normSkew)
	}
	if !(o.targetVar > 0 && o.targetVar <= 1) {
		return nil, fmt.Errorf("-target-var %v: want a fraction in (0, 1]", o.targetVar)
	}
	if !(o.headFrac > 0 && o.headFrac < 1) {
		return nil, fmt.Errorf("-head-frac %v: want a fraction in (0, 1)", o.headFrac)
	}
	if o.laplacian != "sym" && o.laplacian != "comb" {
		return nil, fmt.Errorf("-laplacian %q: want sym or comb", o.laplacian)
	}
	if o.tv != "l2" && o.tv != "l1" {
		return nil, fmt.Errorf("-tv %q: want l2 or l1", o.tv)
	}
	for _, v := range o.variantList() {
		if !slices.Contains(allVariants, v) {
			return nil, fmt.Errorf("-variants: unknown variant %q (known: %s)", v, strings.Join(allVariants, ", "))
		}
	}
	if len(o.variantList()) == 0 {
		return nil, errors.New("-variants: empty list")
	}
	if _, err := backbone.ParseLoss(o.loss); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *options) variantList() []string {
	var out []string
	for _, v := range strings.Split(o.variants, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// seedRun is one trained model.
type seedRun struct {
	Seed      uint64
	Test      map[string]float64 // hr@10, ndcg@10, tail_ndcg@10, head_ndcg@10 (+ full_*)
	Losses    []float64          // training loss per epoch
	Conds     []float64          // condition number per epoch (current weights)
	ValidNDCG []float64
	FinalLoss float64
	Cond      float64 // at the end, with the restored best weights
	CondK     float64
	LamMax    float64
	LamMin    float64
	BestEpoch int
	BestValid float64 // validation NDCG@10 of the best (restored) epoch
	Seconds   float64
}

// variantJSON is one variant's entry in the last-line JSON.
type variantJSON struct {
	NDCG10         []float64            `json:"ndcg@10"`
	HR10           []float64            `json:"hr@10"`
	TailNDCG10     []float64            `json:"tail_ndcg@10"`
	HeadNDCG10     []float64            `json:"head_ndcg@10"`
	FullNDCG10     []float64            `json:"full_ndcg@10,omitempty"`
	FullHR10       []float64            `json:"full_hr@10,omitempty"`
	FinalTrainLoss []float64            `json:"final_train_loss"`
	CondNumber     []*float64           `json:"condition_number"`
	CondNumberK    []*float64           `json:"condition_number_k"`
	BestEpoch      []int                `json:"best_epoch"`
	ValidNDCG10    []float64            `json:"valid_ndcg@10"` // best validation NDCG@10 (the restored epoch)
	Epochs         []int                `json:"epochs"`        // epochs trained
	LossCurve      [][]float64          `json:"train_loss_curve"`
	CondCurve      [][]*float64         `json:"condition_number_curve"`
	Extra          map[string][]float64 `json:"-"`
}

type reportJSON struct {
	Dataset  string                  `json:"dataset"`
	Users    int                     `json:"users"`
	Items    int                     `json:"items"`
	Protocol string                  `json:"protocol"`
	MaxLen   int                     `json:"maxlen"`
	Seeds    []uint64                `json:"seeds"`
	RecPCA   map[string]float64      `json:"recpca"`
	Settings settingsJSON            `json:"settings"`
	Variants map[string]*variantJSON `json:"variants"`
	Seconds  float64                 `json:"seconds"`
}

// settingsJSON records the flags that change the results and the input
// embeddings' statistics (after -norm-skew).
type settingsJSON struct {
	NormSkew     float64    `json:"norm_skew"`
	NormSkewSeed uint64     `json:"norm_skew_seed"`
	Input        inputStats `json:"input_norms"`
	Embeddings   string     `json:"embeddings"`
	Dim          int        `json:"dim"`
	Epochs       int        `json:"epochs"`
	Patience     int        `json:"patience"`
	Batch        int        `json:"batch"`
	LR           float64    `json:"lr"`
	Dropout      float64    `json:"dropout"`
	ValidUsers   int        `json:"valid_users"`
	Lambda       float64    `json:"lambda"`
	TargetVar    float64    `json:"target_var"`
	Window       int        `json:"window"`
	UnitInit     bool       `json:"unit_init"`
	LearnScale   bool       `json:"learn_scale"`
	Scale        float64    `json:"scale"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	start := time.Now()
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(o.threads)
	say := cli.Sayer(stdout)

	ds, x, embFile, err := cli.LoadWithEmbeddings(o.data, o.emb)
	if errors.Is(err, cli.ErrNoEmbeddings) {
		return fmt.Errorf("%w; pass -emb", err)
	}
	if err != nil {
		return err
	}
	if o.normSkew > 0 { // before anything else looks at x
		if _, err := normSkew(x, o.normSkew, o.normSkewSeed); err != nil {
			return err
		}
	}
	inStats, err := computeInputStats(x)
	if err != nil {
		return fmt.Errorf("%s: %w", embFile, err)
	}
	split := data.LeaveOneOut(ds)
	if o.dim > x.Shape[1] || o.adapterIn > x.Shape[1] {
		return fmt.Errorf("-dim %d / -adapter-in %d exceed the embedding width %d", o.dim, o.adapterIn, x.Shape[1])
	}
	variants := o.variantList()

	// 1. Data, head/tail split, embedding norms.
	trainFreq := data.ItemFrequency(split)
	headThr := describeData(say, o, ds, x, embFile, inStats, trainFreq)

	// 2. Graph and reductions (only those the chosen variants need).
	red, err := reduceAll(ctx, say, o, x, split, variants)
	if err != nil {
		return err
	}

	// 3. Evaluators, and training.
	evs, err := newEvaluators(o, split, trainFreq, headThr)
	if err != nil {
		return err
	}
	curvSeqs := curvatureBatch(o, split)
	ecfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		return err
	}
	ecfg.Dim, ecfg.MaxLen, ecfg.Dropout, ecfg.Threads = o.dim, o.maxLen, o.dropout, o.threads

	results := map[string][]seedRun{}
	say("")
	say("Training SASRec (d %d, maxlen %d, dropout %.2f, lr %g, batch %d) for at most %d epochs, patience %d, %d seed(s); validation %s NDCG@10:",
		o.dim, o.maxLen, o.dropout, o.lr, o.batch, o.epochs, o.patience, o.seeds, o.protocol)
	for _, v := range variants {
		say("  %-27s %s", v, variantDoc[v])
	}
	build := func(v string, rng *rand.Rand) (backbone.ItemTable, error) { return red.table(v, o, split, x, rng) }
	for _, v := range variants {
		for s := 0; s < o.seeds; s++ {
			seed := o.seed + uint64(s)
			r, err := trainOne(ctx, v, seed, build, ecfg, o, split, evs.valid, evs.test, evs.full, curvSeqs, say)
			if err != nil {
				return fmt.Errorf("%s seed %d: %w", v, seed, err)
			}
			results[v] = append(results[v], r)
		}
	}

	// 4. Table and claims.
	say("")
	testTable(say, o, variants, results, evs.full != nil)
	say("")
	claims(say, results)

	// 5. Plots.
	if err := writePlots(say, o, ds.Name, variants, results); err != nil {
		return err
	}

	// 6. JSON.
	rep := reportJSON{Dataset: ds.Name, Users: ds.NumUsers(), Items: ds.NumItems, Protocol: o.protocol, MaxLen: o.maxLen,
		RecPCA: red.stats, Variants: map[string]*variantJSON{}, Settings: settingsJSON{
			NormSkew: o.normSkew, NormSkewSeed: o.normSkewSeed, Input: inStats, Embeddings: filepath.Base(embFile),
			Dim: o.dim, Epochs: o.epochs, Patience: o.patience, Batch: o.batch, LR: o.lr, Dropout: o.dropout,
			ValidUsers: o.validUsers, Lambda: o.lambda, TargetVar: o.targetVar, Window: o.window,
			UnitInit: o.unitInit, LearnScale: o.learnScale, Scale: o.scale}}
	for s := 0; s < o.seeds; s++ {
		rep.Seeds = append(rep.Seeds, o.seed+uint64(s))
	}
	for _, v := range variants {
		rep.Variants[v] = newVariantJSON(results[v], evs.full != nil)
	}
	rep.Seconds = time.Since(start).Seconds()
	say("Total %.1fs on %d threads.", rep.Seconds, o.threads)
	if err := cli.PrintJSON(stdout, rep); err != nil {
		return err
	}
	if o.jsonOut != "" {
		return safetensors.WriteFileAtomic(o.jsonOut, func(w io.Writer) error { return cli.PrintJSON(w, rep) })
	}
	return nil
}

// describeData prints the dataset, the head/tail split and the
// embeddings' norm statistics, and returns the head threshold (the
// training frequency of the least frequent head item).
func describeData(say func(string, ...any), o *options, ds *data.Dataset, x *tensor.Tensor, embFile string, inStats inputStats, trainFreq []int) int {
	headThr, nHead := headThreshold(trainFreq, o.headFrac)
	n := ds.NumInteractions()
	say("TF-LLMER experiment on %s: %d users, %d items, %d interactions (%.1f per user); maxlen %d",
		ds.Name, ds.NumUsers(), ds.NumItems, n, float64(n)/float64(max(1, ds.NumUsers())), o.maxLen)
	say("  head items: the %d most frequent in training (%.0f%%, training frequency >= %d); the others are tail",
		nHead, 100*o.headFrac, headThr)
	if o.normSkew > 0 {
		say("  SYNTHETIC norm skew: item rows multiplied by exp(σ·z_i), σ %g, z_i ~ N(0,1) from seed %d (input normalization undoes it exactly)",
			o.normSkew, o.normSkewSeed)
	}
	say("  embeddings %s: %d x %d, L2 norms min %.3g max %.3g: max/min %.3g, p99/p1 %.3g, CV %.3f; mean pairwise cosine %.3f",
		filepath.Base(embFile), x.Shape[0]-1, x.Shape[1], inStats.Min, inStats.Max, inStats.MaxMin, inStats.P99P1, inStats.CV, inStats.MeanCos)
	return headThr
}

// reductions are the reduced item matrices the variants start from (nil
// when no chosen variant needs one) and the Rec-PCA figures of the report.
type reductions struct {
	pcaRaw, recMain, recZero, recAdapter, recHalf *reduction
	stats                                         map[string]float64
}

// reduceAll builds the co-occurrence graph and the reductions that the
// variants need, printing what each achieved.
func reduceAll(ctx context.Context, say func(string, ...any), o *options, x *tensor.Tensor, split *data.Split, variants []string) (*reductions, error) {
	t0 := time.Now()
	g, err := recpca.BuildGraph(split.Train, split.NumItems, recpca.GraphOptions{Window: o.window, Decay: o.decay, TopK: o.topK})
	if err != nil {
		return nil, fmt.Errorf("co-occurrence graph: %w", err)
	}
	rc := reduceConfig{Dim: o.dim, Graph: g, NormalizeInput: true, NormalizeOutput: o.unitInit, Seed: o.seed}
	if o.lambda >= 0 {
		rc.Lambda = o.lambda
	} else {
		rc.TargetVar = o.targetVar
	}
	if o.laplacian == "comb" {
		rc.Laplacian = recpca.Combinatorial
	}
	if o.tv == "l1" {
		rc.TV = recpca.TVL1
	}
	need := func(names ...string) bool {
		for _, v := range names {
			if slices.Contains(variants, v) {
				return true
			}
		}
		return false
	}
	red := &reductions{stats: map[string]float64{"edges": float64(g.NumEdges()), "window": float64(o.window)}}
	if need("llminit_pca", "llminit_pca_norm") {
		// LLMInit: plain PCA of the raw rows, not normalized.
		if red.pcaRaw, err = reduce(ctx, x, reduceConfig{Dim: o.dim, Seed: o.seed}); err != nil {
			return nil, fmt.Errorf("pca: %w", err)
		}
		if st, err := recpca.ComputeNormStats(red.pcaRaw.Z); err == nil {
			say("  PCA(X) -> %d (LLMInit): retained variance %.3f; row norms max/min %.1f, CV %.3f",
				o.dim, red.pcaRaw.Proj.Stats.RetainedVariance, st.Ratio, st.CV)
			red.stats["pca_norm_ratio"], red.stats["pca_norm_cv"] = st.Ratio, st.CV
		}
	}
	if need("tfllmer") {
		if red.recMain, err = reduce(ctx, x, rc); err != nil {
			return nil, fmt.Errorf("rec-pca: %w", err)
		}
		red.mainStats(say, o, x, g)
	}
	if need("tfllmer_lambda0") {
		c := rc
		c.Lambda, c.TargetVar = 0, 0
		if red.recZero, err = reduce(ctx, x, c); err != nil {
			return nil, fmt.Errorf("pca of normalized rows: %w", err)
		}
		say("  PCA %d -> %d of normalized rows (Rec-PCA λ = 0): retained variance %.3f, graph TV %.4g",
			x.Shape[1], o.dim, red.recZero.Proj.Stats.RetainedVariance, red.recZero.Proj.Stats.GraphTV)
	}
	if need("frozen_adapter_recpca_norm") {
		c := rc
		c.Dim = o.adapterIn
		if red.recAdapter, err = reduce(ctx, x, c); err != nil {
			return nil, fmt.Errorf("rec-pca (adapter input): %w", err)
		}
		say("  Rec-PCA %d -> %d before the adapter: λ %.3f, retained variance %.3f", x.Shape[1], o.adapterIn,
			red.recAdapter.Proj.Stats.Lambda, red.recAdapter.Proj.Stats.RetainedVariance)
	}
	if need("dualview_recpca") {
		c := rc
		c.Dim = o.dim / 2
		if red.recHalf, err = reduce(ctx, x, c); err != nil {
			return nil, fmt.Errorf("rec-pca (dual view): %w", err)
		}
	}
	say("  graph and reductions: %.2fs", time.Since(t0).Seconds())
	return red, nil
}

// mainStats prints and records the main Rec-PCA's figures and the
// semantic–collaborative alignment gap before and after it.
func (red *reductions) mainStats(say func(string, ...any), o *options, x *tensor.Tensor, g *recpca.Graph) {
	s := red.recMain.Proj.Stats
	say("  Rec-PCA %d -> %d on normalized rows, %d edges (window %d): λ %.3f, retained variance %.3f (PCA %.3f), graph TV %.4g (PCA %.4g), %d non-positive kept eigenvalues",
		x.Shape[1], o.dim, g.NumEdges(), o.window, s.Lambda, s.RetainedVariance, s.PCARetainedVariance, s.GraphTV, s.PCAGraphTV, s.NonPositive)
	st := red.stats
	st["lambda"], st["retained"], st["pca_retained"] = s.Lambda, s.RetainedVariance, s.PCARetainedVariance
	st["graph_tv"], st["pca_graph_tv"] = s.GraphTV, s.PCAGraphTV
	arng := rand.New(rand.NewPCG(o.seed, 4))
	if a, err := recpca.Alignment(g, x, 20000, arng); err == nil {
		st["gap_raw"] = a.Gap
	}
	arng = rand.New(rand.NewPCG(o.seed, 4))
	if a, err := recpca.Alignment(g, red.recMain.Z, 20000, arng); err == nil {
		st["gap_recpca"] = a.Gap
	}
	say("  co-occurring minus random pairs' mean cosine: raw X %.3f, normalize(Rec-PCA(X)) %.3f", st["gap_raw"], st["gap_recpca"])
}

// table builds variant v's item table.
func (red *reductions) table(v string, o *options, split *data.Split, x *tensor.Tensor, rng *rand.Rand) (backbone.ItemTable, error) {
	switch v {
	case "id":
		return backbone.NewIDTable(rng, split.NumItems, o.dim), nil
	case "llminit_pca":
		return recPCAIDTable(red.pcaRaw, false, o.scale, o.learnScale)
	case "llminit_pca_norm":
		return recPCAIDTable(red.pcaRaw, true, o.scale, o.learnScale)
	case "tfllmer":
		return recPCAIDTable(red.recMain, true, o.scale, o.learnScale)
	case "tfllmer_lambda0":
		return recPCAIDTable(red.recZero, true, o.scale, o.learnScale)
	case "frozen_adapter":
		return adapterTable(x, o.dim, false, o.scale, o.learnScale, rng)
	case "frozen_adapter_norm":
		return adapterTable(x, o.dim, true, o.scale, o.learnScale, rng)
	case "frozen_adapter_recpca_norm":
		return adapterTable(red.recAdapter.Z, o.dim, true, o.scale, o.learnScale, rng)
	case "dualview_recpca":
		return dualViewTable(red.recHalf, x, o.dim, o.scale, o.learnScale, rng)
	}
	return nil, fmt.Errorf("unknown variant %q", v)
}

// evaluators are the run's protocols: validation (on -valid-users), test
// with the head/tail groups, and full-ranking test (nil unless -full adds
// it to a sampled protocol).
type evaluators struct {
	valid, test, full *eval.Evaluator
}

func newEvaluators(o *options, split *data.Split, trainFreq []int, headThr int) (evaluators, error) {
	var evs evaluators
	proto, negs, err := eval.ParseProtocol(o.protocol)
	if err != nil {
		return evs, err
	}
	groups := []eval.Grouping{eval.TailItems(trainFreq, headThr)}
	if evs.valid, err = eval.NewEvaluator(split, eval.Config{Protocol: proto, Negatives: negs, Seed: o.seed, Ks: []int{10}, Users: o.validUsers}); err != nil {
		return evs, err
	}
	if evs.test, err = eval.NewEvaluator(split, eval.Config{Protocol: proto, Negatives: negs, Seed: o.seed, Ks: []int{10}, Groups: groups}); err != nil {
		return evs, err
	}
	if o.full && proto != eval.Full {
		if evs.full, err = eval.NewEvaluator(split, eval.Config{Protocol: eval.Full, Seed: o.seed, Ks: []int{10}, Groups: groups}); err != nil {
			return evs, err
		}
	}
	return evs, nil
}

// curvatureBatch returns the batch whose curvature is measured: a fixed
// random set of training sequences (the same for every variant and seed).
func curvatureBatch(o *options, split *data.Split) [][]int {
	crng := rand.New(rand.NewPCG(o.seed, 5))
	var curvSeqs [][]int
	for _, u := range crng.Perm(len(split.Train)) {
		if len(split.Train[u]) >= 2 && len(curvSeqs) < o.curvUsers {
			curvSeqs = append(curvSeqs, split.Train[u])
		}
	}
	return curvSeqs
}

// testTable prints the test metrics of every variant (mean ± std over the
// seeds), the final training loss, the condition number and the epochs.
func testTable(say func(string, ...any), o *options, variants []string, results map[string][]seedRun, full bool) {
	say("Test (%s; mean ± std over %d seed(s), sample std), tail/head by training frequency; cond = λmax/λmin of the batch-average Hessian Cov_p(e) w.r.t. h:", o.protocol, o.seeds)
	cols := []string{"hr@10", "ndcg@10", "tail_ndcg@10", "head_ndcg@10"}
	if full {
		cols = append(cols, "full_hr@10", "full_ndcg@10")
	}
	hdr := fmt.Sprintf("  %-27s", "variant")
	for _, c := range cols {
		hdr += fmt.Sprintf(" %17s", c)
	}
	hdr += fmt.Sprintf(" %17s %21s %6s", "final_train_loss", "condition_number", "epochs")
	say("%s", hdr)
	for _, v := range variants {
		rs := results[v]
		line := fmt.Sprintf("  %-27s", v)
		for _, c := range cols {
			line += " " + pm(collect(rs, func(r seedRun) float64 { return r.Test[c] }), 4)
		}
		line += " " + pm(collect(rs, func(r seedRun) float64 { return r.FinalLoss }), 4)
		line += " " + pmg(collect(rs, func(r seedRun) float64 { return r.Cond }))
		line += fmt.Sprintf(" %6s", fmt.Sprint(collectInt(rs, func(r seedRun) int { return len(r.Losses) })))
		say("%s", line)
	}
}

// writePlots draws the first seed's training loss, validation NDCG and
// condition-number curves of every variant into -plots (when set).
func writePlots(say func(string, ...any), o *options, dataset string, variants []string, results map[string][]seedRun) error {
	if o.plots == "" {
		return nil
	}
	if err := os.MkdirAll(o.plots, 0o755); err != nil {
		return err
	}
	loss, ndcg, cond := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for _, v := range variants {
		r := results[v][0]
		loss[v], ndcg[v] = r.Losses, r.ValidNDCG
		for _, c := range r.Conds {
			cond[v] = append(cond[v], math.Log10(c))
		}
	}
	title := fmt.Sprintf("SASRec training loss, %s (seed %d)", dataset, o.seed)
	if err := plot.LossCurves(filepath.Join(o.plots, "train_loss.png"), title, loss); err != nil {
		return err
	}
	if err := plot.MetricCurves(filepath.Join(o.plots, "valid_ndcg.png"), "validation NDCG@10, "+dataset, "valid NDCG@10", ndcg); err != nil {
		return err
	}
	if err := plot.MetricCurves(filepath.Join(o.plots, "condition.png"), "Hessian condition number along training, "+dataset, "log10 cond Cov_p(e)", cond); err != nil {
		return err
	}
	say("")
	say("Plots: %s, valid_ndcg.png, condition.png", filepath.Join(o.plots, "train_loss.png"))
	return nil
}

// newVariantJSON collects a variant's per-seed results for the JSON
// report (the full-ranking metrics only when they were measured).
func newVariantJSON(rs []seedRun, full bool) *variantJSON {
	j := &variantJSON{}
	for _, r := range rs {
		j.NDCG10 = append(j.NDCG10, r.Test["ndcg@10"])
		j.HR10 = append(j.HR10, r.Test["hr@10"])
		j.TailNDCG10 = append(j.TailNDCG10, r.Test["tail_ndcg@10"])
		j.HeadNDCG10 = append(j.HeadNDCG10, r.Test["head_ndcg@10"])
		if full {
			j.FullNDCG10 = append(j.FullNDCG10, r.Test["full_ndcg@10"])
			j.FullHR10 = append(j.FullHR10, r.Test["full_hr@10"])
		}
		j.FinalTrainLoss = append(j.FinalTrainLoss, r.FinalLoss)
		j.CondNumber = append(j.CondNumber, finite(r.Cond))
		j.CondNumberK = append(j.CondNumberK, finite(r.CondK))
		j.BestEpoch = append(j.BestEpoch, r.BestEpoch)
		j.ValidNDCG10 = append(j.ValidNDCG10, r.BestValid)
		j.Epochs = append(j.Epochs, len(r.Losses))
		j.LossCurve = append(j.LossCurve, r.Losses)
		var cc []*float64
		for _, c := range r.Conds {
			cc = append(cc, finite(c))
		}
		j.CondCurve = append(j.CondCurve, cc)
	}
	return j
}

// trainOne trains one variant with one seed and evaluates it.
func trainOne(ctx context.Context, v string, seed uint64, build func(string, *rand.Rand) (backbone.ItemTable, error),
	ecfg backbone.EncoderConfig, o *options, split *data.Split, validEv, testEv, fullEv *eval.Evaluator,
	curvSeqs [][]int, say func(string, ...any)) (seedRun, error) {
	r := seedRun{Seed: seed, Test: map[string]float64{}}
	rng := rand.New(rand.NewPCG(seed, 1))
	enc, err := backbone.NewSASRec(rng, ecfg)
	if err != nil {
		return r, err
	}
	items, err := build(v, rng)
	if err != nil {
		return r, err
	}
	loss, _ := backbone.ParseLoss(o.loss) // checked in parse
	mc := backbone.ModelConfig{Loss: loss}
	if loss == backbone.LossGBCE {
		mc.NumNeg = min(256, items.NumItems()-1)
	}
	m, err := backbone.NewSeqModel(enc, items, mc)
	if err != nil {
		return r, err
	}
	tcfg := backbone.DefaultTrainConfig()
	tcfg.Epochs, tcfg.BatchSize, tcfg.LR, tcfg.Seed, tcfg.Patience = o.epochs, o.batch, o.lr, seed, o.patience
	var curvErr error
	hist, err := backbone.Train(ctx, m, split.Train, tcfg, backbone.TrainOptions{
		Validate: validEv.Validator(eval.Valid, func() (eval.Scorer, error) { return backbone.NewRecommender(m), nil }),
		OnEpoch: func(e backbone.EpochStats) {
			sp, err := curvature(m, curvSeqs)
			if err != nil && curvErr == nil {
				curvErr = err
			}
			r.Losses = append(r.Losses, e.Loss)
			r.Conds = append(r.Conds, sp.Cond)
			r.ValidNDCG = append(r.ValidNDCG, e.Metrics["ndcg@10"])
			r.Seconds += e.Seconds + e.EvalSeconds
			mark := ""
			if e.Improved {
				mark = " *"
			}
			say("  %-27s seed %d epoch %2d  loss %.4f  cond %9.3g  valid NDCG@10 %.4f  (%.1fs)%s",
				v, seed, e.Epoch, e.Loss, sp.Cond, e.Metrics["ndcg@10"], e.Seconds+e.EvalSeconds, mark)
		},
	})
	if err != nil {
		return r, err
	}
	if curvErr != nil {
		return r, fmt.Errorf("curvature: %w", curvErr)
	}
	r.BestEpoch = hist.BestEpoch
	if e := hist.BestEpoch; e >= 1 && e <= len(r.ValidNDCG) {
		r.BestValid = r.ValidNDCG[e-1]
	}
	if len(r.Losses) > 0 {
		r.FinalLoss = r.Losses[len(r.Losses)-1]
	}
	sp, err := curvature(m, curvSeqs) // best-validation weights, restored by Train
	if err != nil {
		return r, fmt.Errorf("curvature: %w", err)
	}
	r.Cond, r.CondK, r.LamMax, r.LamMin = sp.Cond, sp.CondK, sp.Max, sp.Min
	rec := backbone.NewRecommender(m)
	res, err := testEv.Evaluate(ctx, rec, eval.Test)
	if err != nil {
		return r, err
	}
	put(r.Test, "", res)
	if fullEv != nil {
		if res, err = fullEv.Evaluate(ctx, rec, eval.Test); err != nil {
			return r, err
		}
		put(r.Test, "full_", res)
	}
	say("  %-27s seed %d test HR@10 %.4f NDCG@10 %.4f (tail %.4f, head %.4f), final loss %.4f, cond %.4g (λmax %.3g λmin %.3g), best epoch %d, %.0fs",
		v, seed, r.Test["hr@10"], r.Test["ndcg@10"], r.Test["tail_ndcg@10"], r.Test["head_ndcg@10"],
		r.FinalLoss, r.Cond, r.LamMax, r.LamMin, r.BestEpoch, r.Seconds)
	return r, nil
}

// put copies HR@10 and NDCG@10 overall and per tail/head bucket into dst.
func put(dst map[string]float64, prefix string, res *eval.Result) {
	dst[prefix+"hr@10"], _ = res.Overall.Get("hr@10")
	dst[prefix+"ndcg@10"], _ = res.Overall.Get("ndcg@10")
	for _, g := range res.Groups {
		for _, b := range g.Buckets {
			dst[prefix+b.Label+"_ndcg@10"], _ = b.Metrics.Get("ndcg@10")
			dst[prefix+b.Label+"_hr@10"], _ = b.Metrics.Get("hr@10")
		}
	}
}

// headThreshold returns the training frequency t such that items with
// freq >= t are (about) the frac most frequent items, and their count.
func headThreshold(freq []int, frac float64) (int, int) {
	counts := slices.Clone(freq[1:])
	slices.Sort(counts)
	slices.Reverse(counts)
	k := max(1, int(math.Round(frac*float64(len(counts)))))
	t := max(1, counts[k-1])
	nHead := 0
	for _, c := range counts {
		if c >= t {
			nHead++
		}
	}
	return t, nHead
}

// claims prints the two claims checked on the measured numbers.
func claims(say func(string, ...any), results map[string][]seedRun) {
	loss := func(v string) []float64 { return collect(results[v], func(r seedRun) float64 { return r.FinalLoss }) }
	cond := func(v string) []float64 { return collect(results[v], func(r seedRun) float64 { return r.Cond }) }
	ndcg := func(v string) []float64 {
		return collect(results[v], func(r seedRun) float64 { return r.Test["ndcg@10"] })
	}
	pairs := [][2]string{{"llminit_pca", "llminit_pca_norm"}, {"frozen_adapter", "frozen_adapter_norm"}}
	for _, p := range pairs {
		if results[p[0]] == nil || results[p[1]] == nil {
			continue
		}
		lu, ln := mean(loss(p[0])), mean(loss(p[1]))
		cu, cn := mean(cond(p[0])), mean(cond(p[1]))
		say("Claim 1 (%s vs %s): final training loss %.4f vs %.4f -> %s; condition number %.4g vs %.4g -> %s",
			p[0], p[1], lu, ln, verdict(lu > ln), cu, cn, verdict(cu > cn))
	}
	if results["tfllmer"] != nil {
		t, ts := mean(ndcg("tfllmer")), std(ndcg("tfllmer"))
		for _, base := range []string{"id", "llminit_pca", "tfllmer_lambda0"} {
			if results[base] == nil {
				continue
			}
			b, bs := mean(ndcg(base)), std(ndcg(base))
			say("Claim 2 (tfllmer vs %s): test NDCG@10 %.4f ± %.4f vs %.4f ± %.4f, difference %+.4f vs largest std %.4f -> %s",
				base, t, ts, b, bs, t-b, math.Max(ts, bs), verdict(t-b > math.Max(ts, bs)))
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "holds"
	}
	return "does NOT hold"
}

func collect(rs []seedRun, f func(seedRun) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func collectInt(rs []seedRun, f func(seedRun) int) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// mean and std summarize a variant over seeds (std: sample standard
// deviation, 0 for one seed).
func mean(v []float64) float64 { return stats.Mean(v) }
func std(v []float64) float64  { return stats.Std(v) }

func pm(v []float64, prec int) string { return fmt.Sprintf("%17s", stats.PM(v, prec)) }

func pmg(v []float64) string {
	return fmt.Sprintf("%21s", fmt.Sprintf("%.4g ± %.2g", mean(v), std(v)))
}

func main() { cli.Main("tfllmer", run, os.Interrupt, syscall.SIGTERM) }
