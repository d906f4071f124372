package align_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// PAD's phase 2 on toy data: copy a tower, fuse its ID table with a text
// projection, train the copy with BCE + 0.2·MK-MMD; the original tower is
// not touched.
func ExampleCopyTower() {
	r := rand.New(rand.NewPCG(1, 2))
	const items, d = 20, 8
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		panic(err)
	}
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Style, cfg.Dropout = d, 5, 1, nn.StylePostLN, 0.1
	enc, _ := backbone.NewSASRec(r, cfg)
	pretrained, _ := backbone.NewSeqModel(enc, backbone.NewIDTable(r, items, d), backbone.ModelConfig{})
	before := pretrained.Params()[0].Value.Data.Clone()

	llm := tensor.New(items+1, 12) // frozen LLM item embeddings, row 0 padding
	for i := 12; i < len(llm.Data); i++ {
		llm.Data[i] = float32(r.NormFloat64())
	}
	tower, _ := align.CopyTower(pretrained)
	ft, _ := align.NewTextProjection(r, llm, d, 4, 0.1)
	fused, _ := align.NewFusedTable(r, tower.Items, ft, d, 0.1)
	rec, _ := backbone.NewSeqModel(tower.Enc, fused, backbone.ModelConfig{})
	a, _ := align.NewAnchored(rec, ft, tower.Items, align.MKMMD{Estimator: align.UnbiasedOffset}, 0.2)

	seqs := [][]int{{1, 2, 3, 4}, {5, 6, 7}, {8, 9, 10, 11, 12}, {2, 4, 6, 8}}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 2, 2
	_, err = backbone.Train(context.Background(), a, seqs, tc, backbone.TrainOptions{KeepLast: true})
	fmt.Println("trained:", err == nil)
	same := true
	for i, v := range pretrained.Params()[0].Value.Data.Data {
		same = same && v == before.Data[i]
	}
	fmt.Println("original ID table unchanged:", same)
	fmt.Println("aligned table:", fused.Spec().Kind, fused.Dim())
	// Output:
	// trained: true
	// original ID table unchanged: true
	// aligned table: pad_fused 8
}
