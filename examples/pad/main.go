// Command pad runs PAD (Pre-train, Align, and Disentangle; Wang et al.,
// SIGIR 2025) end to end on a dataset folder and compares it with its
// ablations:
//
//	go run ./examples/pad -data ../shared/data/amazon-pantry -seeds 3
//
// Phase 1 pre-trains an ID SASRec (the "ID tower"). Phase 2 copies it
// (align.CopyTower) and trains the copy with the recommendation loss plus
// γ·MK-MMD between the text projection f_t(x_i) of the LLM item embeddings
// and the copy's ID rows (align.Anchored), over PAD's fused item table
// GELU(W_c·[E[i]; f_t(x_i)]) (align.FusedTable); the original tower is not
// touched. Phase 3 mixes three experts (ID tower, aligned tower, a fresh
// text tower) with PAD's frequency gate (moe.FreqGate, PAD's init) and
// trains everything end to end (moe.Mixture).
//
// Variants (rows of the table, keys of the JSON "variants"):
//
//	id          ID-only SASRec (phase 1)
//	text        text-only tower (fresh f_t + fresh SASRec)
//	pad_infonce PAD with InfoNCE instead of MK-MMD in phase 2
//	pad_noanchor PAD whose phase 2 aligns the ID tower itself (no copy)
//	pad_nomix   the phase-2 aligned tower alone (no mixture)
//	pad         full PAD
//	mix_texttower NOT PAD: the mixture with its text expert (encoder and
//	            f_t) started from the trained text-only tower instead of
//	            fresh (trains the text tower too)
//	pad_tfllmer NOT PAD (no published method has it): full PAD whose text
//	            expert's item table is TF-LLMER's reduction instead of f_t
//	            over the raw LLM rows: Rec-PCA (λ for 90% of PCA's retained
//	            variance, window-1 co-occurrence graph of the training
//	            sequences) of the L2-normalized rows, kept normalized
//
// Phase 3 stops early on a validation metric, -select3: overall HR@10
// (PAD's) or cold_ndcg@10, the NDCG@10 of the validation cases whose target
// lies in the two least popular bins, on -cold-eval-users users (default
// all). With several metrics one phase-3 run follows each with its own
// patience and keeps each one's best weights, ending when all have stopped:
// the same weights as one run per metric, for the cost of the longest (the
// cold-selected variants are named NAME_coldsel; "phase3_selection" in the
// JSON gives each kept epoch and why it stopped). Test is never used for
// selection. -ckpt DIR saves phase 1, the text tower and
// the MK-MMD phase 2 per seed, keyed by the settings and the seed's
// initialization (the text tower draws from a generator of its own), and reuses them in later runs (same results as
// retraining; phase-3 experts are copies with their own dropout streams).
//
// Evaluation is PAD's: full ranking over every item with the user's history
// masked, including the target when it is in the history (eval.Config
// MaskTarget), HR@10 and NDCG@10, per popularity bin (10 equal-mass bins of
// training interactions, data.PopularityBins); cold = bins 9-10, warm = bins
// 1-8. Forgetting is the ID-only NDCG@10 (test) of the aligned tower's
// encoder over its own ID-table copy, against the pre-trained tower, for
// anchored MK-MMD and for unanchored InfoNCE (which aligns the ID tower
// itself; variant forgetting_infonce); "idview" variants score with the
// fused table whose text half is zeroed (align.FusedTable.IDView) instead of
// the raw ID rows. Variant forgetting_norec adds the control without the
// recommendation loss: a copy aligned by MK-MMD or InfoNCE alone
// (align.Anchored.AlignOnly) for exactly -epochs2 epochs ("mkmmd_norec",
// "infonce_norec").
//
// The last line of stdout is one JSON object:
//
//	{"dataset":..., "variants": {NAME: {"ndcg@10": [per seed], "hr@10": [...],
//	 "cold_ndcg@10": [...], "warm_ndcg@10": [...]}}, "forgetting": {"pretrained": [...],
//	 "mkmmd": [...], "infonce": [...], "mkmmd_idview": [...], "infonce_idview": [...],
//	 "mkmmd_norec": [...], "infonce_norec": [...]}}
//
// Deviations from PAD's GPU settings (they are for 8 GPUs; these converge in
// minutes on 2 CPU cores): d 64 (PAD 128), 2 blocks (PAD 5), 1 head (PAD 2),
// FFN inner 4d and post-LN with output projection as PAD, Adam without
// weight decay (PAD AdamW wd 0.1), lr 1e-3 in phase 1 and for the text tower
// (PAD 1e-5), 5e-4 in phases 2 and 3 (PAD 1e-5 and 1e-4), batch 128 users
// (PAD 16 × 8 GPUs), early stopping on a fixed subset of validation users
// (-eval-users) by HR@10 with small patience and epoch caps (PAD: patience
// 20 on all users), the same γ = 0.2 for MK-MMD and InfoNCE (PAD's InfoNCE
// variant uses 0.01), USE-lite 512-d title embeddings instead of LLM2Vec
// 4096-d.
//
// LLM embeddings are z-scored per dimension by default (-emb-standardize,
// recpca.StandardizeColumns): USE-lite rows are unit-norm with entries of
// about 1/√D, so PAD's freshly initialized f_t (xavier, 5 GELU layers)
// outputs near-zero item vectors and the text tower barely learns (Pantry
// text-only NDCG@10 0.0037 after 20 epochs raw, 0.0146 standardized).
//
// Measured on amazon-pantry (PAD's dataset), standardized embeddings, phase
// 1 to early stopping, all validation users (58 min on 2 shared cores):
//
//	go run ./examples/pad -data ../shared/data/amazon-pantry -seeds 3 -epochs1 100 -epochs2 20 -epochs3 20 -patience 5 -eval-users 0 -variants id,text,pad_nomix,pad,forgetting_infonce
//
//	variant       HR@10           NDCG@10         cold NDCG@10    warm NDCG@10
//	id            0.0313±0.0012   0.0156±0.0003   0.0020±0.0007   0.0263±0.0010
//	text          0.0291±0.0028   0.0146±0.0012   0.0013±0.0007   0.0251±0.0018
//	pad_nomix     0.0325±0.0009   0.0164±0.0004   0.0018±0.0008   0.0278±0.0007
//	pad           0.0398±0.0016   0.0207±0.0006   0.0032±0.0003   0.0344±0.0013
//
// Forgetting, paired per seed: anchored MK-MMD −7.8% ± 7.4% (ID view −5.0%
// ± 0.5%), InfoNCE on the tower itself +3.1% ± 5.0%; without L_rec
// (-variants id,forgetting_norec -epochs2 10) MK-MMD −21.9% ± 9.9% and
// InfoNCE −10.1% ± 5.7%. Full PAD beats ID-only overall and on cold items
// in every seed.
//
// Ablations on Pantry with phases 2 and 3 capped at 5 epochs (-epochs2 5
// -epochs3 5 -variants id,pad_infonce,pad_noanchor,pad): pad
// 0.0194±0.0011 (cold 0.0023±0.0008), pad_infonce 0.0194±0.0015
// (0.0022±0.0004), pad_noanchor 0.0197±0.0014 (0.0024±0.0002): no
// difference between the variants, and no cold gain at that budget.
//
// amazon-beauty, same but phases 2 and 3 capped at 5 epochs, 3,000
// validation users, 1 thread (34 min):
//
//	go run ./examples/pad -data ../shared/data/amazon-beauty -seeds 3 -epochs1 60 -epochs2 5 -epochs3 5 -patience 5 -eval-users 3000 -threads 1 -variants id,pad_nomix,pad,forgetting_infonce
//
//	id            0.0431±0.0042   0.0215±0.0028   0.0023±0.0005   0.0322±0.0040
//	pad_nomix     0.0477±0.0035   0.0238±0.0019   0.0018±0.0003   0.0359±0.0027
//	pad           0.0530±0.0017   0.0269±0.0008   0.0019±0.0010   0.0408±0.0009
//
// Forgetting: anchored MK-MMD −4.6% ± 6.5% (ID view +2.7% ± 3.2%), InfoNCE
// on the tower itself −15.8% ± 5.7%; without L_rec (-epochs2 5) MK-MMD
// −18.3% ± 2.9%, InfoNCE −13.4% ± 1.9%. Overall PAD wins; cold items do not.
// (The _norec_idview figures are not meaningful: without L_rec the fusion
// layer never trains.)
//
// Earlier run with raw embeddings (-emb-standardize=false), epoch caps
// 20/3/3, 2,000 validation users, all ablations (~45 min):
//
//	go run ./examples/pad -data ../shared/data/amazon-pantry -seeds 3 -epochs1 20 -epochs2 3 -epochs3 3 -eval-users 2000 -emb-standardize=false -out pad.safetensors
//
// test, full ranking, history masked incl. target, mean ± sample std of 3 seeds
// (cold = bins 9-10, warm = bins 1-8, pooled over test cases):
//
//	variant       HR@10           NDCG@10         cold NDCG@10    warm NDCG@10
//	id            0.0274±0.0041   0.0132±0.0022   0.0007±0.0005   0.0230±0.0036
//	text          0.0078±0.0021   0.0037±0.0016   0.0003±0.0001   0.0063±0.0027
//	pad_nomix     0.0291±0.0036   0.0143±0.0015   0.0003±0.0002   0.0253±0.0025
//	pad           0.0326±0.0043   0.0159±0.0025   0.0003±0.0001   0.0280±0.0043
//	pad_infonce   0.0329±0.0045   0.0160±0.0027   0.0004±0.0004   0.0283±0.0045
//	pad_noanchor  0.0339±0.0044   0.0166±0.0024   0.0005±0.0002   0.0293±0.0040
//
// Forgetting (ID-only test NDCG@10 after phase 2; pre-trained 0.0132±0.0022):
// anchored MK-MMD 0.0124±0.0021 (−5.9%; ID view −1.9%), unanchored InfoNCE
// 0.0140±0.0031 (+6.1%). The pre-trained tower itself is bit-identical after
// anchored phase 2 (align's TestCopyTowerLeavesOriginal). With raw
// embeddings the text expert barely trained, and full PAD lost on cold items.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/examples/internal/cli"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// allVariants lists what -variants can name, in run order.
var allVariants = []string{"id", "text", "pad_infonce", "pad_noanchor", "pad_nomix", "pad", "mix_texttower", "pad_tfllmer", "forgetting_infonce", "forgetting_norec"}

// selectMetrics are the phase-3 selection metrics -select3 can name, and
// the suffix each adds to the name of a phase-3 variant.
var selectMetrics = map[string]string{"hr@10": "", "cold_ndcg@10": "_coldsel"}

type options struct {
	dataDir, emb, protocol, out, variants string
	loss                                  string
	serve, ckpt                           string
	select3                               []string
	coldEvalUsers                         int
	seeds, maxLen, dim, blocks, heads     int
	batch, patience, evalUsers, threads   int
	epochs1, epochs2, epochs3, bins       int
	alignRows                             int
	dropout, lr1, lr2, lr3, gamma         float64
	standardize                           bool
	phaseTimeout                          time.Duration
	seed                                  uint64
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("pad", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dataDir, "data", "", "dataset folder (sequence file + item_emb*.npy), e.g. ../shared/data/amazon-pantry")
	fs.StringVar(&o.emb, "emb", "", "item embedding file (.npy or .safetensors; default: the folder's)")
	fs.IntVar(&o.seeds, "seeds", 3, "number of seeds")
	fs.Uint64Var(&o.seed, "seed", 1, "first seed")
	fs.IntVar(&o.maxLen, "maxlen", 20, "input window")
	fs.StringVar(&o.protocol, "protocol", "full", "evaluation protocol: full (PAD) or sampledN")
	fs.IntVar(&o.dim, "dim", 64, "hidden width d")
	fs.IntVar(&o.blocks, "blocks", 2, "transformer blocks")
	fs.IntVar(&o.heads, "heads", 1, "attention heads")
	fs.Float64Var(&o.dropout, "dropout", 0.1, "dropout (encoders, f_t, fusion)")
	fs.IntVar(&o.batch, "batch", 128, "users per step")
	fs.Float64Var(&o.lr1, "lr1", 1e-3, "learning rate of phase 1 and of the text tower")
	fs.StringVar(&o.loss, "loss", "", "objective of the towers (phase 1, text, phase 2's recommendation loss): ce, gbce, sampled, bce; default the library's (backbone.DefaultObjective); PAD's paper trains BCE. Phase 3 (the mixture) trains ce or bce as named, the mixture's default (ce) for the default, and bce for gbce and sampled")
	fs.Float64Var(&o.lr2, "lr2", 5e-4, "learning rate of phase 2")
	fs.Float64Var(&o.lr3, "lr3", 5e-4, "learning rate of phase 3")
	fs.IntVar(&o.epochs1, "epochs1", 40, "maximum epochs of phase 1 and of the text tower")
	fs.IntVar(&o.epochs2, "epochs2", 10, "maximum epochs of phase 2")
	fs.IntVar(&o.epochs3, "epochs3", 10, "maximum epochs of phase 3")
	fs.IntVar(&o.patience, "patience", 3, "early stopping patience (epochs without a better valid HR@10)")
	fs.IntVar(&o.evalUsers, "eval-users", 3000, "validation users (fixed random subset; 0 = all); test always uses all")
	fs.Float64Var(&o.gamma, "gamma", 0.2, "weight γ of the alignment loss in phase 2")
	fs.IntVar(&o.bins, "bins", 10, "popularity bins")
	fs.IntVar(&o.alignRows, "align-rows", 256, "rows per batch in the alignment loss (items of the batch, sampled)")
	fs.BoolVar(&o.standardize, "emb-standardize", true, "z-score each embedding dimension over the items before use (recpca.StandardizeColumns: unit-norm sentence embeddings such as USE-lite have entries ~1/√D, so f_t starts near zero)")
	fs.DurationVar(&o.phaseTimeout, "phase-timeout", 0, "stop any single training run after this long, keeping its best weights (0 = none)")
	fs.StringVar(&o.variants, "variants", strings.Join(allVariants, ","), "what to run (comma-separated)")
	fs.StringVar(&o.out, "out", "", "save the first seed's full PAD mixture here (.safetensors + .json)")
	fs.StringVar(&o.serve, "serve", "", "instead of training: load a mixture saved by -out, evaluate it on test and print its top 10 for the first user")
	fs.IntVar(&o.threads, "threads", 2, "GOMAXPROCS")
	sel := fs.String("select3", "hr@10", "phase-3 early-stopping metrics on validation, comma-separated, each recorded as its own variant: hr@10 (overall, PAD's) or cold_ndcg@10 (NDCG@10 of the validation cases whose target is in the two least popular bins; NAME_coldsel); METRIC:N also stops that selection after epoch N (NAME_capN)")
	fs.IntVar(&o.coldEvalUsers, "cold-eval-users", 0, "validation users for -select3 cold_ndcg@10 (fixed random subset; 0 = all: the cold bins hold few cases)")
	fs.StringVar(&o.ckpt, "ckpt", "", "folder of phase-1, text-tower and phase-2 checkpoints: reused when one with the same settings, seed and initialization exists, written otherwise")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, m := range strings.Split(*sel, ",") {
		m = strings.TrimSpace(m)
		if _, _, err := parseSelect(m); err != nil {
			return nil, err
		}
		if !slices.Contains(o.select3, m) {
			o.select3 = append(o.select3, m)
		}
	}
	if o.dataDir == "" {
		return nil, errors.New("-data is required")
	}
	if o.seeds < 1 {
		return nil, fmt.Errorf("-seeds %d: need at least 1", o.seeds)
	}
	if _, err := backbone.ParseLoss(o.loss); err != nil {
		return nil, err
	}
	return o, nil
}

// series is one variant's per-seed results.
type series struct {
	NDCG     []float64 `json:"ndcg@10"`
	HR       []float64 `json:"hr@10"`
	ColdNDCG []float64 `json:"cold_ndcg@10"`
	WarmNDCG []float64 `json:"warm_ndcg@10"`
	ColdHR   []float64 `json:"cold_hr@10"`
	WarmHR   []float64 `json:"warm_hr@10"`
	// Bins holds NDCG@10 per popularity bin, per seed.
	Bins [][]float64 `json:"bin_ndcg@10"`
}

type summary struct {
	Dataset    string               `json:"dataset"`
	Variants   map[string]*series   `json:"variants"`
	Forgetting map[string][]float64 `json:"forgetting"`
	Seconds    map[string][]float64 `json:"train_seconds"`
	// Selection says, per phase-3 variant and seed, which epoch was kept
	// and why training stopped (see selection.String).
	Selection map[string][]string `json:"phase3_selection"`
	Settings  map[string]any      `json:"settings"`
	order     []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pad:", err)
		os.Exit(1)
	}
}

type env struct {
	o     *options
	split *data.Split
	valid *eval.Evaluator
	// coldValid selects by cold_ndcg@10 (-cold-eval-users)
	coldValid *eval.Evaluator
	test      *eval.Evaluator
	bins      []int
	llm       *tensor.Tensor
	log       *slog.Logger
	out       io.Writer
	// dataset and embPath name the data in checkpoint keys
	dataset, embPath string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(o.threads)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ds, llm, embPath, err := cli.LoadWithEmbeddings(o.dataDir, o.emb)
	if errors.Is(err, cli.ErrNoEmbeddings) {
		return fmt.Errorf("%w; pass -emb", err)
	}
	if err != nil {
		return err
	}
	if o.standardize {
		recpca.StandardizeColumns(llm, llm)
	}
	split := data.LeaveOneOut(ds)
	proto, negs, err := eval.ParseProtocol(o.protocol)
	if err != nil {
		return err
	}
	freq := data.ItemFrequency(split)
	bins := data.PopularityBins(freq, o.bins)
	base := eval.Config{Protocol: proto, Negatives: negs, MaskTarget: proto == eval.Full, Ks: []int{10}, Seed: 7}
	vcfg := base
	vcfg.Users = o.evalUsers
	vcfg.Groups = []eval.Grouping{eval.PopularityBins(bins)}
	valid, err := eval.NewEvaluator(split, vcfg)
	if err != nil {
		return err
	}
	coldValid := valid
	if selectsCold(o.select3) && o.coldEvalUsers != o.evalUsers {
		vcfg.Users = o.coldEvalUsers
		if coldValid, err = eval.NewEvaluator(split, vcfg); err != nil {
			return err
		}
	}
	tcfg := base
	tcfg.Groups = []eval.Grouping{eval.PopularityBins(bins)}
	test, err := eval.NewEvaluator(split, tcfg)
	if err != nil {
		return err
	}
	e := &env{o: o, dataset: ds.Name, embPath: embPath, split: split, valid: valid, coldValid: coldValid, test: test, bins: bins, llm: llm, log: log, out: stdout}
	if o.serve != "" {
		return e.serveCheck(o.serve)
	}
	fmt.Fprintf(stdout, "# %s: users %d items %d interactions %d, embeddings %s %v, protocol %s (history masked incl. target), maxlen %d, d %d, blocks %d, seeds %d\n",
		ds.Name, ds.NumUsers(), split.NumItems, ds.NumInteractions(), filepath.Base(embPath), llm.Shape, o.protocol, o.maxLen, o.dim, o.blocks, o.seeds)
	sum := &summary{Dataset: ds.Name, Variants: map[string]*series{}, Forgetting: map[string][]float64{}, Seconds: map[string][]float64{}, Selection: map[string][]string{},
		Settings: map[string]any{"dim": o.dim, "blocks": o.blocks, "heads": o.heads, "maxlen": o.maxLen, "dropout": o.dropout,
			"lr1": o.lr1, "lr2": o.lr2, "lr3": o.lr3, "gamma": o.gamma, "batch": o.batch, "patience": o.patience,
			"epochs": []int{o.epochs1, o.epochs2, o.epochs3}, "eval_users": o.evalUsers, "align_rows": o.alignRows, "protocol": o.protocol, "bins": o.bins,
			"select3": o.select3, "cold_eval_users": o.coldEvalUsers, "emb_standardize": o.standardize}}
	want := map[string]bool{}
	for _, v := range strings.Split(o.variants, ",") {
		v = strings.TrimSpace(v)
		if !slices.Contains(allVariants, v) {
			return fmt.Errorf("-variants: unknown %q (known: %s)", v, strings.Join(allVariants, ","))
		}
		want[v] = true
	}
	for s := range o.seeds {
		seed := o.seed + uint64(s)
		if err := e.runSeed(ctx, seed, s == 0, want, sum); err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	printTable(stdout, sum)
	return cli.PrintJSON(stdout, sum)
}
