package backbone_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// Train a small SASRec on synthetic sequences in which item i is always
// followed by item i+1, then ask for the next item after 3, 4, 5.
func Example() {
	rng := rand.New(rand.NewPCG(42, 1))
	const items = 20
	var train [][]int
	for u := 0; u < 200; u++ {
		start := 1 + rng.IntN(items-6)
		var s []int
		for j := 0; j < 6; j++ {
			s = append(s, start+j)
		}
		train = append(train, s)
	}
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		panic(err)
	}
	cfg.Dim, cfg.MaxLen, cfg.Dropout = 16, 8, 0.1
	enc, err := backbone.NewSASRec(rng, cfg)
	if err != nil {
		panic(err)
	}
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, items, 16), backbone.ModelConfig{})
	if err != nil {
		panic(err)
	}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize, tc.LR = 60, 32, 5e-3
	if _, err := backbone.Train(context.Background(), m, train, tc, backbone.TrainOptions{}); err != nil {
		panic(err)
	}
	rec := backbone.NewRecommender(m)
	top, err := rec.TopK([]int{3, 4, 5}, 1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("next after 3 4 5:", top[0].Item)
	// Output: next after 3 4 5: 6
}

// A normalized table wraps any other: every item vector gets the same norm.
func ExampleNewNormalizedTable() {
	rng := rand.New(rand.NewPCG(1, 2))
	t := backbone.NewNormalizedTable(backbone.NewIDTable(rng, 5, 4), 2, true)
	vecs := t.Materialize(nil2())
	for i := 1; i <= 5; i++ {
		var ss float32
		for _, v := range vecs.Row(i) {
			ss += v * v
		}
		fmt.Printf("%.3f ", ss)
	}
	fmt.Println()
	// Output: 4.000 4.000 4.000 4.000 4.000
}

func nil2() *tensor.Tensor { return &tensor.Tensor{} }
