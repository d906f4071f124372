package backbone_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// toyModel is a small SASRec over 20 items with the given loss settings.
func toyModel(rng *rand.Rand, mc backbone.ModelConfig) (*backbone.SeqModel, error) {
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		return nil, err
	}
	cfg.Dim, cfg.MaxLen, cfg.Blocks = 8, 5, 1
	enc, err := backbone.NewEncoder(rng, cfg)
	if err != nil {
		return nil, err
	}
	return backbone.NewSeqModel(enc, backbone.NewIDTable(rng, 20, 8), mc)
}

var toySeqs = [][]int{{1, 2, 3, 4}, {2, 3, 4, 5}, {6, 7, 8}, {1, 2, 3}, {9, 10, 11, 12}}

// The loss is a typed setting checked when the model is built: full
// cross-entropy over every item with a temperature, and a configuration
// that cannot work.
func ExampleModelConfig_loss() {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := toyModel(rng, backbone.ModelConfig{Loss: backbone.LossCrossEntropy, Temperature: 0.5})
	if err != nil {
		panic(err)
	}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 3, 2
	h, err := backbone.Train(context.Background(), m, toySeqs, tc, backbone.TrainOptions{KeepLast: true})
	if err != nil {
		panic(err)
	}
	fmt.Println("loss:", m.Cfg.Loss, "epochs:", len(h.Epochs), "loss falls:", h.Epochs[2].Loss < h.Epochs[0].Loss)

	_, err = toyModel(rng, backbone.ModelConfig{Loss: backbone.LossSampledSoftmax, NumNeg: 10, Temperature: -1})
	fmt.Println("negative temperature is a bad config:", errors.Is(err, backbone.ErrBadConfig))
	l, err := backbone.ParseLoss("sampled")
	fmt.Println(l, err)
	// Output:
	// loss: ce epochs: 3 loss falls: true
	// negative temperature is a bad config: true
	// sampled <nil>
}

// Any nn optimizer trains through TrainOptions.Optimizer; NewOptimizer
// builds nn's from a TrainConfig with weight decay only where it belongs.
func ExampleNewOptimizer() {
	for _, name := range []string{"item_emb.weight", "blocks.0.ln_attn.weight", "blocks.0.attn.q.weight", "blocks.0.ffn.w1.bias"} {
		fmt.Printf("%-24s decayed: %v\n", name, !backbone.NoDecayNormBiasEmbedding(name))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	m, err := toyModel(rng, backbone.ModelConfig{})
	if err != nil {
		panic(err)
	}
	// SGD with momentum, built directly from nn
	sgd, err := nn.NewSGD(m.Params(), nn.SGDConfig{LR: 0.05, Momentum: 0.9})
	if err != nil {
		panic(err)
	}
	h, err := backbone.Train(context.Background(), m, toySeqs, backbone.TrainConfig{Epochs: 2, BatchSize: 2}, backbone.TrainOptions{Optimizer: sgd})
	fmt.Println("sgd steps:", h.Epochs[0].Steps, err)
	// AdamW with decay on weights only, from a TrainConfig
	opt, err := backbone.NewOptimizer(m.Params(), backbone.TrainConfig{Optimizer: backbone.OptAdamW, LR: 1e-3, WeightDecay: 0.1}, backbone.NoDecayNormBiasEmbedding)
	fmt.Printf("%T %v\n", opt, err)
	// Output:
	// item_emb.weight          decayed: false
	// blocks.0.ln_attn.weight  decayed: false
	// blocks.0.attn.q.weight   decayed: true
	// blocks.0.ffn.w1.bias     decayed: false
	// sgd steps: 3 <nil>
	// *nn.Adam <nil>
}

// A cosine schedule with a linear warm-up: the factor of TrainConfig.LR at
// some of 100 steps.
func ExampleCosineSchedule() {
	s := backbone.CosineSchedule{Warmup: 10, Min: 0.1}
	for _, step := range []int{0, 4, 9, 10, 30, 54, 80, 99} {
		fmt.Printf("step %2d: %.3f\n", step, s.Factor(step, 100))
	}
	// Output:
	// step  0: 0.100
	// step  4: 0.500
	// step  9: 1.000
	// step 10: 1.000
	// step 30: 0.892
	// step 54: 0.558
	// step 80: 0.197
	// step 99: 0.100
}

// scaledTable is a user's item table: an ID table whose vectors are
// multiplied by a constant kept in its saved settings.
type scaledTable struct {
	*backbone.IDTable
	scale float32
	buf   tensor.Tensor
}

func (t *scaledTable) Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor {
	dst = t.IDTable.Lookup(dst, ids)
	for i := range dst.Data {
		dst.Data[i] *= t.scale
	}
	return dst
}

func (t *scaledTable) Backward(dOut *tensor.Tensor) error {
	t.buf.Data = append(t.buf.Data[:0], dOut.Data...)
	t.buf.Shape = append(t.buf.Shape[:0], dOut.Shape...)
	for i := range t.buf.Data {
		t.buf.Data[i] *= t.scale
	}
	return t.IDTable.Backward(&t.buf)
}

func (t *scaledTable) Materialize(dst *tensor.Tensor) *tensor.Tensor {
	dst = t.IDTable.Materialize(dst)
	for i := range dst.Data {
		dst.Data[i] *= t.scale
	}
	return dst
}

func (t *scaledTable) Spec() backbone.TableSpec {
	s := t.IDTable.Spec()
	s.Kind = "example-scaled"
	s.Custom, _ = json.Marshal(map[string]float32{"scale": t.scale})
	return s
}

// A user's table kind, registered, saves and loads like the built-in ones;
// an unregistered kind is an error that names the call to make.
func ExampleRegisterTable() {
	backbone.RegisterTable("example-scaled", func(spec backbone.TableSpec) (backbone.ItemTable, error) {
		var c map[string]float32
		if err := json.Unmarshal(spec.Custom, &c); err != nil {
			return nil, err
		}
		spec.Kind = "id"
		id, err := backbone.BuildTable(spec)
		if err != nil {
			return nil, err
		}
		return &scaledTable{IDTable: id.(*backbone.IDTable), scale: c["scale"]}, nil
	})
	rng := rand.New(rand.NewPCG(5, 6))
	cfg, _ := backbone.DefaultEncoderConfig(backbone.KindGRU4Rec)
	cfg.Dim, cfg.MaxLen = 8, 5
	enc, _ := backbone.NewEncoder(rng, cfg)
	m, err := backbone.NewSeqModel(enc, &scaledTable{IDTable: backbone.NewIDTable(rng, 20, 8), scale: 2}, backbone.ModelConfig{})
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "scaled")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.safetensors")
	if err := m.Save(path); err != nil {
		panic(err)
	}
	back, err := backbone.Load(path)
	if err != nil {
		panic(err)
	}
	fmt.Println("reloaded table:", back.Items.Spec().Kind, "scale", back.Items.(*scaledTable).scale)

	_, err = backbone.BuildTable(backbone.TableSpec{Kind: "example-unknown"})
	fmt.Println(errors.Is(err, backbone.ErrUnknownKind))
	// Output:
	// reloaded table: example-scaled scale 2
	// true
}
