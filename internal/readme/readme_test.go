package readme

import (
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// Example_apiInTenLines is the README's "API in ten lines", verbatim between
// the markers (TestREADMESnippetCompiles checks that). It is compiled, not
// run: it needs ../shared/data.
func Example_apiInTenLines() {
	ctx := context.Background()
	// BEGIN README
	dir, _ := data.LoadDir("../shared/data/amazon-beauty", data.Options{})                        // sequences + item_emb*.npy
	split := data.LeaveOneOut(dir.Dataset)                                                        // SASRec's leave-one-out
	llm, _, _ := data.LoadItemEmbeddings(dir.EmbeddingFile, dir.Dataset, data.EmbeddingOptions{}) // [items+1, 512]
	graph, _ := recpca.BuildGraph(split.Train, split.NumItems, recpca.GraphOptions{Window: 1})
	proj, _ := recpca.Fit(llm, graph, recpca.Options{Dim: 64, NormalizeInput: true, TargetVariance: 0.9})
	ids, _ := backbone.NewIDTableFrom(proj.Transform(&tensor.Tensor{}, llm, false)) // TF-LLMER init: raw reduced rows
	ecfg, _ := backbone.DefaultEncoderConfig(backbone.KindSASRec)                   // an unknown kind is an error
	enc, _ := backbone.NewSASRec(rand.New(rand.NewPCG(42, 0)), ecfg)
	model, _ := backbone.NewSeqModel(enc, backbone.NewNormalizedTable(ids, 1, false), backbone.ModelConfig{})
	_, _ = backbone.Train(ctx, model, split.Train, backbone.DefaultTrainConfig(), backbone.TrainOptions{})
	ev, _ := eval.NewEvaluator(split, eval.Config{Protocol: eval.Sampled})
	res, _ := ev.Evaluate(ctx, backbone.NewRecommender(model), eval.Test) // HR/NDCG/MRR @5/10/20
	// END README
	_ = res
}

// The README's snippet is the body of Example_apiInTenLines, so it compiles
// as written (issue 12: it used ctx and math/rand/v2 without saying so).
func TestREADMESnippetCompiles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "## The API in ten lines")
	if i < 0 {
		t.Fatal("README has no \"## The API in ten lines\" section")
	}
	j := strings.Index(s[i:], "```go\n")
	k := strings.Index(s[i+j+6:], "```")
	if j < 0 || k < 0 {
		t.Fatal("README's API section has no go block")
	}
	want := s[i+j+6 : i+j+6+k]
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	src := string(self)
	b := strings.Index(src, "// BEGIN README\n")
	e := strings.Index(src, "\t// END README")
	// gofmt aligns the trailing comments differently: compare the tokens
	// of every line.
	norm := func(s string) string {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
		return strings.Join(lines, "\n")
	}
	if got := src[b+len("// BEGIN README\n") : e]; norm(got) != norm(want) {
		t.Errorf("README snippet and Example_apiInTenLines differ:\nREADME:\n%s\n\nexample:\n%s", want, got)
	}
}

var _ = rand.New
var _ = tensor.New
