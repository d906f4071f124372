// Package recpca reshapes LLM item embeddings before a sequential
// recommender uses them: the geometry half of TF-LLMER (Zhu and Zhang,
// arXiv:2604.20490). Parts of that method are not public; the objective
// below is llmrec's reconstruction, every choice an option.
//
// Why: LLM item vectors make the backbone hard to optimize. The Hessian of
// the softmax cross-entropy with respect to a sequence representation is the
// covariance of the item vectors under the model's own distribution
// (Curvature measures it), so a few large-norm items dominate it and items
// that co-occur but sit in different semantic clusters leave it
// ill-conditioned. The package offers the two remedies and the diagnostics to
// see them work:
//
//   - NormalizeRows: L2 row normalization (ComputeNormStats shows the norm
//     disparity it removes);
//   - Fit: PCA, whitened PCA and Rec-PCA. Rec-PCA keeps the top-d
//     eigenvectors of M = X̄ᵀX̄/tr(X̄ᵀX̄) − λ·X̄ᵀLX̄/tr(X̄ᵀLX̄), trading
//     retained variance for smoothness over the item co-occurrence graph
//     (BuildGraph) built from the training sequences; λ = 0 is PCA;
//   - diagnostics: GraphTV, Alignment (co-occurring vs random pairs'
//     cosine), Curvature (extreme eigenvalues and condition numbers).
//
// Item matrices are *tensor.Tensor of shape [NumItems+1, D] whose row 0 is the
// padding id: row 0 is excluded from every statistic and fit and written as
// zeros. Graphs have NumItems+1 nodes with node 0 isolated.
//
// Solvers and accuracy: SolverExact (forms C = X̄ᵀX̄ and G = X̄ᵀLX̄ as
// float64 Gram matrices in one pass over the rows, then the D x D matrix M,
// and keeps the top-d eigenvectors from a tridiagonal reduction and inverse
// iteration; the oracle) and SolverRandomized (float64 operator products,
// never a D x D matrix) reach float64-level subspaces (λ = 0 spans PCA to
// < 1e-6 rad; on Beauty at λ = 0.9 the exact solver is within 4e-12 rad of
// a float64 dsyev of an independently formed M).
// SolverRandomized32 runs the n x D x (d+p) products as float32 GEMMs
// (tensor.Gemm) with every small k x k / D x k step in float64 and a final
// float64 Rayleigh–Ritz step: subspace within 8e-4 rad of the exact one on
// Beauty (12,101 x 512 -> 64, λ = 0.3), retained variance within 5e-7; it
// is opt-in because near the edge of the useful λ band (λ = 0.9 on Beauty)
// it stops at a wrong subspace. SolverAuto picks SolverExact when D ≤ 1024
// and SolverRandomized above; for large inputs (50,000 x 4,096 -> 64) pick
// SolverKrylov32: block Krylov iteration with Rayleigh–Ritz over the whole
// basis on the same float32 operator, one product with M per step, 1.5x
// faster than SolverRandomized32 there (BenchmarkFitSynthetic50k, one run
// at load 6-9: 44.2 s vs 66.3 s at Tol 1e-5); with Tol below 1e-5 it runs to the
// float32 floor and finishes in float64 (Beauty: 2.1e-7 rad from the exact
// subspace at λ = 0.3, 1.4e-6 rad at λ = 0.9). No randomized or Krylov
// solver forms a D x D matrix.
//
// Fit time, measured on 2 shared cores, graph construction included: Beauty
// 12,101 x 512 -> 64 at λ = 0.9 with the auto (exact) solver 0.14-0.18 s per
// fit within one process and 0.16-0.23 s for a process's first fit (load
// 1-4; 0.52-0.71 s for the previous main's build, run alternately); 50,000 x
// 4,096 -> 64 with SolverKrylov32 at Tol 1e-5, 20.0 s (35.7 s for the
// previous main's build, one run each, load 5.6). Against scikit-learn
// 1.2.1's PCA (examples/recpcabench/side_by_side.py, alternating runs, one
// fit per process; its default picks the randomized solver for both shapes):
// Beauty, median of 5 at load 1.3-1.5, Rec-PCA with graph 0.126 s, full SVD
// 0.338 s (2.69x), randomized 0.147 s (1.17x); 50,000 x 4,096 at matched
// accuracy (Tol = scikit-learn's Ritz residual, 3.7e-3), median of 3 at load
// 2.2-2.4, SolverKrylov32 6.53 s vs randomized 9.70 s (1.49x). Most of the
// Beauty fit is the two float64 Gram GEMMs (C and G, ~45% of the CPU) and
// the sparse L·X̄ rows (15%); at 50,000 x 4,096 the float32 GEMMs and their
// re-packing of X on every pass (examples/recpcabench/README.md).
//
// Choosing the penalty: Options.Lambda (default, the objective's own λ) or
// Options.TargetVariance (recommended on new data: λ is bisected so that the
// retained variance is a given fraction of PCA's, which is comparable across
// datasets, whereas the useful λ band is narrow and data-dependent). Every
// fit reports retained variance, graph TV and the count of non-positive kept
// eigenvalues next to PCA's, and logs a warning through Options.Logger when λ
// has gone past the useful band.
//
// Beyond one machine: every input of Fit is a sum over items or over graph
// edges, so it distributes exactly. An Accumulator collects the sufficient
// statistics (item count and mean, the centred Gram X̄ᵀX̄, the graph term
// X̄ᵀLX̄ as a sum over edges, each edge given with both end rows and
// degrees, O(D²) per edge; or per item with AddNeighbors: the item's row and
// a NeighborSum of its neighbours' rows, O(D) per neighbour and O(D²) per
// item, 2.3x faster on Beauty's graph, BenchmarkAccumulatorGraphTerm);
// shards merge in any order (pairwise, Chan-style centring) and
// encode with MarshalBinary; FitStats solves the D x D eigenproblem on one
// machine and gives Fit's projection (within 1e-5 rad on Beauty). A
// PartialGraph counts co-occurrences of a shard of sequences
// (CoOccurrences emits the weighted pairs one by one) and merges into
// BuildGraph's graph. Column standardization needs the global deviations:
// Options.Standardize applies it at fit time (in Fit and FitStats alike).
//
// Example:
//
//	g, err := recpca.BuildGraph(split.Train, numItems, recpca.GraphOptions{})
//	if err != nil { ... }
//	p, err := recpca.Fit(llmEmb, g, recpca.Options{Dim: 64, NormalizeInput: true, TargetVariance: 0.9})
//	if err != nil { ... }
//	itemInit := p.Transform(nil, llmEmb, false) // [NumItems+1, 64], row 0 zero; a NormalizedTable normalizes it
package recpca
