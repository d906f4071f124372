package eval_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
)

// A leave-one-out split of four users over five items, evaluated with the
// popularity baseline under full ranking.
func Example() {
	split := &data.Split{
		NumItems: 5,
		Train:    [][]int{{1, 2}, {2, 3}, {1, 3, 4}, {2}},
		Valid:    []int{3, 1, 2, 0},
		Test:     []int{4, 5, 5, 0},
	}
	freq := []int{0, 2, 3, 2, 1, 0} // training frequency of items 0..5
	ev, err := eval.NewEvaluator(split, eval.Config{Ks: []int{1, 3}})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := ev.Evaluate(context.Background(), eval.NewPopularity(freq), eval.Test)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ranks:", res.Ranks)
	fmt.Print(res)
	// Output:
	// ranks: [0 1 0]
	//   test  full  count    hr@1    hr@3  ndcg@1  ndcg@3   mrr@1   mrr@3
	//    all            3  0.6667  1.0000  0.6667  0.8770  0.6667  0.8333
}

// Sampled protocol with per-group reports, printed as JSON.
func ExampleEvaluator_Evaluate_groups() {
	split := &data.Split{
		NumItems: 8,
		Train:    [][]int{{1, 2, 3}, {4}, {1, 5, 6, 7}},
		Valid:    []int{4, 5, 2},
		Test:     []int{5, 1, 8},
	}
	freq := []int{0, 9, 7, 5, 4, 3, 2, 1, 1}
	ev, err := eval.NewEvaluator(split, eval.Config{
		Protocol: eval.Sampled, Negatives: 3, Seed: 2, Ks: []int{1},
		Groups: []eval.Grouping{eval.TailItems(freq, 3), eval.TailUsers(3)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := ev.Evaluate(context.Background(), eval.NewPopularity(freq), eval.Valid)
	if err != nil {
		fmt.Println(err)
		return
	}
	// User 1 is the only tail user (input length 1 < 3); its target 5
	// (frequency 3) is ranked against three items it never interacted with.
	neg, _ := ev.Negatives(eval.Valid, 1)
	js, _ := json.Marshal(res.Groups[1].Buckets[0].Metrics)
	fmt.Println("negatives of user 1:", neg)
	fmt.Println(res.Protocol, "tail users:", string(js))
	// Output:
	// negatives of user 1: [8 6 7]
	// sampled3 tail users: {"count":1,"hr@1":1,"ndcg@1":1,"mrr@1":1}
}
