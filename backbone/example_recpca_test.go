package backbone_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// TF-LLMER's three ways into a backbone (methods.md §1.5), each a
// composition of item tables over a Rec-PCA reduction of LLM item
// embeddings x ([NumItems+1, D], row 0 padding):
//
//   - init mode: a trainable ID table initialized from the reduced rows,
//     kept normalized;
//   - frozen mode: the frozen reduced rows behind a trainable adapter,
//     normalized after it;
//   - dual view: a normalized Rec-PCA ID view beside a normalized adapted
//     LLM view.
//
// Drop the NewNormalizedTable wrapper for the un-normalized variants.
func Example_recPCAWiring() {
	const items, D, d = 50, 16, 8
	rng := rand.New(rand.NewPCG(3, 4))
	x := tensor.New(items+1, D) // stand-in for LLM embeddings
	for i := D; i < len(x.Data); i++ {
		x.Data[i] = float32(rng.NormFloat64())
	}
	var train [][]int // training sequences only (leave-one-out prefixes)
	for u := 0; u < 100; u++ {
		s := 1 + rng.IntN(items-4)
		train = append(train, []int{s, s + 1, s + 2, s + 3})
	}
	g, err := recpca.BuildGraph(train, items, recpca.GraphOptions{Window: 1})
	if err != nil {
		panic(err)
	}
	fit := func(dim int, unit bool) *tensor.Tensor {
		p, err := recpca.Fit(x, g, recpca.Options{Dim: dim, NormalizeInput: true, Lambda: 0.5, Seed: 1})
		if err != nil {
			panic(err)
		}
		return p.Transform(nil, x, unit)
	}

	// init mode: the raw reduced rows (normalized by the table on every
	// forward pass; unit-row init validated lower in examples/tfllmer)
	id, err := backbone.NewIDTableFrom(fit(d, false))
	if err != nil {
		panic(err)
	}
	initMode := backbone.NewNormalizedTable(id, 1, false)

	// frozen mode
	ad, err := backbone.NewAdapterTable(rng, fit(d, true), d, nil, nn.Identity)
	if err != nil {
		panic(err)
	}
	frozenMode := backbone.NewNormalizedTable(ad, 1, false)

	// dual view: ID view d/2 from Rec-PCA, LLM view d/2 adapted from raw x
	idView, err := backbone.NewIDTableFrom(fit(d/2, true))
	if err != nil {
		panic(err)
	}
	llmView, err := backbone.NewAdapterTable(rng, x, d/2, nil, nn.Identity)
	if err != nil {
		panic(err)
	}
	dual, err := backbone.NewConcatTable(backbone.NewNormalizedTable(idView, 1, false), backbone.NewNormalizedTable(llmView, 1, false))
	if err != nil {
		panic(err)
	}

	for _, t := range []backbone.ItemTable{initMode, frozenMode, dual} {
		v := t.Materialize(&tensor.Tensor{})
		var ss float32
		for _, e := range v.Row(7) {
			ss += e * e
		}
		fmt.Printf("%d items, width %d, squared norm of item 7: %.2f\n", t.NumItems(), t.Dim(), ss)
	}
	// Output:
	// 50 items, width 8, squared norm of item 7: 1.00
	// 50 items, width 8, squared norm of item 7: 1.00
	// 50 items, width 8, squared norm of item 7: 2.00
}
