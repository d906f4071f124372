// Command recpcabench times recpca.Fit the way side_by_side.py times
// scikit-learn's PCA, so that the two can be run alternately in one script
// and compared as a ratio on the same machine under the same load:
//
//	go build -o /some/dir/recpcabench ./examples/recpcabench
//	python3 examples/recpcabench/side_by_side.py --bin /some/dir/recpcabench --data ../shared/data/amazon-beauty
//
// -case beauty fits Rec-PCA on a dataset folder's LLM item embeddings
// (Beauty: 12,101 x 512 -> 64) with the co-occurrence graph of the
// leave-one-out training sequences; graph construction is inside the timed
// region, loading is not. -case synthetic fits an n x D matrix with a
// decaying spectrum (column j scaled by 1/(1+j/32), the matrix of
// BenchmarkFitSynthetic50k) and a random graph of 8 edges per item.
//
// Every repetition prints one line `fit_seconds <s>`; the last line is one
// JSON object with the settings, the times and the fit's statistics.
// -cpuprofile writes a pprof CPU profile of the timed repetitions (loading
// excluded).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "recpcabench:", err)
		os.Exit(1)
	}
}

type summary struct {
	Case      string    `json:"case"`
	Items     int       `json:"items"`
	Dim       int       `json:"dim"`
	D         int       `json:"d"`
	Lambda    float64   `json:"lambda"`
	Solver    string    `json:"solver"`
	Edges     int       `json:"edges"`
	Seconds   []float64 `json:"fit_seconds"`
	Retained  float64   `json:"retained_variance"`
	PCARetain float64   `json:"pca_retained_variance"`
	Iters     int       `json:"iterations"`
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("recpcabench", flag.ContinueOnError)
	fs.SetOutput(out)
	cs := fs.String("case", "beauty", "beauty (a dataset folder, -data) or synthetic (-n x -dim)")
	dir := fs.String("data", "../shared/data/amazon-beauty", "dataset folder with a sequence file and item_emb_*.npy (case beauty)")
	emb := fs.String("emb", "item_emb_use_lite_512.npy", "embedding file inside -data")
	n := fs.Int("n", 50000, "items (case synthetic)")
	dim := fs.Int("dim", 4096, "embedding width (case synthetic)")
	d := fs.Int("d", 64, "reduced dimension")
	lambda := fs.Float64("lambda", -1, "graph penalty λ (default 0.9 for beauty, 0.3 for synthetic)")
	solver := fs.String("solver", "", "auto, exact, randomized, randomized32 or krylov32 (default auto for beauty, krylov32 for synthetic)")
	tol := fs.Float64("tol", 1e-5, "randomized solvers' tolerance")
	reps := fs.Int("reps", 1, "timed repetitions")
	seed := fs.Uint64("seed", 3, "synthetic data seed")
	cpuProf := fs.String("cpuprofile", "", "write a CPU profile of the timed repetitions to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *reps < 1 || *d < 1 {
		return fmt.Errorf("-reps and -d must be positive")
	}
	var (
		x     *tensor.Tensor
		graph func() (*recpca.Graph, error)
	)
	sum := summary{Case: *cs, D: *d}
	switch *cs {
	case "beauty":
		ds, err := data.LoadDir(*dir, data.Options{})
		if err != nil {
			return err
		}
		x, err = data.LoadNPY(filepath.Join(*dir, *emb))
		if err != nil {
			return err
		}
		if x.Dims() != 2 || x.Rows() != ds.Dataset.NumItems+1 {
			return fmt.Errorf("%s: shape %v, want [%d, D]", *emb, x.Shape, ds.Dataset.NumItems+1)
		}
		train := data.LeaveOneOut(ds.Dataset).Train
		graph = func() (*recpca.Graph, error) {
			return recpca.BuildGraph(train, ds.Dataset.NumItems, recpca.GraphOptions{})
		}
		if *lambda < 0 {
			*lambda = 0.9
		}
	case "synthetic":
		if *n < 2 || *dim < 1 {
			return fmt.Errorf("-n must be at least 2 and -dim positive")
		}
		x, graph = synthetic(*n, *dim, *seed)
		if *lambda < 0 {
			*lambda = 0.3
		}
		if *solver == "" {
			*solver = "krylov32"
		}
	default:
		return fmt.Errorf("unknown -case %q", *cs)
	}
	opt := recpca.Options{Dim: *d, Lambda: *lambda, Tol: *tol}
	switch *solver {
	case "", "auto":
	case "exact":
		opt.Solver = recpca.SolverExact
	case "randomized":
		opt.Solver = recpca.SolverRandomized
	case "randomized32":
		opt.Solver = recpca.SolverRandomized32
	case "krylov32":
		opt.Solver = recpca.SolverKrylov32
	default:
		return fmt.Errorf("unknown -solver %q", *solver)
	}
	sum.Items, sum.Dim, sum.Lambda = x.Rows()-1, x.Cols(), *lambda
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for range *reps {
		t0 := time.Now()
		g, err := graph()
		if err != nil {
			return err
		}
		p, err := recpca.Fit(x, g, opt)
		if err != nil {
			return err
		}
		s := time.Since(t0).Seconds()
		fmt.Fprintf(out, "fit_seconds %.4f\n", s)
		sum.Seconds = append(sum.Seconds, s)
		sum.Edges, sum.Solver = g.NumEdges(), p.Stats.Solver.String()
		sum.Retained, sum.PCARetain, sum.Iters = p.Stats.RetainedVariance, p.Stats.PCARetainedVariance, p.Stats.Iterations
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, string(b))
	return nil
}

// synthetic returns the n x dim matrix of BenchmarkFitSynthetic50k (row 0
// padding) and a builder of its random graph (8 edges per item).
func synthetic(n, dim int, seed uint64) (*tensor.Tensor, func() (*recpca.Graph, error)) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	x := tensor.New(n+1, dim)
	for i := 1; i <= n; i++ {
		row := x.Row(i)
		for j := range row {
			row[j] = float32(r.NormFloat64() / (1 + float64(j)/32))
		}
	}
	edges := make([]recpca.Edge, 0, n*8)
	for i := 1; i <= n; i++ {
		for range 8 {
			edges = append(edges, recpca.Edge{I: i, J: 1 + r.IntN(n), W: 1})
		}
	}
	return x, func() (*recpca.Graph, error) { return recpca.NewGraph(n, edges) }
}
