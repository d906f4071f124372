package plot_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/llmrec/llmrec/examples/internal/plot"
)

// Draw the loss curves of two runs and the norm histogram of a small item
// table, then check the files exist.
func Example() {
	dir, err := os.MkdirTemp("", "plots")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	err = plot.LossCurves(filepath.Join(dir, "loss.png"), "training loss", map[string][]float64{
		"ID-only":      {0.69, 0.52, 0.44, 0.40},
		"LLM-enhanced": {0.61, 0.45, 0.39, 0.36},
	})
	if err != nil {
		panic(err)
	}
	// Row 0 is padding; Norms skips it.
	table := []float32{0, 0, 3, 4, 0.5, 0, 30, 40}
	before := plot.Norms(table, 2)
	after := []float64{1, 1, 1}
	if err := plot.NormHistogram(filepath.Join(dir, "norms.png"), before, after); err != nil {
		panic(err)
	}
	fmt.Println("norms before:", before)
	for _, name := range []string{"loss.png", "norms.png"} {
		_, err := os.Stat(filepath.Join(dir, name))
		fmt.Println(name, err == nil)
	}
	// Output:
	// norms before: [5 0.5 50]
	// loss.png true
	// norms.png true
}
