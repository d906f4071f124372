// Package qscan finds the exact top-k inner products of a query over a
// large float32 table by streaming an int8 copy of it once.
//
// Why: a million-item catalog of 64-wide float32 vectors is 256 MB, and
// scoring it in float32 reads all of it per user. Its int8 codes are 64
// MB. Each row keeps its scale s (e ≈ s·code, |e − s·code| ≤ s/2) and the
// query is quantized the same way, so the integer dot product of the codes
// gives an approximate score together with a rigorous bound on its error
// (it also covers the rounding of the float32 score itself). The scan
// keeps the k best exact scores found so far; a row is scored exactly, in
// float32, only when its upper bound reaches the k-th of them. Every row of
// the true top-k passes that test, so the result is exactly the float32
// top-k (Dot's arithmetic, which is backbone.Recommender's), ties broken by
// the lower id, while only a few hundred rows of a million are read in
// float32.
//
// Why int8 and not bf16: the kernels use AVX2 (VPMADDUBSW/VPMADDWD), which
// every x86-64 CPU of the last decade has; the machine this was built on
// (AMD EPYC, Zen 3) has neither AVX-512 VNNI nor BF16, where bf16 would
// read twice the bytes and need a widening per element before a float
// multiply-add. Query codes are 6-bit (|q| ≤ 31) so that two steps of
// VPMADDUBSW pair sums add in int16 before one VPMADDWD widens them: a
// quarter fewer multiplies, the kernels' limit once the codes are in cache.
//
// Where: the scan is a kernel over a dense table, below the model layers,
// so it sits under tensor (it imports nothing of the library). The
// approximate index (backbone/index) scans its inverted lists with it and
// backbone.Recommender serves large catalogs through that index.
//
// A Table is immutable and safe for concurrent use; Append, Set and Delete
// return a new one (an index swaps them in). TopK pools its working memory;
// a Searcher scans several tables for one query (an index's lists) and is
// one goroutine's. TopKBatch streams the codes once per batch of queries.
// The kernels are AVX2 assembly on amd64 and portable Go elsewhere or with
// the purego build tag; they may round the bound differently, never the
// result.
//
// Example:
//
//	tab, err := qscan.New(rows, 64) // rows: n·64 float32, row-major
//	if err != nil { ... }
//	top, err := tab.TopK(nil, query, 10, history) // exact top-10, history excluded
package qscan
