// Command torchcheck checks a Go SASRec checkpoint against the PyTorch
// reference (../shared/reference/sasrec_torch.py): it loads the model saved
// by examples/sasrec -out, scores a few fixed items and the test target for
// the first users of the dataset (test input = train + valid items), and
// writes the scores as JSON. torch_check.py then loads the same
// .safetensors into the reference's SASRec module (strict: same parameter
// names and shapes), runs it on left-padded windows and prints the largest
// difference:
//
//	go run ./examples/sasrec -data ../shared/data/amazon-beauty -epochs 2 -out m.safetensors
//	go run ./examples/sasrec/torchcheck -model m.safetensors -data ../shared/data/amazon-beauty/Beauty.txt > go.json
//	python3 examples/sasrec/torchcheck/torch_check.py --ref ../shared/reference --model m.safetensors \
//	    --data ../shared/data/amazon-beauty/Beauty.txt --go go.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
)

func main() {
	model := flag.String("model", "", "model saved by examples/sasrec -out")
	path := flag.String("data", "", "sequence file (user item item ...)")
	users := flag.Int("users", 300, "number of users to score")
	flag.Parse()
	if err := run(*model, *path, *users); err != nil {
		slog.Error("torchcheck", "err", err)
		os.Exit(1)
	}
}

func run(model, path string, users int) error {
	rec, err := backbone.LoadRecommender(model)
	if err != nil {
		return err
	}
	ds, err := data.Load(path, data.Options{Format: data.FormatSeq})
	if err != nil {
		return err
	}
	sp := data.LeaveOneOut(ds)
	out := map[string][]float32{}
	for u := 0; u < min(users, len(sp.Train)); u++ {
		cands := []int{1, 2, 3, 100, sp.NumItems / 2, sp.NumItems}
		if sp.Test[u] > 0 {
			cands = append(cands, sp.Test[u])
		}
		s, err := rec.Score(nil, sp.TestInput(u), cands)
		if err != nil {
			return err
		}
		out[fmt.Sprint(u)] = s
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
