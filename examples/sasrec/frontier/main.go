// Command frontier reads the runs of examples/sasrec/frontier.sh (one JSON
// file per dataset, objective and seed) and prints, per dataset, the
// accuracy/time table of the training objectives as Markdown: test NDCG@10
// under full ranking and sampled-100 (mean ± std over seeds), the best epoch,
// seconds per training epoch and the total training time (the epochs' train
// seconds, and with validation), and writes one PNG per dataset (full-ranking
// test NDCG@10 against training seconds) into -out:
//
//	go run ./examples/sasrec/frontier -in OUT -out docs/objectives
//
// The runs' own seconds depend on what else the machine ran meanwhile. With
// -epoch-seconds DIR (files epochtime_<dataset>.txt, the output of
// examples/sasrec/epochtime.sh, every objective timed side by side in one
// run) the table adds each objective's side-by-side seconds per epoch, its
// ratio to BCE's, and the training time they give for the run's epochs, and
// the figure uses that time.
//
// The validation columns (valid full-ranking NDCG@10) are what a default is
// chosen by; the test columns are reported, never used to choose.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/llmrec/llmrec/examples/internal/cli"
	"github.com/llmrec/llmrec/examples/internal/plot"
	"github.com/llmrec/llmrec/examples/internal/stats"
)

// run is one training run's JSON line, as examples/sasrec prints it (with
// the objective and load frontier.sh adds).
type run struct {
	Dataset      string                        `json:"dataset"`
	Objective    string                        `json:"objective"`
	Seed         uint64                        `json:"seed"`
	Epochs       int                           `json:"epochs"`
	BestEpoch    int                           `json:"best_epoch"`
	Valid        map[string]float64            `json:"valid"`
	TestBy       map[string]map[string]float64 `json:"test_by_protocol"`
	EpochSeconds []float64                     `json:"epoch_seconds"`
	TrainSeconds float64                       `json:"train_seconds"`
	EvalSeconds  float64                       `json:"eval_seconds"`
	Load         float64                       `json:"load"`
}

// order is the objectives' row order: cheapest first.
var order = []string{"bce-1", "bce-256", "gbce-256", "logq-256", "logq-1024", "ce"}

func main() { cli.Main("frontier", runFrontier, os.Interrupt, syscall.SIGTERM) }

func runFrontier(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("frontier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "folder of frontier.sh's JSON files (required)")
	out := fs.String("out", "", "write frontier_<dataset>.png here (optional)")
	sbs := fs.String("epoch-seconds", "", "folder of epochtime_<dataset>.txt files (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("-in is required")
	}
	runs, err := readRuns(*in)
	if err != nil {
		return err
	}
	byData := map[string]map[string][]run{}
	for _, r := range runs {
		if byData[r.Dataset] == nil {
			byData[r.Dataset] = map[string][]run{}
		}
		byData[r.Dataset][r.Objective] = append(byData[r.Dataset][r.Objective], r)
	}
	datasets := make([]string, 0, len(byData))
	for d := range byData {
		datasets = append(datasets, d)
	}
	sort.Strings(datasets)
	for _, d := range datasets {
		var perEpoch map[string]float64
		if *sbs != "" {
			if perEpoch, err = readEpochSeconds(filepath.Join(*sbs, "epochtime_"+d+".txt")); err != nil {
				return err
			}
		}
		if err := table(stdout, d, byData[d], perEpoch); err != nil {
			return err
		}
		if *out != "" {
			if err := figure(filepath.Join(*out, "frontier_"+d+".png"), d, byData[d], perEpoch); err != nil {
				return err
			}
		}
	}
	return nil
}

// readRuns reads every *.json file of dir.
func readRuns(dir string) ([]run, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .json runs in %s", dir)
	}
	var runs []run
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r run
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Objective == "" || r.TestBy["full"] == nil || r.TestBy["sampled100"] == nil {
			return nil, fmt.Errorf("%s: not a frontier run (objective and both test protocols needed)", f)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// readEpochSeconds reads epochtime.sh's output: lines "ROUND OBJECTIVE
// s1 s2 ... load L"; it returns each objective's mean seconds per epoch. A
// missing file is no error (nil map): that dataset was not timed.
func readEpochSeconds(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sum, n := map[string]float64{}, map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[len(f)-2] != "load" {
			continue
		}
		for _, v := range f[2 : len(f)-2] {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, line, err)
			}
			sum[f[1]] += x
			n[f[1]]++
		}
	}
	out := map[string]float64{}
	for o, s := range sum {
		out[o] = s / float64(n[o])
	}
	return out, nil
}

// objectives returns the objectives present, in row order (unknown ones last).
func objectives(by map[string][]run) []string {
	var names []string
	for _, o := range order {
		if len(by[o]) > 0 {
			names = append(names, o)
		}
	}
	for o := range by {
		if !slices.Contains(order, o) {
			names = append(names, o)
		}
	}
	return names
}

// pm prints mean ± std, or the value alone for one run.
func pm(v []float64, prec int) string {
	if len(v) == 1 {
		return fmt.Sprintf("%.*f", prec, v[0])
	}
	return stats.PM(v, prec)
}

// col gathers one number per run.
func col(rs []run, f func(run) float64) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return v
}

func table(w io.Writer, dataset string, by map[string][]run, perEpoch map[string]float64) error {
	fmt.Fprintf(w, "\n%s (seeds per row in n; mean ± std)\n\n", dataset)
	fmt.Fprint(w, "| objective | n | valid full NDCG@10 | test full NDCG@10 | test sampled-100 NDCG@10 | best epoch | epochs | s/epoch | train s | train + valid s | load |")
	if perEpoch != nil {
		fmt.Fprint(w, " side by side: s/epoch | x BCE | train s |")
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	if perEpoch != nil {
		fmt.Fprint(w, "---|---|---|")
	}
	fmt.Fprintln(w)
	for _, o := range objectives(by) {
		rs := by[o]
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |", o, len(rs),
			pm(col(rs, func(r run) float64 { return r.Valid["ndcg@10"] }), 4),
			pm(col(rs, func(r run) float64 { return r.TestBy["full"]["ndcg@10"] }), 4),
			pm(col(rs, func(r run) float64 { return r.TestBy["sampled100"]["ndcg@10"] }), 4),
			pm(col(rs, func(r run) float64 { return float64(r.BestEpoch) }), 1),
			pm(col(rs, func(r run) float64 { return float64(r.Epochs) }), 1),
			pm(col(rs, func(r run) float64 { return r.TrainSeconds / float64(max(len(r.EpochSeconds), 1)) }), 2),
			pm(col(rs, func(r run) float64 { return r.TrainSeconds }), 0),
			pm(col(rs, func(r run) float64 { return r.TrainSeconds + r.EvalSeconds }), 0),
			stats.Mean(col(rs, func(r run) float64 { return r.Load })))
		if perEpoch != nil {
			if e, ok := perEpoch[o]; ok {
				fmt.Fprintf(w, " %.2f | %.2f | %s |", e, e/perEpoch["bce-1"],
					pm(col(rs, func(r run) float64 { return e * float64(r.Epochs) }), 0))
			} else {
				fmt.Fprint(w, " | | |")
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// figure draws each objective's mean test full-ranking NDCG@10 against its
// mean training seconds (one point per objective): the side-by-side seconds
// per epoch times the run's epochs when perEpoch has the objective, the
// run's own seconds otherwise.
func figure(path, dataset string, by map[string][]run, perEpoch map[string]float64) error {
	points := map[string]plot.XY{}
	xlabel := "training seconds (to early stopping)"
	if perEpoch != nil {
		xlabel = "training seconds (epochs to early stopping x side-by-side s/epoch)"
	}
	for _, o := range objectives(by) {
		rs := by[o]
		secs := func(r run) float64 { return r.TrainSeconds }
		if e, ok := perEpoch[o]; ok {
			secs = func(r run) float64 { return e * float64(r.Epochs) }
		}
		points[o] = plot.XY{
			X: stats.Mean(col(rs, secs)),
			Y: stats.Mean(col(rs, func(r run) float64 { return r.TestBy["full"]["ndcg@10"] })),
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return plot.LabeledPoints(path, dataset+": test NDCG@10 (full ranking) against training time",
		xlabel, "NDCG@10", points)
}
