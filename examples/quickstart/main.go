package main

//go:generate go run ./gen -out assets

import (
	"bytes"
	"context"
	_ "embed"
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
	"syscall"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/examples/internal/cli"
	"github.com/llmrec/llmrec/examples/internal/plot"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// The embedded default dataset, written by ./gen (see its doc): synthetic,
// generated with planted structure, redistributable.
var (
	//go:embed assets/synthetic_seq.txt
	embeddedSeq []byte
	//go:embed assets/item_emb_synthetic_128.npy
	embeddedEmb []byte
)

const (
	embeddedSeqName = "synthetic_seq.txt"
	embeddedEmbName = "item_emb_synthetic_128.npy"
)

type options struct {
	data, plots, protocol string
	dim, maxLen, epochs   int
	batch, threads        int
	lr, dropout           float64
	targetVar             float64
	tail                  int
	learnScale            bool
	seed                  uint64
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "dataset folder with a sequence file and an item-embedding .npy (as ../shared/data/amazon-beauty); empty = the embedded synthetic dataset")
	fs.StringVar(&o.plots, "plots", "", "write loss.png, valid_ndcg.png and norms.png into this folder (created if needed)")
	fs.StringVar(&o.protocol, "protocol", "full", "evaluation protocol: full or sampled100 (sampledN)")
	fs.IntVar(&o.dim, "dim", 64, "hidden width d, also the Rec-PCA dimension")
	fs.IntVar(&o.maxLen, "maxlen", 20, "input window (last items)")
	fs.IntVar(&o.epochs, "epochs", 12, "training epochs per model")
	fs.IntVar(&o.batch, "batch", 128, "users per step")
	fs.IntVar(&o.threads, "threads", 2, "GOMAXPROCS")
	fs.Float64Var(&o.lr, "lr", 2e-3, "Adam learning rate")
	fs.Float64Var(&o.dropout, "dropout", 0.2, "dropout")
	fs.Float64Var(&o.targetVar, "target-var", 0.9, "Rec-PCA strength: keep this fraction of PCA's retained variance (1 = plain PCA)")
	fs.IntVar(&o.tail, "tail", 20, "items with fewer interactions than this are 'tail' in the per-group report")
	fs.BoolVar(&o.learnScale, "learn-scale", false, "make the normalized table's row norm s a trained scalar (default: fixed s = 1)")
	fs.Uint64Var(&o.seed, "seed", 42, "seed of initialization, training and evaluation")
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if o.dim < 1 || o.maxLen < 1 || o.epochs < 1 || o.batch < 1 || o.threads < 1 {
		return nil, errors.New("-dim, -maxlen, -epochs, -batch and -threads must be positive")
	}
	if !(o.targetVar > 0 && o.targetVar <= 1) {
		return nil, fmt.Errorf("-target-var %v: want a fraction in (0, 1]", o.targetVar)
	}
	return o, nil
}

// load returns the dataset and its item embeddings, from -data or from the
// embedded synthetic files.
func load(o *options) (*data.Dataset, *tensor.Tensor, string, error) {
	if o.data == "" {
		ds, err := data.ReadSeq(bytes.NewReader(embeddedSeq), embeddedSeqName, data.Options{Name: "synthetic (embedded)"})
		if err != nil {
			return nil, nil, "", err
		}
		m, err := data.ReadNPY(bytes.NewReader(embeddedEmb), embeddedEmbName)
		if err != nil {
			return nil, nil, "", err
		}
		x, _, err := data.AlignEmbeddings(m, ds, embeddedEmbName, data.EmbeddingOptions{})
		return ds, x, embeddedEmbName, err
	}
	ds, x, path, err := cli.LoadWithEmbeddings(o.data, "")
	return ds, x, filepath.Base(path), err
}

// reduced is the outcome of the TF-LLMER preprocessing.
type reduced struct {
	Z                   *tensor.Tensor // [NumItems+1, d], unit rows
	Lambda              float64
	Retained, PCARetain float64
	GraphTV, PCAGraphTV float64
	Edges               int
	GapRaw, GapReduced  float64 // co-occurrence cosine gap before/after
}

// recPCA is TF-LLMER's preprocessing: build the item co-occurrence graph
// of the training sequences, fit Rec-PCA on the L2-normalized LLM rows
// (PCA's variance traded for smoothness over the graph until targetVar of
// PCA's retained variance is left), project, and L2-normalize the result.
func recPCA(x *tensor.Tensor, train [][]int, numItems, dim int, targetVar float64, seed uint64) (*reduced, error) {
	g, err := recpca.BuildGraph(train, numItems, recpca.GraphOptions{})
	if err != nil {
		return nil, err
	}
	opt := recpca.Options{Dim: dim, NormalizeInput: true, Seed: seed}
	if targetVar < 1 {
		opt.TargetVariance = targetVar
	}
	p, err := recpca.Fit(x, g, opt)
	if err != nil {
		return nil, err
	}
	z := p.Transform(nil, x, true)
	r := &reduced{Z: z, Lambda: p.Stats.Lambda, Retained: p.Stats.RetainedVariance,
		PCARetain: p.Stats.PCARetainedVariance, GraphTV: p.Stats.GraphTV, PCAGraphTV: p.Stats.PCAGraphTV,
		Edges: g.NumEdges()}
	rng := rand.New(rand.NewPCG(seed, 4))
	if a, err := recpca.Alignment(g, x, 20000, rng); err == nil {
		r.GapRaw = a.Gap
	}
	rng = rand.New(rand.NewPCG(seed, 4))
	if a, err := recpca.Alignment(g, z, 20000, rng); err == nil {
		r.GapReduced = a.Gap
	}
	return r, nil
}

// runResult is one trained model's record.
type runResult struct {
	Name       string             `json:"name"`
	Test       map[string]float64 `json:"test"`
	Tail       map[string]float64 `json:"test_tail"`
	Losses     []float64          `json:"loss"`
	ValidNDCG  []float64          `json:"valid_ndcg10"`
	BestEpoch  int                `json:"best_epoch"`
	TrainSecs  float64            `json:"train_s"`
	Params     int                `json:"params"`
	FinalNorms []float64          `json:"-"`
}

type report struct {
	Dataset      string      `json:"dataset"`
	Synthetic    bool        `json:"synthetic"`
	Users        int         `json:"users"`
	Items        int         `json:"items"`
	Interactions int         `json:"interactions"`
	Protocol     string      `json:"protocol"`
	Epochs       int         `json:"epochs"`
	RecPCA       any         `json:"recpca"`
	Models       []runResult `json:"models"`
	Seconds      float64     `json:"seconds"`
	Threads      int         `json:"threads"`
}

func pick(r *eval.Result, tailGroup bool) map[string]float64 {
	out := map[string]float64{}
	m := r.Overall
	if tailGroup {
		for _, g := range r.Groups {
			for _, b := range g.Buckets {
				if b.Label == "tail" {
					m = b.Metrics
				}
			}
		}
	}
	out["count"] = float64(m.Count)
	for _, k := range []string{"hr@10", "ndcg@10"} {
		v, _ := m.Get(k)
		out[k] = v
	}
	return out
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	start := time.Now()
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(o.threads)
	say := cli.Sayer(stdout)

	ds, x, embName, err := load(o)
	if err != nil {
		return err
	}
	split := data.LeaveOneOut(ds)
	synthetic := o.data == ""

	// 1. Data statistics.
	intro(say, o, synthetic)
	printStats(say, ds, split, x, embName, o.tail)
	if err := ctx.Err(); err != nil {
		return err
	}

	// 2. TF-LLMER preprocessing.
	t0 := time.Now()
	red, err := recPCA(x, split.Train, split.NumItems, o.dim, o.targetVar, o.seed)
	if err != nil {
		return fmt.Errorf("rec-pca: %w", err)
	}
	say("")
	say("Rec-PCA %d -> %d on L2-normalized rows, graph of %d consecutive-item edges from the training sequences (%.2fs):",
		x.Shape[1], o.dim, red.Edges, time.Since(t0).Seconds())
	say("  lambda %.3f, retained variance %.3f (PCA %.3f), graph TV %.4g (PCA %.4g)",
		red.Lambda, red.Retained, red.PCARetain, red.GraphTV, red.PCAGraphTV)
	say("  co-occurring items' mean cosine minus random pairs': raw %.3f -> reduced+normalized %.3f", red.GapRaw, red.GapReduced)

	// 3. Train the two models.
	proto, negs, err := eval.ParseProtocol(o.protocol)
	if err != nil {
		return err
	}
	freq := data.ItemFrequencyAll(split)
	ev, err := eval.NewEvaluator(split, eval.Config{Protocol: proto, Negatives: negs, Seed: o.seed, Ks: []int{10},
		Groups: []eval.Grouping{eval.TailItems(freq, o.tail)}})
	if err != nil {
		return err
	}
	rep := report{Dataset: ds.Name, Synthetic: synthetic, Users: ds.NumUsers(), Items: split.NumItems,
		Interactions: ds.NumInteractions(), Protocol: o.protocol, Epochs: o.epochs, Threads: o.threads,
		RecPCA: map[string]float64{"lambda": red.Lambda, "retained": red.Retained, "pca_retained": red.PCARetain,
			"gap_raw": red.GapRaw, "gap_reduced": red.GapReduced}}
	for _, name := range []string{"ID-only", "LLM-enhanced"} {
		res, err := trainOne(ctx, say, o, name, split, ev, red)
		if err != nil {
			return err
		}
		rep.Models = append(rep.Models, res)
	}

	// 4. Final comparison.
	compare(say, o, rep.Models[0], rep.Models[1])

	// 5. Plots.
	if err := plots(say, o, ds.Name, x, rep.Models[0], rep.Models[1]); err != nil {
		return err
	}
	rep.Seconds = time.Since(start).Seconds()
	say("Total %.1fs on %d threads. JSON summary:", rep.Seconds, o.threads)
	return cli.PrintJSON(stdout, rep)
}

// intro says which data the run is on (what the embedded synthetic
// dataset is, and how to run on a real one).
func intro(say func(string, ...any), o *options, synthetic bool) {
	if !synthetic {
		say("llmrec quickstart on %s", o.data)
		return
	}
	say("llmrec quickstart on the EMBEDDED SYNTHETIC dataset (generated by examples/quickstart/gen, seed 7):")
	say("  items belong to 20 behavioural topics with Zipf popularity; users move between 3 topics of their own")
	say("  (Markov chain); fake \"LLM\" text vectors = shared offset + text topic + noise, lognormal norms, and the")
	say("  text topic differs from the behavioural one for 20%% of items. No real data; for a real dataset run")
	say("  go run ./examples/quickstart -data ../shared/data/amazon-beauty   (any folder with a *_seq.txt or")
	say("  <name>.txt sequence file and an item_emb*.npy, row i = item i).")
}

// trainOne trains SASRec with the item table that name says (ID-only: a
// random ID table; LLM-enhanced: the ID table initialized from the Rec-PCA
// rows red.Z, kept unit-norm), then evaluates its best-validation weights
// on test, overall and on the tail items.
func trainOne(ctx context.Context, say func(string, ...any), o *options, name string, split *data.Split, ev *eval.Evaluator, red *reduced) (runResult, error) {
	ecfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		return runResult{}, err
	}
	ecfg.Dim, ecfg.MaxLen, ecfg.Dropout, ecfg.Threads = o.dim, o.maxLen, o.dropout, o.threads
	tcfg := backbone.DefaultTrainConfig()
	tcfg.Epochs, tcfg.BatchSize, tcfg.LR, tcfg.Seed, tcfg.Patience = o.epochs, o.batch, o.lr, o.seed, 0
	say("")
	rng := rand.New(rand.NewPCG(o.seed, 1))
	enc, err := backbone.NewSASRec(rng, ecfg)
	if err != nil {
		return runResult{}, err
	}
	var items backbone.ItemTable
	switch name {
	case "ID-only":
		say("Training SASRec with a random ID table (%d epochs, %s validation):", o.epochs, o.protocol)
		items = backbone.NewIDTable(rng, split.NumItems, o.dim)
	default:
		say("Training SASRec with the ID table initialized from normalize(Rec-PCA(X)), rows kept unit-norm:")
		inner, err := backbone.NewIDTableFrom(red.Z)
		if err != nil {
			return runResult{}, err
		}
		items = backbone.NewNormalizedTable(inner, 1, o.learnScale)
	}
	m, err := backbone.NewSeqModel(enc, items, backbone.ModelConfig{})
	if err != nil {
		return runResult{}, err
	}
	res := runResult{Name: name, Params: nn.NumParams(m.Params())}
	hist, err := backbone.Train(ctx, m, split.Train, tcfg, backbone.TrainOptions{
		Validate: ev.Validator(eval.Valid, func() (eval.Scorer, error) { return backbone.NewRecommender(m), nil }),
		OnEpoch: func(e backbone.EpochStats) {
			mark := ""
			if e.Improved {
				mark = " *"
			}
			res.Losses = append(res.Losses, e.Loss)
			res.ValidNDCG = append(res.ValidNDCG, e.Metrics["ndcg@10"])
			res.TrainSecs += e.Seconds
			say("  %-12s epoch %2d  loss %.4f  valid HR@10 %.4f NDCG@10 %.4f  (%.1fs)%s",
				name, e.Epoch, e.Loss, e.Metrics["hr@10"], e.Metrics["ndcg@10"], e.Seconds+e.EvalSeconds, mark)
		},
	})
	if err != nil {
		return runResult{}, err
	}
	res.BestEpoch = hist.BestEpoch
	tr, err := ev.Evaluate(ctx, backbone.NewRecommender(m), eval.Test)
	if err != nil {
		return runResult{}, err
	}
	res.Test, res.Tail = pick(tr, false), pick(tr, true)
	tab := m.Items.Materialize(&tensor.Tensor{})
	res.FinalNorms = plot.Norms(tab.Data, tab.Shape[1])
	return res, nil
}

// compare prints the test table of the two models and the relative change
// of the LLM-enhanced one.
func compare(say func(string, ...any), o *options, id, llm runResult) {
	say("")
	say("Test (%s protocol, best-validation weights), %d users; tail = targets with < %d interactions (%d users):",
		o.protocol, int(id.Test["count"]), o.tail, int(id.Tail["count"]))
	say("  %-14s %8s %8s %12s %12s", "model", "HR@10", "NDCG@10", "tail HR@10", "tail NDCG@10")
	for _, r := range []runResult{id, llm} {
		say("  %-14s %8.4f %8.4f %12.4f %12.4f", r.Name, r.Test["hr@10"], r.Test["ndcg@10"], r.Tail["hr@10"], r.Tail["ndcg@10"])
	}
	say("  %-14s %+7.1f%% %+7.1f%% %+11.1f%% %+11.1f%%", "LLM vs ID",
		rel(llm.Test["hr@10"], id.Test["hr@10"]), rel(llm.Test["ndcg@10"], id.Test["ndcg@10"]),
		rel(llm.Tail["hr@10"], id.Tail["hr@10"]), rel(llm.Tail["ndcg@10"], id.Tail["ndcg@10"]))
}

// plots draws the loss and validation curves and the item-norm histograms
// into -plots (or says how to).
func plots(say func(string, ...any), o *options, dataset string, x *tensor.Tensor, id, llm runResult) error {
	if o.plots == "" {
		say("")
		say("Add -plots DIR to draw the loss and validation curves and the item-norm histograms as PNG.")
		return nil
	}
	if err := os.MkdirAll(o.plots, 0o755); err != nil {
		return err
	}
	losses := map[string][]float64{id.Name: id.Losses, llm.Name: llm.Losses}
	ndcg := map[string][]float64{id.Name: id.ValidNDCG, llm.Name: llm.ValidNDCG}
	if err := plot.LossCurves(filepath.Join(o.plots, "loss.png"), "SASRec training loss ("+dataset+")", losses); err != nil {
		return err
	}
	if err := plot.MetricCurves(filepath.Join(o.plots, "valid_ndcg.png"), "validation NDCG@10 ("+dataset+")", "valid NDCG@10", ndcg); err != nil {
		return err
	}
	if err := plot.NormHistogram(filepath.Join(o.plots, "norms.png"), plot.Norms(x.Data, x.Shape[1]), llm.FinalNorms); err != nil {
		return err
	}
	say("")
	say("Plots: %s, %s, %s", filepath.Join(o.plots, "loss.png"), filepath.Join(o.plots, "valid_ndcg.png"), filepath.Join(o.plots, "norms.png"))
	return nil
}

func rel(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return 100 * (a - b) / b
}

// printStats prints the dataset and embedding statistics.
func printStats(say func(string, ...any), ds *data.Dataset, split *data.Split, x *tensor.Tensor, embName string, tail int) {
	n := ds.NumInteractions()
	freq := data.ItemFrequencyAll(split)
	counts := slices.Clone(freq[1:])
	slices.Sort(counts)
	slices.Reverse(counts)
	top := 0
	for _, c := range counts[:max(1, len(counts)/10)] {
		top += c
	}
	rare := 0
	for _, c := range counts {
		if c < tail {
			rare++
		}
	}
	say("")
	say("Data %s: %d users, %d items, %d interactions, %.1f items per user, density %.4f",
		ds.Name, ds.NumUsers(), ds.NumItems, n, float64(n)/float64(max(1, ds.NumUsers())),
		float64(n)/float64(max(1, ds.NumUsers()*ds.NumItems)))
	say("  popularity: top 10%% of items hold %.1f%% of interactions; %d items (%.0f%%) have < %d interactions",
		100*float64(top)/float64(max(1, n)), rare, 100*float64(rare)/float64(max(1, len(counts))), tail)
	if st, err := recpca.ComputeNormStats(x); err == nil {
		say("Item embeddings %s: %d x %d; L2 norms min %.3g median %.3g max %.3g (max/min %.1f, CV %.2f)",
			embName, x.Shape[0]-1, x.Shape[1], st.Min, st.P50, st.Max, st.Ratio, st.CV)
	}
}

func main() { cli.Main("quickstart", run, os.Interrupt, syscall.SIGTERM) }
