// Package moe mixes the scores of several recommendation experts with a
// per-item gate, as PAD's "disentangle" phase does.
//
// Why. An ID-based expert is strong on popular items and useless on cold
// ones; an expert built on LLM text embeddings is the reverse. PAD keeps
// three experts (ID, MK-MMD-aligned, text), each with its own item table and
// sequence encoder, and mixes their scores per candidate item with a gate
// that depends only on the item's popularity bin:
//
//	g_k(i) = σ(α_k[b(i)]) / Σ_k' σ(α_k'[b(i)]),   s(u,i) = Σ_k g_k(i) · s^k(u,i)
//
// with 11 learnable logits per expert (bin 0 for padding and 10 equal-mass
// popularity bins from data.PopularityBins), initialized so that popular
// bins lean on ID, cold bins on text and the aligned expert starts almost
// off (PADInit). The gate is trained jointly with the experts by the
// recommendation loss on the mixed score.
//
// A Gate returns [len(items), K] weights whose rows sum to 1; Mix combines K
// expert scores with them; Combine does both. FreqGate is PAD's gate;
// FeatureGate learns the gate from arbitrary item features instead.
//
// Mixture is the whole phase-3 model over backbone encoders and item tables
// (one Expert each): it implements backbone.Model, so backbone.Train trains
// the experts and the gate jointly. It is served by the same
// backbone.Recommender as a SeqModel (NewRecommender): the mixture is a
// backbone.ItemScorer that mixes the experts' full-ranking or candidate
// scores with the gate weights of every item (computed once: the gate does
// not depend on the user), and the Recommender adds the checks, exclusion
// and top-k, so the Recommender is an eval.Scorer too. NewScorer gives the
// same Recommender with the gate weights. A Mixture saves to .safetensors +
// JSON (Save) and loads back (Load, LoadRecommender, LoadScorer) with PAD's
// tables (align.TextProjection, align.FusedTable), shared or separate
// encoders and either gate; IsCheckpoint tells its files from a SeqModel's.
//
// Serving a saved phase-3 model:
//
//	rec, err := moe.LoadRecommender("pad.safetensors") // *backbone.Recommender
//	...
//	top, err := rec.TopK(history, 10, history)
//
// Example (the candidate items of a batch and three experts' scores for
// them):
//
//	gate, err := moe.NewFreqGate(data.PopularityBins(freq, 10), moe.PADInit(10, moe.PADGamma2))
//	...
//	t := autograd.NewTape()
//	s := moe.Combine(t, gate, items, sID, sAligned, sText) // shape of sID
//	loss := t.BCEWithLogits(s, labels, mask)
package moe
