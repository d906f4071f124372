package moe_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// A PAD mixture (ID, aligned and text experts under the frequency gate) is
// saved, loaded back and served by a backbone.Recommender, the type that
// serves a backbone.SeqModel.
func ExampleLoadRecommender() {
	r := rand.New(rand.NewPCG(3, 4))
	const items, d = 12, 8
	llm := tensor.New(items+1, 6)
	for i := 6; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		panic(err)
	}
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Style = d, 5, 1, nn.StylePostLN
	enc := func() backbone.Encoder { e, _ := backbone.NewSASRec(r, cfg); return e }
	ft, _ := align.NewTextProjection(r, llm, d, 4, 0.1)
	fused, _ := align.NewFusedTable(r, backbone.NewIDTable(r, items, d), ft, d, 0.1)
	text, _ := align.NewTextProjection(r, llm, d, 4, 0.1)
	bins := []int{0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2}
	gate, _ := moe.NewFreqGate(bins, moe.PADInit(2, moe.PADGamma2))
	m, _ := moe.NewMixture([]moe.Expert{
		{Name: "id", Enc: enc(), Items: backbone.NewIDTable(r, items, d)},
		{Name: "aligned", Enc: enc(), Items: fused},
		{Name: "text", Enc: enc(), Items: text},
	}, gate, 1)

	dir, _ := os.MkdirTemp("", "pad")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pad.safetensors")
	if err := m.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	isMoE, _ := moe.IsCheckpoint(path)
	fmt.Println("mixture checkpoint:", isMoE)
	var rec *backbone.Recommender
	rec, err = moe.LoadRecommender(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	orig, _ := m.NewRecommender()
	history := []int{1, 5, 7}
	a, _ := orig.TopK(history, 3, history)
	b, _ := rec.TopK(history, 3, history)
	fmt.Println("same top-3 after reload:", fmt.Sprint(a) == fmt.Sprint(b), len(b))
	_, err = rec.TopK([]int{13}, 3, nil)
	fmt.Println(err)
	// Output:
	// mixture checkpoint: true
	// same top-3 after reload: true 3
	// backbone: input 0: item id 13 outside 1..12: item id out of range
}
