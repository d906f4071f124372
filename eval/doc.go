// Package eval measures next-item recommenders on a leave-one-out split the
// way the reference script (sasrec_torch.py) does, so that numbers from Go
// models, PyTorch models and published tables mean the same thing.
//
// A model is seen only through the Scorer interface (score every item for a
// batch of input sequences) and, optionally, CandidateScorer (score only the
// given candidates). An Evaluator fixes a split and a protocol:
//
//   - Full: the target is ranked among all items; the items of the user's
//     history are removed, except the target itself when it occurs there
//     (Config.MaskTarget removes it too, as PAD's code). Id 0 is never a
//     candidate.
//   - Sampled: the target is ranked among N negatives (100 by default) drawn
//     uniformly, independently (duplicates allowed; Config.UniqueNegatives
//     for LLM-ESR's draw without repeats) from the items not in the user's
//     full sequence. They are drawn once per (user, stage) from a seed
//     derived from Config.Seed and the user, so every evaluation, every
//     number of workers and every user subset sees the same candidates.
//
// The rank is 0-based: by default the number of candidates that score
// strictly higher than the target (TiesStrict, the reference rule); the
// pessimistic rule (TiesPessimistic) also counts candidates that tie with the
// target. From a rank r and cut-off K: HR@K = [r < K], NDCG@K = 1/log2(r+2)
// and MRR@K = 1/(r+1) when r < K (else 0); Recall@K equals HR@K with one
// target. Each is averaged over the evaluated users: those with a validation
// and a test item, or a seeded subset of them (Config.Users).
//
// The valid stage uses input = history = Train[u] and target Valid[u]; the
// test stage uses input = history = Train[u]+Valid[u] and target Test[u].
// Inputs are passed whole; the model truncates them to its own maxlen.
//
// Results carry overall metrics at each K (5, 10, 20 by default), per-group
// metrics (PopularityBins of the target, TailItems, TailUsers, Ranges or any
// Grouping), the per-case ranks, an aligned text table (String, WriteTable)
// and JSON with stable keys ("hr@10", "ndcg@10", "mrr@10", groups nested).
//
// Example:
//
//	ev, err := eval.NewEvaluator(split, eval.Config{Protocol: eval.Sampled, Seed: 42})
//	if err != nil { ... }
//	res, err := ev.Evaluate(ctx, model, eval.Test)
//	if err != nil { ... }
//	fmt.Print(res)                       // table
//	hr10, _ := res.Overall.Get("hr@10")
package eval
