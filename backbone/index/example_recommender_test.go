package index_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/index"
)

// A Recommender over a large catalog answers TopK through an index: build
// it over the served item vectors (rows 1..NumItems, so Base 1) and hand it
// to SetIndex. A service (backbone/serve) does the same in its Loader,
// after LoadSeqModel. Here every list is probed, so the indexed answer is
// the exact one.
func Example_recommender() {
	rng := rand.New(rand.NewPCG(3, 4))
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		panic(err)
	}
	cfg.Dim, cfg.MaxLen = 16, 8
	enc, err := backbone.NewEncoder(rng, cfg)
	if err != nil {
		panic(err)
	}
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, 5000, 16), backbone.ModelConfig{})
	if err != nil {
		panic(err)
	}
	rec := backbone.NewRecommender(m)
	exact, err := rec.TopK([]int{7, 42, 99}, 5, []int{7, 42, 99})
	if err != nil {
		panic(err)
	}

	tab := rec.ItemVectors()
	d := tab.Cols()
	x, err := index.Build(rng, tab.Data[d:], d, nil, index.Config{Lists: 32, Probe: 32, Base: 1})
	if err != nil {
		panic(err)
	}
	if err := rec.SetIndex(x, 1000); err != nil { // the index answers from 1,000 items on
		panic(err)
	}
	indexed, err := rec.TopK([]int{7, 42, 99}, 5, []int{7, 42, 99})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(indexed), fmt.Sprint(indexed) == fmt.Sprint(exact))
	// Output:
	// 5 true
}
