// Package serve is llmrec's recommendation service as a library: an
// http.Handler that answers recommendation requests over HTTP with JSON for
// a trained model, takes new items while it serves (when enabled), and
// reloads the model file without dropping a request. A program mounts it
// on its own mux next to its own routes, after registering its own encoder
// or table kinds:
//
//	backbone.RegisterEncoder("mine", newMine) // the program's own kind
//	h, err := serve.Open("model.safetensors", serve.Options{})
//	if err != nil { ... }
//	mux := http.NewServeMux()
//	mux.Handle("/", h)                  // POST /recommend, POST /items, GET /healthz
//	mux.HandleFunc("GET /version", ...) // the program's routes beside it
//	go h.Watch(ctx, 2*time.Second)      // reload when the file changes
//	http.ListenAndServe(addr, mux)
//
// Under a prefix, strip it: mux.Handle("/rec/", http.StripPrefix("/rec", h)).
// examples/serve is such a program: flags, Prometheus metrics and signals
// around this package.
//
// # Endpoints
//
//	POST /recommend  {"history": [12, 7, 301], "k": 10, "exclude_history": true}
//	              -> {"items": [...], "scores": [...]}      (RecommendRequest, RecommendResponse)
//	POST /items      Authorization: Bearer <token>
//	                 {"embeddings": [[0.1, ...], ...]}
//	              -> {"ids": [12102, ...], "items": 12103, "persisted": true}
//	GET  /healthz    -> {"status": "ok", "items": 12101, "writes": false, ...}   (Health)
//
// Reading is open: /recommend answers anyone (it exposes the model's
// rankings and scores), /healthz exposes sizes and limits, never data.
// Writing is privileged: POST /items is refused (403) unless
// Options.AddToken is set, and then needs that bearer token (401 otherwise;
// compared in constant time). Every error is a JSON ErrorResponse saying
// what is wrong: 400 for malformed JSON, unknown fields, wrong types,
// out-of-range ids or k and rejected rows; 401/403 for writes; 404, 405,
// 409 (the catalog cap, or a model that takes no items), 413 for a body
// over its limit, 415 for a Content-Type other than application/json, 503
// when too many additions are being decoded; 500 only for a broken model.
//
// # What a write can and cannot do
//
// A row of POST /items is a new item's raw LLM embedding when the handler
// has Options.LLM (the trained items' embeddings; the item encoder of
// backbone.NewItemEncoder, or a mixture's own, maps it), or an item vector
// of the model's width otherwise. Before anything is committed:
//
//   - the body is decoded as a stream, with the row limit (MaxAddRows) and
//     the width applied while decoding, under a byte limit (MaxItemsBody);
//     at most MaxConcurrentAdds bodies are decoded at once;
//   - every value must be a finite float32, and every row's norm at most
//     NormFactor times the largest norm of the trained items' rows in the
//     same space (so a row scaled by 1e6 cannot rank first for every user);
//   - the candidate model, new items included, scores probe histories of
//     several lengths up to the model's window that hold the new items;
//     a NaN or infinite score refuses the addition (ErrRejected);
//   - the items added since the model was loaded stay within MaxAdded
//     (ErrCatalogFull).
//
// The addition is then appended to the items log and swapped in
// atomically: a request sees all of it or none, and never an id it cannot
// score.
//
// # Additions survive reloads
//
// A Handler from Open keeps what clients sent in an append-only items log
// beside the model (ItemsLogPath; each addition costs its own rows, with
// the SHA-256 fingerprint of the model file it was sent to). At start-up
// and on every Reload the log is replayed into the freshly loaded model:
// LLM rows are re-encoded through the new model's item encoder; item
// vectors are reused only by the model they were sent for (same
// fingerprint), because a vector in one model's item space means nothing
// in another's. Ids are never reused: the new model must have the item
// count the log continues from. A model that cannot keep the additions
// (another item count, vectors of another model, no Options.LLM to
// re-encode text rows, or re-encoded rows that fail the checks) is refused
// with ErrReloadRefused; the previous model keeps serving, and the refusal
// is logged and counted (Metrics.Reload(ReloadRefused)).
//
// A model is checked before it serves: it must give finite scores to every
// item for probe histories of several lengths up to its window (a model can
// be finite for [1] and overflow at length 30); otherwise Open fails and
// Reload keeps the old model (ErrNotServable). Watch records a file's
// version only once it has loaded, or as it was when a failed load began,
// so a file replaced while a slow load fails is loaded next.
//
// # Where this package sits
//
// It lives under backbone and imports backbone (and tensor), never moe:
// imports point down, and moe imports backbone, so a serving package that
// imported moe would have to sit above moe and would pull the mixture code
// into every service. Instead it serves any *backbone.Recommender (a
// SeqModel, a moe.Mixture through moe's NewRecommender or
// NewScorerWithText, a user's own ItemScorer), and what reads a model file
// is a Loader the caller passes: LoadSeqModel by default, or a function
// that tells the kinds apart (examples/serve's loader serves both kinds
// with moe.IsCheckpoint). A PAD mixture, for instance:
//
//	load := func(path string, llm *tensor.Tensor) (*backbone.Recommender, string, error) {
//		m, err := moe.Load(path)
//		if err != nil {
//			return nil, "", err
//		}
//		if llm == nil {
//			rec, err := m.NewRecommender()
//			return rec, "moe", err
//		}
//		sc, err := m.NewScorerWithText(backbone.ItemEncoderOptions{LLM: llm}) // items from text
//		if err != nil {
//			return nil, "", err
//		}
//		return sc.Recommender, "moe", nil
//	}
//	h, err := serve.Open("pad.safetensors", serve.Options{Load: load, LLM: llm, AddToken: token})
//
// Metrics go through the small Metrics interface the caller implements, so
// the library depends on no metrics client.
//
// A Handler is safe for concurrent use. It never writes to stdout; it logs
// through Options.Logger.
package serve
