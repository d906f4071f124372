package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

func Example() {
	emb := tensor.FromSlice([]float32{0, 0, 0.6, 0.8, 1, 0}, 3, 2) // row 0 = padding
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Named{{Name: "item_emb", Tensor: emb}},
		map[string]string{"model": "toy"})
	if err != nil {
		fmt.Println(err)
		return
	}

	f, err := safetensors.ReadBytes(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	info, _ := f.Info("item_emb")
	t, err := f.Tensor("item_emb")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Names(), info.DType, t.Shape, t.Row(1), f.Metadata["model"])
	// Output: [item_emb] F32 [3 2] [0.6 0.8] toy
}
