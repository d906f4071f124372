// Package backbone provides the sequence encoders of llmrec (SASRec,
// BERT4Rec, GRU4Rec), the composable item tables they score with, the
// training loop, and a Recommender that serves a trained model.
//
// # Why it looks like this
//
// A sequential recommender is an Encoder over the vectors of an ItemTable,
// scored by dot products with the same table. LLM-enhanced methods change the
// table (LLMInit initializes it from reduced LLM embeddings, LLM-ESR
// concatenates an ID view and an adapted LLM view, TF-LLMER normalizes its
// rows) far more often than the encoder, so tables compose: IDTable,
// NewIDTableFrom, AdapterTable, ConcatTable and NormalizedTable all satisfy
// ItemTable, and SeqModel works with any of them.
//
// Recommendation data is mostly short sequences (Amazon Beauty: 8.9 items
// on average, windows of 50). A padded batch spends most of its work on
// padding, so batches here are packed (Batch): the real tokens of all
// sequences back to back, dense layers run once over them, attention runs
// per sequence. Because a padded SASRec masks padded keys and zeroes padded
// rows, this computes the same hidden states as the padded model, with
// positions taken from the right of the window exactly as the padded model
// sees them. TrimPadded and BucketBatches are the corresponding tools for
// padded batches.
//
// The encoders differentiate by hand (every op's backward is checked against
// finite differences in the tests) and keep their working memory in a
// Scratch, so a training step allocates almost nothing and inference can run
// from many goroutines. Model is the small contract Train needs; a model
// built on the autograd package satisfies it by recording on a tape inside
// LossGrad.
//
// # Your own encoder, and ours on your tape
//
// An encoder written with nn layers on the autograd tape (a TapeModule)
// becomes an Encoder with NewTapeEncoder: SeqModel, Train, Recommender and
// Save take it like SASRec, and Load rebuilds it once its kind is registered
// with RegisterEncoder (see ExampleTapeEncoder). An item table written with
// tape ops (a TapeTableModule) likewise becomes an ItemTable with
// NewTapeTable, with no Backward to write: the tape differentiates it, and
// RegisterTable makes Load rebuild it (see ExampleTapeTable). ToPadded and
// FromPadded give nn's attention blocks the padded layout they expect; a
// stack of nn transformer blocks given SASRec's weights computes SASRec's
// hidden states and gradients (tested). The other way round, EncoderOp and
// TableOp record a built-in encoder or item table on a tape as one
// user-defined op (autograd.Function, its gradients returned through din as
// the contract says; a TapeTable is recorded op by op), so a tape-built model
// uses the fast hand-written kernels as layers; package align and moe train
// their losses that way. The dense layers of the built-in encoders are
// nn.Linear and nn.LayerNorm, run through their fast paths (Apply, Backprop)
// on the same kernels as the tape ops.
//
// # The objective
//
// Which items a position is scored against, and how, decides accuracy more
// than anything else here. ModelConfig.Loss offers SASRec's BCE, gSASRec's
// calibrated gBCE, sampled softmax (with the logQ correction, popularity
// negatives shared by a step) and full cross-entropy. The zero value asks for
// the default (DefaultObjective): full cross-entropy up to 100,000 items,
// which more than doubles BCE's full-ranking NDCG@10 on Amazon Beauty, and
// sampled softmax with 1,024 shared negatives above, whose cost does not grow
// with the catalog. docs/objectives.md has the measured frontier.
//
// A saved model names its encoder and item-table kinds; Load rebuilds them
// through registries (RegisterEncoder, RegisterTable; moe.RegisterGate for
// gates), where the built-in kinds register themselves the same way a
// user's own kinds do, so a user's encoder or table saves, loads and serves
// like ours. Settings of a user's kind travel as raw JSON in
// EncoderConfig.Custom or TableSpec.Custom.
//
// # Example
//
//	rng := rand.New(rand.NewPCG(42, 1))
//	cfg, _ := backbone.DefaultEncoderConfig(backbone.KindSASRec)
//	enc, _ := backbone.NewSASRec(rng, cfg)
//	m, _ := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, split.NumItems, 64), backbone.ModelConfig{})
//	hist, err := backbone.Train(ctx, m, split.Train, backbone.DefaultTrainConfig(), backbone.TrainOptions{
//		Validate: func(ctx context.Context, epoch int) (map[string]float64, error) { ... },
//	})
//	_ = m.Save("model.safetensors")          // + model.json, a readable copy
//	rec, _ := backbone.LoadRecommender("model.safetensors")
//	top, _ := rec.TopK(history, 10, history) // safe for concurrent use
//
// examples/sasrec trains any of the three encoders on a dataset folder and
// reports the reference's metrics. To serve a saved model over HTTP from a
// program's own mux (recommendations, checked item additions that survive
// reloads), see package backbone/serve.
package backbone
