package backbone_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// An adapter over frozen LLM item embeddings: AdapterConfig.Activation nil
// keeps the default GELU, new(nn.Identity) makes a plain stack of Linear
// layers (LLM-ESR's adapter). The spec records the activation by name.
func ExampleNewAdapter() {
	rng := rand.New(rand.NewPCG(1, 0))
	llm := tensor.New(4, 8) // 3 items + padding row, 8-wide LLM embeddings
	for i := 8; i < len(llm.Data); i++ {
		llm.Data[i] = float32(rng.NormFloat64())
	}
	for _, cfg := range []backbone.AdapterConfig{
		{Hidden: []int{6}},
		{Hidden: []int{6}, Activation: new(nn.Identity)},
	} {
		a, err := backbone.NewAdapter(rng, llm, 4, cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(*a.Spec().Activation)
	}
	// Output:
	// gelu
	// none
}
