// Package index finds the items with the highest inner product with a
// user's state in catalogs too large to score whole: an inverted-file
// index (IVF) whose lists are scanned by tensor/qscan.
//
// Why an IVF and not a graph (HNSW): on this library's target machine
// (two shared cores) the index must be built from a million vectors in
// about a minute and take new items one at a time while it serves. An IVF
// is built by k-means on a sample plus one assignment pass, float32 GEMMs
// (a million 64-wide vectors: 13 s of CPU); a graph needs a beam search per
// inserted vector (the Go HNSW library measured beside it in
// examples/annbench took 325 s of CPU, single-threaded). A query scans a few
// percent of the catalog, streaming int8 codes at memory speed, and
// re-ranks exactly in float32, so the scores it returns are the exact ones
// and only the choice of lists is approximate (probing every list is the
// exact search). The side-by-side measurements against an HNSW library
// are in examples/annbench.
//
// Why maximum inner product: a sequential recommender scores item i by
// ⟨h, e_i⟩ and its item vectors are not normalised, so the nearest
// neighbour of h (L2 or cosine) is not its best item. Lists are ranked by
// ⟨q, c_j⟩ with their k-means centroid c_j; within a list the scan is
// exact.
//
// Why here: the index serves backbone.Recommender (a sub-package of
// backbone, which consumes it through a one-method interface), and it
// imports only tensor/qscan, so it also serves vectors that do not come
// from a backbone model.
//
// Concurrency: an IVF is safe for concurrent use. Insert (a new item or a
// new vector for an old one) and Remove build the changed lists aside and
// swap a new snapshot in atomically; searches never wait and never see half
// a change. Save writes atomically; Load/Read check everything a file
// declares (bounded by MaxID, MaxDim, MaxLists, the checksum, memory
// growing only with the bytes read) and are fuzzed.
//
// Example:
//
//	x, err := index.Build(rand.New(rand.NewPCG(1, 2)), rows, 64, nil, index.Config{})
//	if err != nil { ... }
//	top, err := x.Search(nil, userState, 10, history)
//	err = x.Insert(newID, newVector) // while other goroutines search
package index
