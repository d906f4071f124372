package index_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/backbone/index"
)

// Build an index over 1,000 two-wide vectors, then insert an item that
// every query pointing right prefers.
func Example() {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]float32, 0, 2000)
	for range 1000 {
		rows = append(rows, float32(rng.NormFloat64()), float32(rng.NormFloat64()))
	}
	x, err := index.Build(rng, rows, 2, nil, index.Config{Lists: 8, Probe: 8})
	if err != nil {
		panic(err)
	}
	if err := x.Insert(5000, []float32{100, 0}); err != nil {
		panic(err)
	}
	top, err := x.Search(nil, []float32{1, 0}, 1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(x.Len(), top[0].ID, top[0].Score)
	// Output:
	// 1001 5000 100
}
