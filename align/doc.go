// Package align provides the alignment losses of LLM-enhanced recommenders:
// losses that pull a batch of LLM-derived item vectors (x) and a batch of
// collaborative ID item vectors (y) toward each other.
//
// Why two families. Contrastive losses (InfoNCE, CLIP) match each x_i to its
// own y_i through a similarity kernel: they align pairs, which is strong but
// can overwrite what either side knew (PAD reports large drops of the ID
// model after CLIP-style alignment). The multi-kernel maximum mean
// discrepancy (MKMMD) instead matches the two distributions: with
// characteristic (Gaussian) kernels it is zero only when every moment
// agrees, and it does not force any particular pairing. PAD (SIGIR 2025)
// aligns with MK-MMD, five Gaussian kernels whose bandwidths are multiples of
// the batch's mean squared distance, weighted 0.2 next to the recommendation
// loss of a copy of the ID tower ("recommendation-anchored" alignment).
//
// Every loss implements Loss: it records itself on an autograd.Tape from the
// two [N,d] batches and returns a scalar, so gradients reach whatever
// produced x and y. The MK-MMD bandwidth is computed from the forward values
// and treated as a constant, as in tllib's DAN that PAD uses.
//
// Estimators: Unbiased (the default; ~0 for one distribution), Biased,
// UnbiasedOffset (PAD/tllib's value, Unbiased + 2/(N−1)) and Linear
// (Gretton's O(N) statistic, for large batches).
//
// Anchored is PAD's phase 2 as a backbone.Model: the BCE loss of an
// alignment tower (a copy of the pre-trained ID tower whose table also reads
// the text side) plus γ times a Loss between two of its item tables; the
// original ID tower stays untouched, which is the "anchor".
//
// PAD's item tables are backbone.ItemTable implementations: TextProjection
// is f_t (Linear D→d, GELU, then n × [Dropout, Linear d→d, GELU]) over frozen
// LLM item embeddings, and FusedTable is the aligned embedding
// GELU(W_c·Dropout([ID[i]; f_t(x_i)])); its IDView drops the text half (the
// ID-only scorer of an aligned tower). CopyTower is PAD's freeze(): a deep
// copy of a pre-trained SeqModel, so phase 2 trains the copy. BuildTable
// rebuilds any of these tables (and backbone's) from a saved spec.
//
// Phase 2 in full:
//
//	tower, _ := align.CopyTower(pretrained)                   // original stays as is
//	ft, _ := align.NewTextProjection(rng, llm, 64, 4, 0.1)    // f_t
//	fused, _ := align.NewFusedTable(rng, tower.Items, ft, 64, 0.1)
//	rec, _ := backbone.NewSeqModel(tower.Enc, fused, backbone.ModelConfig{})
//	a, _ := align.NewAnchored(rec, ft, tower.Items, align.MKMMD{Estimator: align.UnbiasedOffset}, 0.2)
//	hist, err := backbone.Train(ctx, a, split.Train, cfg, opts)
//
// Example, PAD's alignment term on one batch:
//
//	t := autograd.NewTape()
//	text := projector.Forward(t, llmRows)       // [B, d]
//	ids := t.Gather(idTable, items, 0)          // [B, d]
//	mmd := align.MKMMD{Estimator: align.UnbiasedOffset}
//	loss := t.Add(recLoss, t.Scale(mmd.Loss(t, text, ids), 0.2))
//	err := t.Backward(loss)
package align
