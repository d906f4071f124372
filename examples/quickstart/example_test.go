package main

import (
	"fmt"
	"os"

	"github.com/llmrec/llmrec/data"
)

// The statistics of the embedded synthetic dataset, as the quickstart prints
// them before training.
func Example_embeddedData() {
	ds, x, name, err := load(&options{})
	if err != nil {
		panic(err)
	}
	split := data.LeaveOneOut(ds)
	printStats(func(f string, a ...any) { fmt.Fprintf(os.Stdout, f+"\n", a...) }, ds, split, x, name, 20)
	// Output:
	// Data synthetic (embedded): 2000 users, 1000 items, 24261 interactions, 12.1 items per user, density 0.0121
	//   popularity: top 10% of items hold 46.4% of interactions; 677 items (68%) have < 20 interactions
	// Item embeddings item_emb_synthetic_128.npy: 1000 x 128; L2 norms min 0.2 median 1.02 max 6.28 (max/min 31.3, CV 0.65)
}
