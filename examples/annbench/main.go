// Command annbench measures top-k retrieval over a million-item catalog
// built from a trained model: the exact int8 scan (tensor/qscan), the IVF
// index (backbone/index) and, side by side on the same vectors and
// queries, the Go HNSW library github.com/coder/hnsw. It is its own module
// so that the library never depends on the anchor.
//
//	cd examples/annbench
//	go run . -items 1000000 -model beauty.safetensors
//
// Without -model it trains a short SASRec (cross-entropy) on Beauty first.
// The last line of its output is one JSON object (see README.md).
package main

import (
	"context"
	"encoding/json"
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/index"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/qscan"
)

type options struct {
	data, model, out, sportsModel string
	items, queries, k, epochs     int
	dim                           int
	inserts, lists, anchorItems   int
	anchorM, anchorEfc            int
	probes, efs, anchorSpace      string
	target, noise                 float64
	seed                          uint64
	threads                       int
	noAnchor                      bool
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("annbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "Beauty folder (default: amazon-beauty under $LLMREC_DATA or the shared data beside the repository)")
	fs.StringVar(&o.model, "model", "", "trained Beauty model (.safetensors, from examples/sasrec -out); empty: train one")
	fs.StringVar(&o.out, "out", "", "save the model trained here (when -model is empty)")
	fs.StringVar(&o.sportsModel, "sports-model", "", "trained Sports model: also report recall on the Sports catalog")
	fs.IntVar(&o.epochs, "epochs", 5, "epochs of the model trained when -model is empty")
	fs.IntVar(&o.dim, "dim", 64, "width of the model trained when -model is empty")
	fs.IntVar(&o.items, "items", 1_000_000, "synthetic catalog size")
	fs.IntVar(&o.queries, "queries", 1000, "users whose states are the queries")
	fs.IntVar(&o.k, "k", 10, "top-k")
	fs.IntVar(&o.inserts, "inserts", 10_000, "items inserted one at a time while 8 goroutines search")
	fs.IntVar(&o.lists, "lists", 0, "IVF lists (0: the index's default, 2·√n)")
	fs.StringVar(&o.probes, "probes", "", "IVF probe values to sweep (default: a doubling range)")
	fs.IntVar(&o.anchorItems, "anchor-items", 0, "items given to the anchor (0: all)")
	fs.IntVar(&o.anchorM, "anchor-m", 16, "anchor HNSW M")
	fs.IntVar(&o.anchorEfc, "anchor-efc", 64, "anchor HNSW ef during construction")
	fs.StringVar(&o.efs, "anchor-efs", "16,32,64,128,256,512", "anchor ef values to sweep")
	fs.StringVar(&o.anchorSpace, "anchor-space", "l2", "anchor geometry: ip (negated inner product on the raw vectors) or l2 (Euclidean after the MIPS-to-L2 augmentation)")
	fs.BoolVar(&o.noAnchor, "no-anchor", false, "skip the anchor")
	fs.Float64Var(&o.target, "target", 0.95, "recall@k the reported operating points must reach")
	fs.Float64Var(&o.noise, "noise", 1, "noise of a drawn item, in units of its source item's nearest-neighbour distance")
	fs.Uint64Var(&o.seed, "seed", 1, "seed")
	fs.IntVar(&o.threads, "threads", 2, "GOMAXPROCS")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.items < 1 || o.queries < 1 || o.k < 1 || o.inserts < 0 || o.target <= 0 || o.target > 1 {
		return nil, errors.New("-items, -queries and -k must be positive, -inserts not negative, -target in (0, 1]")
	}
	return o, nil
}

// dataDir finds a dataset folder: -data, then $LLMREC_DATA/name, then the
// shared data beside the repository (from the repository or this folder).
func dataDir(flagged, name string) (string, error) {
	if flagged != "" {
		return flagged, nil
	}
	var cands []string
	if env := os.Getenv("LLMREC_DATA"); env != "" {
		cands = append(cands, filepath.Join(env, name))
	}
	cands = append(cands, filepath.Join("..", "shared", "data", name), filepath.Join("..", "..", "..", "shared", "data", name))
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("dataset %s not found (tried %s): set -data or LLMREC_DATA", name, strings.Join(cands, ", "))
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "annbench:", err)
		os.Exit(1)
	}
}

// report is the JSON object printed last.
type report struct {
	Items   int     `json:"items"`
	Dim     int     `json:"dim"`
	Queries int     `json:"queries"`
	K       int     `json:"k"`
	LoadAvg string  `json:"load_avg"`
	Noise   float64 `json:"noise"`

	ExactMsP50          float64 `json:"exact_ms_p50"`
	ExactBatchMsPerUser float64 `json:"exact_batch_ms_per_user"`
	StreamMs            float64 `json:"stream_ms"`
	GemmFloorMsPerUser  float64 `json:"gemm_floor_ms_per_user"`
	ExactCandidates     float64 `json:"exact_candidates_mean"`

	AnnMsP50           float64 `json:"ann_ms_p50"`
	AnnMsP99           float64 `json:"ann_ms_p99"`
	AnnRecall          float64 `json:"ann_recall_at_10"`
	AnnProbe           int     `json:"ann_probe"`
	AnnLists           int     `json:"ann_lists"`
	BuildSeconds       float64 `json:"build_seconds"`
	BuildCPUSeconds    float64 `json:"build_cpu_seconds"`
	IndexBytes         int     `json:"index_bytes"`
	TableBytes         int     `json:"table_bytes"`
	InsertUsP50        float64 `json:"insert_us_p50"`
	InsertUsP99        float64 `json:"insert_us_p99"`
	InsertedRecall     float64 `json:"inserted_recall"`
	InsertedInTruth    int     `json:"inserted_in_truth"`
	RecallAfterInserts float64 `json:"recall_after_inserts"`
	InsertSearches     int64   `json:"searches_during_inserts"`
	Sweep              []point `json:"ann_sweep"`

	Real           map[string]realPoint `json:"real_catalogs"`
	AtAnchorRecall *compare             `json:"ivf_at_anchor_best_recall,omitempty"`
	Anchor         *anchorReport        `json:"anchor,omitempty"`
}

// point is one operating point of a sweep.
type point struct {
	Param  int     `json:"param"`
	Recall float64 `json:"recall_at_10"`
	MsP50  float64 `json:"ms_p50"`
	MsP99  float64 `json:"ms_p99"`
}

// compare is the IVF's operating point at the anchor's best recall.
type compare struct {
	AnchorRecall float64 `json:"anchor_recall_at_10"`
	AnchorMsP50  float64 `json:"anchor_ms_p50"`
	AnchorEf     int     `json:"anchor_ef"`
	Recall       float64 `json:"recall_at_10"`
	MsP50        float64 `json:"ms_p50"`
	Probe        int     `json:"probe"`
}

type realPoint struct {
	Items  int     `json:"items"`
	Lists  int     `json:"lists"`
	Probe  int     `json:"probe"`
	Recall float64 `json:"recall_at_10"`
	MsP50  float64 `json:"ms_p50"`
	Sweep  []point `json:"sweep"`
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(o.threads)
	say := func(format string, a ...any) { fmt.Fprintf(stdout, "# "+format+"\n", a...) }
	rng := rand.New(rand.NewPCG(o.seed, 7))
	dir, err := dataDir(o.data, "amazon-beauty")
	if err != nil {
		return err
	}
	folder, err := data.LoadDir(dir, data.Options{})
	if err != nil {
		return err
	}
	ds := folder.Dataset
	m, err := model(o, ds, say)
	if err != nil {
		return err
	}
	tab := m.Items.Materialize(&tensor.Tensor{})
	d := tab.Cols()
	real := tab.Data[d:] // items 1..N
	nReal := len(real) / d
	qs, err := userStates(m, ds, o.queries, rng)
	if err != nil {
		return err
	}
	rep := &report{Items: o.items, Dim: d, Queries: o.queries, K: o.k, Noise: o.noise, Real: map[string]realPoint{}}
	rep.LoadAvg = loadAvg()
	say("model: %d items, d %d; %d query states; load %s", nReal, d, o.queries, rep.LoadAvg)

	// recall on the real catalogs, default index configuration
	rp, err := realRecall(rng, real, d, qs, o)
	if err != nil {
		return err
	}
	rep.Real["amazon-beauty"] = rp
	say("Beauty catalog: %d lists, probe %d: recall@%d %.4f, p50 %.3f ms", rp.Lists, rp.Probe, o.k, rp.Recall, rp.MsP50)
	if o.sportsModel != "" {
		sp, err := sportsRecall(rng, o)
		if err != nil {
			return err
		}
		rep.Real["amazon-sports"] = sp
		say("Sports catalog: %d lists, probe %d: recall@%d %.4f", sp.Lists, sp.Probe, o.k, sp.Recall)
	}

	// the synthetic catalog
	t0 := time.Now()
	items := draw(rng, real, d, o.items+o.inserts, o.noise, o.threads)
	base, extra := items[:o.items*d], items[o.items*d:]
	say("drew %d items (+%d to insert) in %.1f s", o.items, o.inserts, time.Since(t0).Seconds())
	rep.TableBytes = 4 * len(base)

	exact, truth, err := measureExact(base, d, qs, o, rep, say)
	if err != nil {
		return err
	}
	if err := measureIVF(rng, base, extra, d, qs, truth, exact, o, rep, say); err != nil {
		return err
	}
	if !o.noAnchor {
		rep.Anchor, err = measureAnchor(base, extra, d, qs, truth, exact, o, say)
		if err != nil {
			return err
		}
		// ours at the anchor's best recall (its ef sweep may not reach the
		// target)
		best := rep.Anchor.Sweep[0]
		for _, p := range rep.Anchor.Sweep {
			if p.Recall > best.Recall {
				best = p
			}
		}
		at := firstAt(rep.Sweep, best.Recall)
		rep.AtAnchorRecall = &compare{AnchorRecall: best.Recall, AnchorMsP50: best.MsP50, AnchorEf: best.Param, Recall: at.Recall, MsP50: at.MsP50, Probe: at.Param}
		say("at the anchor's best recall %.4f (ef %d, p50 %.3f ms): IVF probe %d, recall %.4f, p50 %.3f ms",
			best.Recall, best.Param, best.MsP50, at.Param, at.Recall, at.MsP50)
	}
	rep.LoadAvg += " -> " + loadAvg()
	js, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(js))
	return err
}

// model loads -model or trains a short SASRec with cross-entropy.
func model(o *options, ds *data.Dataset, say func(string, ...any)) (*backbone.SeqModel, error) {
	if o.model != "" {
		m, err := backbone.Load(o.model)
		if err != nil {
			return nil, err
		}
		if m.NumItems() != ds.NumItems {
			return nil, fmt.Errorf("%s has %d items, Beauty %d", o.model, m.NumItems(), ds.NumItems)
		}
		return m, nil
	}
	split := data.LeaveOneOut(ds)
	rng := rand.New(rand.NewPCG(o.seed, 1))
	ecfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		return nil, err
	}
	ecfg.Threads, ecfg.Dim = o.threads, o.dim
	enc, err := backbone.NewEncoder(rng, ecfg)
	if err != nil {
		return nil, err
	}
	loss, err := backbone.ParseLoss("ce")
	if err != nil {
		return nil, err
	}
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, split.NumItems, ecfg.Dim), backbone.ModelConfig{Loss: loss})
	if err != nil {
		return nil, err
	}
	tcfg := backbone.DefaultTrainConfig()
	tcfg.Epochs, tcfg.Seed = o.epochs, o.seed
	_, err = backbone.Train(context.Background(), m, split.Train, tcfg, backbone.TrainOptions{
		KeepLast: true,
		OnEpoch: func(e backbone.EpochStats) {
			say("training epoch %d loss %.4f (%.1f s)", e.Epoch, e.Loss, e.Seconds)
		},
	})
	if err != nil {
		return nil, err
	}
	if o.out != "" {
		if err := m.Save(o.out); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// userStates returns the encoder's states for n random users (their whole
// history but the last item: what predicts the held-out item).
func userStates(m *backbone.SeqModel, ds *data.Dataset, n int, rng *rand.Rand) ([]float32, error) {
	var seqs [][]int
	for _, u := range rng.Perm(len(ds.Seqs)) {
		if s := ds.Seqs[u]; len(s) >= 2 {
			seqs = append(seqs, s[:len(s)-1])
		}
		if len(seqs) == n {
			break
		}
	}
	if len(seqs) < n {
		return nil, fmt.Errorf("only %d users with two items or more", len(seqs))
	}
	var out []float32
	for lo := 0; lo < n; lo += 256 {
		h, err := m.LastStates(seqs[lo:min(lo+256, n)])
		if err != nil {
			return nil, err
		}
		out = append(out, h.Data...)
	}
	return out, nil
}

// cpuSeconds returns the process's user + system CPU time (the machine is
// shared: wall time includes other processes').
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// quantile returns the q-quantile of the durations in ms.
func quantile(ts []time.Duration, q float64) float64 {
	s := slices.Clone(ts)
	slices.Sort(s)
	i := min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)
	return float64(s[max(i, 0)].Nanoseconds()) / 1e6
}

// recallAt is the mean fraction of truth[i] that got[i] holds.
func recallAt(got, truth [][]int) float64 {
	var sum float64
	for i := range truth {
		hit := 0
		for _, w := range truth[i] {
			if slices.Contains(got[i], w) {
				hit++
			}
		}
		sum += float64(hit) / float64(max(1, len(truth[i])))
	}
	return sum / float64(len(truth))
}

func ids(rs []qscan.Result) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// sweepIVF searches every query at each probe and returns the points.
func sweepIVF(x *index.IVF, qs []float32, d, k int, truth [][]int, probes []int) []point {
	nq := len(qs) / d
	var pts []point
	var dst []qscan.Result
	for _, p := range probes {
		got := make([][]int, nq)
		ts := make([]time.Duration, nq)
		for i := range nq {
			t0 := time.Now()
			dst, _ = x.SearchProbe(dst[:0], qs[i*d:(i+1)*d], k, nil, p)
			ts[i] = time.Since(t0)
			got[i] = ids(dst)
		}
		pts = append(pts, point{Param: p, Recall: recallAt(got, truth), MsP50: quantile(ts, 0.5), MsP99: quantile(ts, 0.99)})
	}
	return pts
}

// firstAt returns the first point reaching the target recall (or the last).
func firstAt(pts []point, target float64) point {
	for _, p := range pts {
		if p.Recall >= target {
			return p
		}
	}
	return pts[len(pts)-1]
}

// exactTruth returns every query's exact top-k over tab.
func exactTruth(tab *qscan.Table, qs []float32, d, k int) ([][]int, error) {
	res, err := tab.TopKBatch(qs, k, nil, 0)
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(res))
	for i, r := range res {
		out[i] = ids(r)
	}
	return out, nil
}

// realRecall indexes a real catalog (ids 1..N) with the default
// configuration and sweeps the probe.
func realRecall(rng *rand.Rand, rows []float32, d int, qs []float32, o *options) (realPoint, error) {
	x, err := index.Build(rng, rows, d, nil, index.Config{Base: 1})
	if err != nil {
		return realPoint{}, err
	}
	tab, err := qscan.New(rows, d)
	if err != nil {
		return realPoint{}, err
	}
	truth, err := exactTruth(tab, qs, d, o.k)
	if err != nil {
		return realPoint{}, err
	}
	for i := range truth {
		for j := range truth[i] {
			truth[i][j]++ // table rows are items 1..N
		}
	}
	pts := sweepIVF(x, qs, d, o.k, truth, doubling(x.Probe(), x.Lists()))
	def := pts[0]
	return realPoint{Items: len(rows) / d, Lists: x.Lists(), Probe: def.Param, Recall: def.Recall, MsP50: def.MsP50, Sweep: pts}, nil
}

// sportsRecall is realRecall for the Sports model, with its own users.
func sportsRecall(rng *rand.Rand, o *options) (realPoint, error) {
	dir, err := dataDir("", "amazon-sports")
	if err != nil {
		return realPoint{}, err
	}
	folder, err := data.LoadDir(dir, data.Options{})
	if err != nil {
		return realPoint{}, err
	}
	m, err := backbone.Load(o.sportsModel)
	if err != nil {
		return realPoint{}, err
	}
	if m.NumItems() != folder.Dataset.NumItems {
		return realPoint{}, fmt.Errorf("%s has %d items, Sports %d", o.sportsModel, m.NumItems(), folder.Dataset.NumItems)
	}
	tab := m.Items.Materialize(&tensor.Tensor{})
	d := tab.Cols()
	qs, err := userStates(m, folder.Dataset, o.queries, rng)
	if err != nil {
		return realPoint{}, err
	}
	return realRecall(rng, tab.Data[d:], d, qs, o)
}

// doubling returns p, 2p, 4p, ... up to max (included).
func doubling(p, hi int) []int {
	var out []int
	for ; p < hi; p *= 2 {
		out = append(out, p)
	}
	return append(out, hi)
}

// measureExact times the exact scan (one user; batches of 256), the
// memory and GEMM floors, and returns the table and the ground truth.
func measureExact(base []float32, d int, qs []float32, o *options, rep *report, say func(string, ...any)) (*qscan.Table, [][]int, error) {
	t0 := time.Now()
	tab, err := qscan.New(base, d)
	if err != nil {
		return nil, nil, err
	}
	say("quantized %d x %d in %.1f s (%d MB of codes)", tab.Len(), d, time.Since(t0).Seconds(), tab.CodeBytes()>>20)
	nq := len(qs) / d
	one := min(nq, 200)
	ts := make([]time.Duration, one)
	var s qscan.Searcher
	var dst []qscan.Result
	cands := 0
	for i := range one {
		t := time.Now()
		if err := s.Begin(qs[i*d:(i+1)*d], o.k, nil); err != nil {
			return nil, nil, err
		}
		s.Scan(tab, 0, nil)
		dst = s.Append(dst[:0])
		ts[i] = time.Since(t)
		cands += s.Candidates()
	}
	rep.ExactMsP50 = quantile(ts, 0.5)
	rep.ExactCandidates = float64(cands) / float64(one)
	rep.StreamMs = streamMs(tab.CodeBytes())
	nb := min(nq, 256)
	t := time.Now()
	if _, err := tab.TopKBatch(qs[:nb*d], o.k, nil, 0); err != nil {
		return nil, nil, err
	}
	rep.ExactBatchMsPerUser = float64(time.Since(t).Nanoseconds()) / 1e6 / float64(nb)
	rep.GemmFloorMsPerUser = gemmFloor(base, d, qs[:nb*d])
	say("exact: one user p50 %.2f ms (%.0f rows re-scored), reading the codes once %.2f ms; batch of %d %.3f ms/user, float32 GEMM alone %.3f ms/user",
		rep.ExactMsP50, rep.ExactCandidates, rep.StreamMs, nb, rep.ExactBatchMsPerUser, rep.GemmFloorMsPerUser)
	t = time.Now()
	truth, err := exactTruth(tab, qs, d, o.k)
	say("ground truth for %d queries in %.1f s", nq, time.Since(t).Seconds())
	return tab, truth, err
}

// streamMs is the best of five reads of n bytes (OR of 8-byte words, four
// independent chains): the memory floor of a scan of n bytes of codes.
func streamMs(n int) float64 {
	buf := make([]uint64, n/8)
	for i := range buf {
		buf[i] = uint64(i)
	}
	best := math.Inf(1)
	var sink uint64
	for range 5 {
		t := time.Now()
		var a, b, c, e uint64
		for i := 0; i+4 <= len(buf); i += 4 {
			a |= buf[i]
			b |= buf[i+1]
			c |= buf[i+2]
			e |= buf[i+3]
		}
		sink |= a | b | c | e
		best = math.Min(best, float64(time.Since(t).Nanoseconds())/1e6)
	}
	if sink == 42 {
		fmt.Fprint(io.Discard, sink)
	}
	return best
}

// gemmFloor times the float32 GEMM of the queries against every item
// (chunks of 16k items into a reused score block, no selection) per user:
// the floor of scoring the batch in float32.
func gemmFloor(base []float32, d int, qs []float32) float64 {
	nq, n := len(qs)/d, len(base)/d
	const chunk = 1 << 14
	c := make([]float32, nq*chunk)
	t := time.Now()
	for lo := 0; lo < n; lo += chunk {
		w := min(chunk, n-lo)
		tensor.Gemm(false, true, nq, w, d, 1, qs, d, base[lo*d:], d, 0, c, chunk)
	}
	return float64(time.Since(t).Nanoseconds()) / 1e6 / float64(nq)
}

// measureIVF builds the index, sweeps the probe, then inserts the extra
// items one at a time while 8 goroutines search.
func measureIVF(rng *rand.Rand, base, extra []float32, d int, qs []float32, truth [][]int, exact *qscan.Table, o *options, rep *report, say func(string, ...any)) error {
	runtime.GC()
	t, c0 := time.Now(), cpuSeconds()
	x, err := index.Build(rng, base, d, nil, index.Config{Lists: o.lists})
	if err != nil {
		return err
	}
	rep.BuildSeconds = time.Since(t).Seconds()
	rep.BuildCPUSeconds = cpuSeconds() - c0
	rep.IndexBytes = x.Bytes()
	rep.AnnLists = x.Lists()
	say("IVF: %d lists built in %.1f s (%.1f s of CPU), %d MB (float32 table %d MB)", x.Lists(), rep.BuildSeconds, rep.BuildCPUSeconds, rep.IndexBytes>>20, rep.TableBytes>>20)
	probes, err := parseInts(o.probes)
	if err != nil {
		return err
	}
	if probes == nil {
		probes = doubling(max(1, x.Lists()/256), x.Lists()/4)
	}
	rep.Sweep = sweepIVF(x, qs, d, o.k, truth, probes)
	for _, p := range rep.Sweep {
		say("  probe %5d: recall@%d %.4f  p50 %.3f ms  p99 %.3f ms", p.Param, o.k, p.Recall, p.MsP50, p.MsP99)
	}
	op := firstAt(rep.Sweep, o.target)
	rep.AnnProbe, rep.AnnRecall, rep.AnnMsP50, rep.AnnMsP99 = op.Param, op.Recall, op.MsP50, op.MsP99
	x.SetProbe(op.Param)
	if o.inserts == 0 {
		return nil
	}
	// inserts while 8 goroutines search
	n := len(base) / d
	var stop atomic.Bool
	var searches atomic.Int64
	var wg sync.WaitGroup
	nq := len(qs) / d
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []qscan.Result
			for i := w; !stop.Load(); i++ {
				dst, _ = x.Search(dst[:0], qs[(i%nq)*d:(i%nq+1)*d], o.k, nil)
				searches.Add(1)
			}
		}()
	}
	ni := len(extra) / d
	ts := make([]time.Duration, ni)
	for i := range ni {
		t := time.Now()
		if err := x.Insert(n+i, extra[i*d:(i+1)*d]); err != nil {
			stop.Store(true)
			wg.Wait()
			return err
		}
		ts[i] = time.Since(t)
	}
	stop.Store(true)
	wg.Wait()
	rep.InsertUsP50, rep.InsertUsP99 = 1000*quantile(ts, 0.5), 1000*quantile(ts, 0.99)
	rep.InsertSearches = searches.Load()
	// the inserted items are findable: queries pointing at 1,000 of them
	// (their own vectors), recall of the inserted items in the exact top-k
	all, err := exact.Append(extra)
	if err != nil {
		return err
	}
	found, total := 0, 0
	var dst []qscan.Result
	nf := min(ni, 1000)
	for j := range nf {
		i := j * ni / nf
		q := extra[i*d : (i+1)*d]
		want, err := all.TopK(nil, q, o.k, nil)
		if err != nil {
			return err
		}
		dst, _ = x.Search(dst[:0], q, o.k, nil)
		for _, w := range want {
			if w.ID < n {
				continue
			}
			total++
			if slices.ContainsFunc(dst, func(r qscan.Result) bool { return r.ID == w.ID }) {
				found++
			}
		}
	}
	rep.InsertedRecall = float64(found) / float64(max(total, 1))
	rep.InsertedInTruth = total
	// and the users' recall over the grown catalog
	truthAll, err := exactTruth(all, qs, d, o.k)
	if err != nil {
		return err
	}
	got := make([][]int, nq)
	for i := range nq {
		dst, _ = x.Search(dst[:0], qs[i*d:(i+1)*d], o.k, nil)
		got[i] = ids(dst)
	}
	rep.RecallAfterInserts = recallAt(got, truthAll)
	say("inserted %d items one at a time (p50 %.0f µs, p99 %.0f µs) during %d searches; inserted items found: %.4f of %d; users' recall@%d after: %.4f",
		ni, rep.InsertUsP50, rep.InsertUsP99, rep.InsertSearches, rep.InsertedRecall, total, o.k, rep.RecallAfterInserts)
	return nil
}

func parseInts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		var v int
		if _, err := fmt.Sscan(f, &v); err != nil || v < 1 {
			return nil, fmt.Errorf("bad list value %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}
