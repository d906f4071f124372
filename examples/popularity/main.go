// Command popularity evaluates the popularity baseline (score = training
// frequency of the item) on a dataset, under the reference protocols, and
// prints the dataset's statistics, a table per stage, and as its last line one
// JSON object:
//
//	go run ./examples/popularity -data ../shared/data/amazon-beauty -protocol sampled100 -seed 42
//	go run ./examples/popularity -data ml-1m.txt -format pairs -protocol full
//
// -data is a dataset folder (its sequence file is found by data.LoadDir) or a
// file read with -format (seq, pairs, csv, inter; empty = by extension). The
// split is leave-one-out; users with a validation and a test item are
// evaluated. The table also reports the metrics per popularity bin of the
// target (-bins, equal-mass bins of training frequency, 1 = most popular)
// and, when the thresholds are set, per tail/head item and user (LLM-ESR's
// -ts-item and -ts-user; Beauty uses 4 and 9).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "popularity:", err)
		os.Exit(1)
	}
}

// summary is the last output line.
type summary struct {
	Dataset      string             `json:"dataset"`
	Users        int                `json:"users"`
	Items        int                `json:"items"`
	Interactions int                `json:"interactions"`
	AvgLen       float64            `json:"avg_len"`
	MinLen       int                `json:"min_len"`
	MaxLen       int                `json:"max_len"`
	Protocol     string             `json:"protocol"`
	Seed         uint64             `json:"seed"`
	EvalUsers    int                `json:"eval_users"`
	Valid        map[string]float64 `json:"valid"`
	Test         map[string]float64 `json:"test"`
	EvalSeconds  float64            `json:"eval_seconds"`
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("popularity", flag.ContinueOnError)
	path := fs.String("data", "", "dataset folder or file (required)")
	format := fs.String("format", "", "file format: seq, pairs, csv or inter (empty: by extension; folders are seq)")
	protocol := fs.String("protocol", "sampled100", "sampled100 (or sampledN) or full")
	seed := fs.Uint64("seed", 42, "seed of the sampled negatives and the user subset")
	users := fs.Int("users", 0, "evaluate a fixed random subset of this many users (0 = all)")
	bins := fs.Int("bins", 10, "popularity bins of the target for the per-group table (0 = none)")
	tsItem := fs.Int("ts-item", 0, "tail item threshold: target popularity over the whole sequence < ts-item (0 = no report)")
	tsUser := fs.Int("ts-user", 0, "tail user threshold: input length < ts-user (0 = no report)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("-data is required")
	}
	proto, negs, err := eval.ParseProtocol(*protocol)
	if err != nil {
		return err
	}

	d, err := load(*path, data.Format(*format))
	if err != nil {
		return err
	}
	sum := summary{Dataset: d.Name, Users: d.NumUsers(), Items: d.NumItems, Interactions: d.NumInteractions(), Seed: *seed}
	if sum.Users == 0 {
		return fmt.Errorf("%s: no users", *path)
	}
	sum.MinLen = len(d.Seqs[0])
	for _, s := range d.Seqs {
		sum.MinLen, sum.MaxLen = min(sum.MinLen, len(s)), max(sum.MaxLen, len(s))
	}
	sum.AvgLen = float64(sum.Interactions) / float64(sum.Users)
	fmt.Fprintf(out, "dataset %s: %d users, %d items, %d interactions, length avg %.4f min %d max %d\n",
		sum.Dataset, sum.Users, sum.Items, sum.Interactions, sum.AvgLen, sum.MinLen, sum.MaxLen)

	split := data.LeaveOneOut(d)
	freq := data.ItemFrequency(split)
	cfg := eval.Config{Protocol: proto, Negatives: negs, Seed: *seed, Users: *users}
	if *bins > 0 {
		cfg.Groups = append(cfg.Groups, eval.PopularityBins(data.PopularityBins(freq, *bins)))
	}
	if *tsItem > 0 {
		cfg.Groups = append(cfg.Groups, eval.TailItems(data.ItemFrequencyAll(split), *tsItem))
	}
	if *tsUser > 0 {
		cfg.Groups = append(cfg.Groups, eval.TailUsers(*tsUser))
	}
	ev, err := eval.NewEvaluator(split, cfg)
	if err != nil {
		return err
	}
	sum.Protocol, sum.EvalUsers = ev.ProtocolName(), len(ev.Users())
	pop := eval.NewPopularity(freq)
	start := time.Now()
	for _, st := range []eval.Stage{eval.Valid, eval.Test} {
		res, err := ev.Evaluate(context.Background(), pop, st)
		if err != nil {
			return err
		}
		fmt.Fprintln(out)
		if err := res.WriteTable(out); err != nil {
			return err
		}
		m := map[string]float64{}
		for _, k := range []string{"hr@10", "ndcg@10", "mrr@10"} {
			m[k], _ = res.Overall.Get(k)
		}
		if st == eval.Valid {
			sum.Valid = m
		} else {
			sum.Test = m
		}
	}
	sum.EvalSeconds = time.Since(start).Seconds()
	js, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	_, err = fmt.Fprintln(out, string(js))
	return err
}

// load reads a dataset folder with data.LoadDir or a file with data.Load.
func load(path string, format data.Format) (*data.Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if format != "" && format != data.FormatSeq {
			return nil, fmt.Errorf("%s is a folder (read as seq); pass the file itself for -format %s", path, format)
		}
		f, err := data.LoadDir(path, data.Options{})
		if err != nil {
			return nil, err
		}
		return f.Dataset, nil
	}
	return data.Load(path, data.Options{Format: format})
}
