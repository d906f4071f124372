package cli_test

import (
	"fmt"
	"os"

	"github.com/llmrec/llmrec/examples/internal/cli"
)

// The last line of an example's output: its summary as one JSON object.
func ExamplePrintJSON() {
	summary := struct {
		Dataset string    `json:"dataset"`
		NDCG    []float64 `json:"ndcg@10"`
	}{"ml-100k", []float64{0.0433, 0.0441}}
	if err := cli.PrintJSON(os.Stdout, summary); err != nil {
		fmt.Println(err)
	}
	// Output: {"dataset":"ml-100k","ndcg@10":[0.0433,0.0441]}
}
