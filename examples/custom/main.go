// Command custom is a user's own recommender built from llmrec's extension
// points, in one file, the way a separate module would write it:
//
//  1. an encoder of its own (a GRU over the session, from nn layers, on the
//     autograd tape), made a backbone.Encoder by backbone.NewTapeEncoder;
//
//  2. an item table of its own (a low-rank factorized table, E = A·B,
//     written with tape ops, no Backward), made a backbone.ItemTable by
//     backbone.NewTapeTable;
//
//  3. both kinds registered, so that Save, Load and LoadRecommender
//     round-trip them;
//
//  4. trained with backbone.Train using full cross-entropy over every item
//     and a cosine learning-rate schedule with warm-up, validated through
//     eval.Evaluator.Validator;
//
//  5. evaluated with eval against the popularity baseline, saved, reloaded
//     with backbone.LoadRecommender (scores checked bit for bit) and served:
//     TopK from several goroutines at once.
//
//     go run ./examples/custom -data ../shared/data/ml-100k
//
// The last line of the output is a JSON summary. Measured with
//
//	go run ./examples/custom -data ../shared/data/ml-100k -threads 1 -servers 2
//
// (seed 42, 130 s wall at load average 5-9 on a machine shared with other
// jobs): full-ranking test NDCG@10 0.0444 (HR@10 0.0785) against the
// popularity baseline's 0.0255 (0.0498), reloaded scores bit-identical,
// top-10 served to all 943 users from 2 goroutines. The table on the tape
// gives the same metrics to the last digit as the hand-differentiated table
// it replaced, at 1.02x its mean epoch time (6.13 s against 6.04 s, two runs
// of each, alternated: within the noise of the shared machine).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/examples/internal/cli"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// ---------------------------------------------------------------- 1. encoder

// gruKind names the encoder in saved models.
const gruKind = "example-gru"

// gruSettings are the encoder's own settings, saved as raw JSON in
// EncoderConfig.Custom.
type gruSettings struct {
	Hidden int `json:"hidden"`
}

// gruEncoder runs a GRU over each sequence and projects its states back to
// the item width: h_t = LN(W·GRU(dropout(x_1..x_t)) + b). A GRU is causal by
// construction, so every position predicts the next item.
type gruEncoder struct {
	GRU     *nn.GRU
	Out     *nn.Linear
	LN      *nn.LayerNorm
	dropout float32
}

// newGRUEncoder is also the registered builder: it makes the module from a
// config (fresh weights from rng; Load then overwrites them).
func newGRUEncoder(rng *rand.Rand, cfg backbone.EncoderConfig) (backbone.Encoder, error) {
	var s gruSettings
	if err := json.Unmarshal(cfg.Custom, &s); err != nil || s.Hidden < 1 {
		return nil, fmt.Errorf("%s: settings %s: want {\"hidden\": n >= 1} (%v)", gruKind, cfg.Custom, err)
	}
	m := &gruEncoder{
		GRU:     nn.NewGRU(rng, cfg.Dim, s.Hidden),
		Out:     nn.NewLinear(rng, s.Hidden, cfg.Dim, true),
		LN:      nn.NewLayerNorm(cfg.Dim, 1e-8),
		dropout: float32(cfg.Dropout),
	}
	return backbone.NewTapeEncoder(m, cfg)
}

// Params names the parameters as the checkpoint keys.
func (m *gruEncoder) Params() []nn.Param {
	ps := append(nn.Prefix("gru", m.GRU.Params()), nn.Prefix("out", m.Out.Params())...)
	return append(ps, nn.Prefix("ln", m.LN.Params())...)
}

// Forward encodes the packed batch b (token rows of x, sequences back to
// back). The GRU wants [B, L, d]; the sequences are laid out from the
// left (padding after the real items, so the state of a real item never
// depends on padding), run, and gathered back into token rows.
func (m *gruEncoder) Forward(t *autograd.Tape, b *backbone.Batch, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	B, L, T, d := b.NumSeqs(), b.LongestSeq(), b.NumTokens(), x.Data.Cols()
	x = t.Dropout(x, m.dropout, train, rng)
	in, back := t.ScratchInts(B*L), t.ScratchInts(T)
	for s := range B {
		for j := range L {
			in[s*L+j] = T // row T: a zero row appended below
			if j < b.SeqLen(s) {
				in[s*L+j] = b.Offsets[s] + j
				back[b.Offsets[s]+j] = s*L + j
			}
		}
	}
	padded := t.Gather(t.Concat(0, x, t.Const(t.Scratch(1, d))), in, T)
	states := m.GRU.Forward(t, t.Reshape(padded, B, L, d), nil) // [B, L, hidden]
	h := t.Gather(t.Reshape(states, B*L, m.GRU.Hidden), back, -1)
	return m.LN.Forward(t, m.Out.Forward(t, t.Dropout(h, m.dropout, train, rng)))
}

// ---------------------------------------------------------------- 2. table

// lowRankKind names the item table in saved models.
const lowRankKind = "example-lowrank"

// lowRankTable gives item i the vector A[i]·B: A is (items+1) x rank, B is
// rank x dim. Fewer parameters than one free vector per item, and items
// share directions. Row 0 of A stays zero (padding). It is written with
// tape ops and made a backbone.ItemTable by backbone.NewTapeTable: the tape
// differentiates Lookup, so there is no Backward to write, and the table
// keeps nothing between calls.
type lowRankTable struct {
	A, B *autograd.Value
}

// newLowRankTable returns the table wrapped as an ItemTable; with a nil rng
// the weights are zero (to be loaded).
func newLowRankTable(rng *rand.Rand, items, rank, dim int) (*backbone.TapeTable, error) {
	t := &lowRankTable{A: autograd.NewParam(tensor.New(items+1, rank)), B: autograd.NewParam(tensor.New(rank, dim))}
	if rng != nil {
		nn.XavierNormal(rng, t.A.Data)
		nn.XavierNormal(rng, t.B.Data)
		clear(t.A.Data.Row(0))
	}
	return backbone.NewTapeTable(t, backbone.TableSpec{Kind: lowRankKind, NumItems: items, Dim: dim,
		Custom: json.RawMessage(fmt.Sprintf(`{"rank":%d}`, rank))})
}

// buildLowRank is the registered builder: a zeroed table of spec's shape.
func buildLowRank(spec backbone.TableSpec) (backbone.ItemTable, error) {
	var s struct {
		Rank int `json:"rank"`
	}
	if err := json.Unmarshal(spec.Custom, &s); err != nil || s.Rank < 1 || spec.NumItems < 1 || spec.Dim < 1 {
		return nil, fmt.Errorf("%s: bad spec %+v (%v)", lowRankKind, spec, err)
	}
	return newLowRankTable(nil, spec.NumItems, s.Rank, spec.Dim)
}

func (t *lowRankTable) Params() []nn.Param {
	return []nn.Param{{Name: "a", Value: t.A}, {Name: "b", Value: t.B}}
}

// Lookup returns A[ids]·B on the tape. Gather's padding index 0 keeps row 0
// of A out of the gradient (it stays zero, so the padding vector is zero).
func (t *lowRankTable) Lookup(tp *autograd.Tape, ids []int) *autograd.Value {
	return tp.MatMul(tp.Gather(t.A, ids, 0), t.B, false, false)
}

// ---------------------------------------------------------------- 3. registration

// Registration makes the two kinds known to backbone.Load and
// LoadRecommender in this program (a service that loads the model would
// import the package that does this).
func init() {
	backbone.RegisterEncoder(gruKind, newGRUEncoder)
	backbone.RegisterTable(lowRankKind, buildLowRank)
}

// ---------------------------------------------------------------- 4-5. run

type options struct {
	data, out                                string
	dim, hidden, rank, maxLen, epochs, batch int
	warmup, patience, servers, threads       int
	lr, dropout                              float64
	seed                                     uint64
}

type summary struct {
	Dataset        string             `json:"dataset"`
	Users          int                `json:"users"`
	Items          int                `json:"items"`
	Params         int                `json:"params"`
	Epochs         int                `json:"epochs"`
	BestEpoch      int                `json:"best_epoch"`
	EpochSeconds   []float64          `json:"epoch_seconds"`
	Test           map[string]float64 `json:"test"`
	Popularity     map[string]float64 `json:"popularity_test"`
	BeatsPop       bool               `json:"beats_popularity"`
	ReloadIdentity bool               `json:"reload_bit_identical"`
	ServedUsers    int                `json:"served_users"`
	ServeSeconds   float64            `json:"serve_seconds"`
	Seconds        float64            `json:"seconds"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{}
	fs := flag.NewFlagSet("custom", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "dataset folder, e.g. ../shared/data/ml-100k")
	fs.StringVar(&o.out, "out", "", "save the model here (default: a temporary folder)")
	fs.IntVar(&o.dim, "dim", 64, "item vector width")
	fs.IntVar(&o.hidden, "hidden", 64, "GRU state width")
	fs.IntVar(&o.rank, "rank", 32, "rank of the item table")
	fs.IntVar(&o.maxLen, "maxlen", 20, "input window")
	fs.IntVar(&o.epochs, "epochs", 15, "epochs (cosine schedule over all of them)")
	fs.IntVar(&o.batch, "batch", 128, "users per step")
	fs.IntVar(&o.warmup, "warmup", 20, "linear warm-up steps")
	fs.IntVar(&o.patience, "patience", 0, "early stopping on valid NDCG@10 (0 = off)")
	fs.IntVar(&o.servers, "servers", 8, "goroutines serving TopK at once")
	fs.IntVar(&o.threads, "threads", 2, "GOMAXPROCS")
	fs.Float64Var(&o.lr, "lr", 3e-3, "peak learning rate (AdamW)")
	fs.Float64Var(&o.dropout, "dropout", 0.2, "dropout")
	fs.Uint64Var(&o.seed, "seed", 42, "seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.data == "" {
		return errors.New("-data is required")
	}
	runtime.GOMAXPROCS(o.threads)
	start := time.Now()
	say := cli.Sayer(stdout)

	folder, err := data.LoadDir(o.data, data.Options{})
	if err != nil {
		return err
	}
	split := data.LeaveOneOut(folder.Dataset)
	ev, err := eval.NewEvaluator(split, eval.Config{Protocol: eval.Full, Seed: o.seed, Ks: []int{10}})
	if err != nil {
		return err
	}

	// The model: our encoder over our table, trained with full cross-entropy.
	rng := rand.New(rand.NewPCG(o.seed, 1))
	settings, _ := json.Marshal(gruSettings{Hidden: o.hidden})
	enc, err := newGRUEncoder(rng, backbone.EncoderConfig{Kind: gruKind, Dim: o.dim, MaxLen: o.maxLen, Dropout: o.dropout, Custom: settings})
	if err != nil {
		return err
	}
	items, err := newLowRankTable(rng, split.NumItems, o.rank, o.dim)
	if err != nil {
		return err
	}
	m, err := backbone.NewSeqModel(enc, items, backbone.ModelConfig{Loss: backbone.LossCrossEntropy})
	if err != nil {
		return err
	}
	nparams := nn.NumParams(m.Params())
	say("# %s: %d users, %d items; encoder %s, table %s, %d parameters", folder.Dataset.Name,
		folder.Dataset.NumUsers(), split.NumItems, gruKind, lowRankKind, nparams)

	tcfg := backbone.TrainConfig{Epochs: o.epochs, BatchSize: o.batch, LR: o.lr, Beta2: 0.98, Patience: o.patience,
		Optimizer: backbone.OptAdamW, WeightDecay: 0.01, Schedule: backbone.SchedCosine, WarmupSteps: o.warmup, Seed: o.seed}
	hist, err := backbone.Train(ctx, m, split.Train, tcfg, backbone.TrainOptions{
		Validate: ev.Validator(eval.Valid, func() (eval.Scorer, error) { return backbone.NewRecommender(m), nil }),
		NoDecay:  backbone.NoDecayNormBiasEmbedding,
		OnEpoch: func(e backbone.EpochStats) {
			say("epoch %3d loss %.4f train_s %.2f valid ndcg@10 %.4f hr@10 %.4f", e.Epoch, e.Loss, e.Seconds,
				e.Metrics["ndcg@10"], e.Metrics["hr@10"])
		},
	})
	if err != nil {
		return err
	}

	// Test, against the popularity baseline, under full ranking.
	rec := backbone.NewRecommender(m)
	res, err := ev.Evaluate(ctx, rec, eval.Test)
	if err != nil {
		return err
	}
	pop, err := ev.Evaluate(ctx, eval.NewPopularity(data.ItemFrequency(split)), eval.Test)
	if err != nil {
		return err
	}
	sum := summary{Dataset: folder.Dataset.Name, Users: folder.Dataset.NumUsers(), Items: split.NumItems, Params: nparams,
		Epochs: len(hist.Epochs), BestEpoch: hist.BestEpoch, EpochSeconds: hist.EpochSeconds(), Test: res.Map(), Popularity: pop.Map()}
	sum.BeatsPop = sum.Test["ndcg@10"] > sum.Popularity["ndcg@10"]
	say("test ndcg@10 %.4f hr@10 %.4f; popularity %.4f %.4f", sum.Test["ndcg@10"], sum.Test["hr@10"],
		sum.Popularity["ndcg@10"], sum.Popularity["hr@10"])

	// Save, reload through the registry, and check the scores bit for bit.
	path := o.out
	if path == "" {
		dir, err := os.MkdirTemp("", "llmrec-custom")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "model.safetensors")
	}
	if err := m.Save(path); err != nil {
		return err
	}
	served, err := backbone.LoadRecommender(path)
	if err != nil {
		return err
	}
	histories := split.Train // score every user's training history
	a := make([]float32, len(histories)*(split.NumItems+1))
	b := make([]float32, len(a))
	if err := rec.ScoreAll(histories, a); err != nil {
		return err
	}
	if err := served.ScoreAll(histories, b); err != nil {
		return err
	}
	sum.ReloadIdentity = true
	for i := range a {
		if a[i] != b[i] {
			sum.ReloadIdentity = false
			break
		}
	}
	say("saved %s; reloaded scores bit-identical: %v", path, sum.ReloadIdentity)

	// Serve: several goroutines ask the reloaded model for top-10 lists.
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, o.servers)
	for g := range o.servers {
		wg.Go(func() {
			for u := g; u < len(histories); u += o.servers {
				if len(histories[u]) == 0 {
					continue
				}
				got, err := served.TopK(histories[u], 10, histories[u])
				if err == nil && len(got) != 10 {
					err = fmt.Errorf("user %d: %d recommendations", u, len(got))
				}
				if err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	sum.ServedUsers, sum.ServeSeconds = len(histories), time.Since(t0).Seconds()
	say("served top-10 to %d users from %d goroutines in %.2fs", sum.ServedUsers, o.servers, sum.ServeSeconds)
	sum.Seconds = time.Since(start).Seconds()
	if err := cli.PrintJSON(stdout, sum); err != nil {
		return err
	}
	if !sum.ReloadIdentity {
		return errors.New("the reloaded model scores differently")
	}
	return nil
}

func main() { cli.Main("custom", run) }
