// Package recpca reshapes LLM item embeddings before a sequential
// recommender uses them: the geometry half of TF-LLMER (Zhu and Zhang,
// arXiv:2604.20490). Parts of that method are not public; the objective
// below is llmrec's reconstruction, every choice an option.
//
// Example (an ID table initialized from the reduced LLM vectors):
//
//	g, err := recpca.BuildGraph(split.Train, numItems, recpca.GraphOptions{})
//	if err != nil { ... }
//	p, err := recpca.Fit(llmEmb, g, recpca.Options{Dim: 64, NormalizeInput: true, TargetVariance: 0.9})
//	if err != nil { ... }
//	itemInit := p.Transform(nil, llmEmb, false) // [NumItems+1, 64], row 0 zero; a NormalizedTable normalizes it
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
// Choosing the penalty: Options.Lambda (default, the objective's own λ) or
// Options.TargetVariance (recommended on new data: λ is bisected so that the
// retained variance is a given fraction of PCA's, which is comparable across
// datasets, whereas the useful λ band is narrow and data-dependent). Every
// fit reports retained variance, graph TV and the count of non-positive kept
// eigenvalues next to PCA's, and logs a warning through Options.Logger when λ
// has gone past the useful band.
//
// Choosing the solver: SolverAuto is right for most inputs. It picks
// SolverExact (the D x D matrix M from float64 Gram matrices, top-d
// eigenvectors only; the oracle) when D ≤ 1024 and SolverRandomized
// (float64 operator products, never a D x D matrix) above. For large inputs
// SolverKrylov32 (block Krylov on float32 products, polished in float64 when
// Tol is below 1e-5) is the fast choice; SolverRandomized32 is opt-in
// because near the edge of the useful λ band it can stop at a wrong subspace
// (the tie between the d-th and (d+1)-th eigenvalues is below float32
// rounding). Their measured accuracy and times are in the repository's
// docs/recpca.md and in the benchmarks (BenchmarkFitBeauty,
// BenchmarkFitSynthetic50k).
//
// Beyond one machine: every input of Fit is a sum over items or over graph
// edges, so it distributes exactly. An Accumulator collects the sufficient
// statistics (item count and mean, the centred Gram X̄ᵀX̄, the graph term
// X̄ᵀLX̄ per edge with AddEdge or per item with AddNeighbors and a
// NeighborSum); shards merge in any order (pairwise, Chan-style centring) and
// encode with MarshalBinary; FitStats solves the D x D eigenproblem on one
// machine and gives Fit's projection. A PartialGraph counts co-occurrences
// of a shard of sequences (CoOccurrences emits the weighted pairs one by
// one) and merges into BuildGraph's graph. Column standardization needs the
// global deviations: Options.Standardize applies it at fit time (in Fit and
// FitStats alike).
//
// Files: options.go (Options, Solver, TVKind), fit.go (Fit, the Projection
// and its report), problem.go (the eigenproblem and its operators),
// randomized.go and krylov.go (the iterative solvers), lambda.go (the λ
// search for TargetVariance), irls.go (ℓ1 total variation by reweighting),
// accumulator.go and fitstats.go (the distributed path).
package recpca
