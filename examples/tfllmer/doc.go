// Command tfllmer runs TF-LLMER end to end on a real dataset and checks the
// paper's two claims (methods.md §1): item-embedding normalization makes an
// LLM-enhanced SASRec easier to optimize (lower final training loss, lower
// condition number of the loss Hessian with respect to the sequence
// representation), and normalization + Rec-PCA beats ID-only SASRec and
// LLMInit-PCA in test NDCG@10.
//
//	go run ./examples/tfllmer -data ../shared/data/amazon-beauty -seeds 3 -plots /tmp/tfllmer
//	go run ./examples/tfllmer -data ../shared/data/ml-100k -maxlen 200
//
// # Variants
//
// Every variant is the same SASRec encoder (backbone.NewSASRec) over a
// different item table; names are the keys of the JSON summary:
//
//   - id: random ID table (ID-only SASRec);
//   - llminit_pca: ID table initialized from PCA(X) to d, raw (LLMInit);
//   - llminit_pca_norm: the same inside a backbone.NormalizedTable (rows
//     renormalized to norm -scale on every forward pass);
//   - tfllmer: ID table initialized from normalize(Rec-PCA(normalize(X))),
//     rows kept normalized (init mode, methods.md §1.5a);
//   - frozen_adapter, frozen_adapter_norm: frozen X behind a trainable
//     Linear adapter, without / with normalization after the adapter;
//   - frozen_adapter_recpca_norm (opt-in): Rec-PCA to -adapter-in before
//     the adapter (frozen mode, §1.5c);
//   - dualview_recpca (opt-in): ID view from Rec-PCA (d/2) ⊕ adapted LLM
//     view (d/2), each normalized (dual-view mode, §1.5b).
//
// Rec-PCA's strength is -lambda (the scale-free λ of recpca.Options) or, by
// default, -target-var: λ chosen to keep that fraction of PCA's retained
// variance. The co-occurrence graph comes from the training part of the
// leave-one-out split only (-window, -decay, -topk, -laplacian, -tv).
//
// # Protocol
//
// Leave-one-out; validation every epoch under -protocol (sampled100, the
// LLM-ESR protocol, by default; -valid-users subsamples it), early stopping
// on validation NDCG@10 with -patience, the best weights restored; test under
// the same protocol and, with -full, full ranking. Head items are the
// -head-frac most frequent items in training (default 20%), the rest are
// tail: LLM-ESR's fixed threshold (ts_item 4) selects nothing on 5-core data.
// The condition number is recpca.Curvature's λmax/λmin of the batch-average
// Hessian (1/B) Σ_b Cov_{p_b}(e) of the full-softmax loss, measured on the
// hidden states of every position of a fixed batch of -curv-users training
// sequences, against the item table the model scores with; it is measured
// after every epoch and at the end (best weights). Note the training loss
// itself is SASRec's BCE with one sampled negative.
//
// The program prints one line per epoch, a per-seed test line, a table of
// mean ± sample std over seeds, the claims checked on those numbers, and as
// its last line one JSON object {"dataset", "variants": {NAME: {"ndcg@10",
// "hr@10", "final_train_loss", "condition_number", ...: one value per
// seed}}}. Condition numbers that are infinite are written as null.
//
// # Wiring helpers
//
// tables.go holds the glue that has no library home yet: reduce (fit PCA or
// Rec-PCA and transform), recPCAIDTable (init mode), adapterTable (frozen
// mode), dualViewTable (dual view), and seqStates / lastStates / curvature
// (sequence representations of a real batch and their Hessian spectrum).
package main
