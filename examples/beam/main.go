// Command beam runs llmrec's two batch jobs that outgrow one machine on
// Apache Beam (Go SDK): Rec-PCA fitted from sharded interaction and
// embedding files (-pipeline recpca), and all-user top-k from a saved model
// (-pipeline topk). It is its own Go module, so that the library does not
// take on Beam's dependency tree.
//
// The runner is chosen with Beam's flags: --runner prism (the default, a
// local in-process runner), direct, or flink / spark / dataflow with their
// usual flags (--endpoint for a Flink or Spark job server; --project,
// --region, --temp_location and --staging_location for Dataflow). Paths may
// be local or in any Beam filesystem linked in (gs:// is).
//
// Examples (from the repository root's parent, data in ../shared/data):
//
//	go run . -pipeline topk -seqs '../../../shared/data/ml-100k/ml-100k_seq.txt' \
//	    -model model.safetensors -out out/topk -k 10 -shards 8
//	go run . -pipeline recpca -seqs 'shards/seq-*.txt' -emb 'shards/emb-*.npy' \
//	    -out out/recpca -dim 64 -normalize -target-variance 0.9 -holdout 2
//
// See README.md for the stages, their cost at scale and measured scaling.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
)

func main() {
	var (
		pipeline = flag.String("pipeline", "", "topk or recpca")
		seqs     = flag.String("seqs", "", "glob of sequence files, one user per line: user item item ...")
		model    = flag.String("model", "", "topk: saved model (.safetensors)")
		out      = flag.String("out", "", "output prefix (topk: PREFIX-SSSSS-of-NNNNN.jsonl) or folder (recpca)")
		k        = flag.Int("k", 10, "topk: items per user")
		shards   = flag.Int("shards", 16, "topk: user shards (parallel tasks and output files)")
		holdout  = flag.Int("holdout", 0, "drop the last n items of every sequence (2: the training part of a leave-one-out split)")
		keepSeen = flag.Bool("keep-seen", false, "topk: allow items of the history in the top k")
		rp       recPCAFlags
	)
	rp.register(flag.CommandLine)
	flag.Parse()
	beam.Init() // on a cluster worker this runs the worker and never returns

	ctx := context.Background()
	p, s := beam.NewPipelineWithRoot()
	switch *pipeline {
	case "topk":
		if *seqs == "" || *model == "" || *out == "" || *k < 1 || *shards < 1 || *holdout < 0 {
			fail(fmt.Errorf("topk needs -seqs, -model, -out, -k >= 1, -shards >= 1, -holdout >= 0"))
		}
		BuildTopK(s, TopKConfig{Seqs: *seqs, Model: *model, Out: *out, K: *k, Shards: *shards, Holdout: *holdout, KeepSeen: *keepSeen})
	case "recpca":
		cfg, err := rp.config(*seqs, *out, *holdout)
		if err != nil {
			fail(err)
		}
		if err := BuildRecPCA(s, cfg); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("-pipeline must be topk or recpca, got %q", *pipeline))
	}
	start := time.Now()
	if err := beamx.Run(ctx, p); err != nil {
		fail(err)
	}
	fmt.Printf("pipeline %s done in %.2f s\n", *pipeline, time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "beam:", err)
	os.Exit(1)
}
