// Package tensor provides dense row-major float32 tensors and the kernels a
// transformer recommender needs: GEMM (batched, with transposes; Gemm64 for float64), broadcasting
// elementwise ops, masked softmax and log-softmax, layer normalization,
// activations, row gather/scatter-add, and reductions.
//
// Kernels follow gonum's destination style: the caller passes the destination
// and an empty destination (&Tensor{}) sizes itself, so hot loops can reuse
// buffers and allocate nothing. Shape mismatches are programming errors and
// panic with an error wrapping ErrShape that names the shapes.
//
//	a := tensor.New(2, 3)
//	b := tensor.New(3, 4)
//	c := tensor.MatMul(&tensor.Tensor{}, a, b, false, false) // 2 x 4
//
// # GEMM
//
// Gemm (and MatMul/MatMulAdd on top of it) is a packed, cache-blocked matrix
// product in the BLIS style: panels of op(A) and op(B) are copied into
// contiguous slivers (which is also how the four transpose combinations and
// edges that do not fill a tile are handled: zero-padded packs), and a
// register-blocked micro-kernel multiplies them. On amd64 the micro-kernel
// is chosen at run time from the CPU's extensions (golang.org/x/sys/cpu): a
// 6x32 assembly kernel on AVX-512F, a 6x16 one on AVX2 and FMA; elsewhere,
// or when built with the purego tag (go build -tags purego), a 4x4 pure-Go
// kernel runs instead. No cgo. The last columns of a product, when they
// fill at most half a tile, go to a half-width assembly kernel rather than
// to the full one on zero padding.
//
// Gemm64 is the same product on float64 (one driver, generic over the
// element type), for numerical code that needs double precision (Gram
// matrices and projections of PCA, say): an AVX-512F 6x16 kernel when the
// CPU has AVX-512F, an AVX2+FMA 6x8 one otherwise, the 4x4 Go kernel as the
// fallback.
//
// GemmUpper64 forms only the upper triangle of a square float64 product
// (Gram matrices XᵀX and Xᵀ·(L·X) summed over row chunks): half the work,
// each operand packed once per cache block, the triangle split into row
// bands of equal work.
//
// A product that reuses one large left operand with many right-hand sides
// (an iterative eigensolver's X·V, say) can pack it once with PackA and
// multiply with GemmPackedA, which skips the repacking Gemm does on every
// call; ColRange selects a range of k for chunked sums.
//
// # Softmax cross-entropy of a linear layer
//
// LinearCrossEntropy is the output layer of a model trained with full
// softmax cross-entropy over many classes (a recommender's whole catalog):
// the loss of z = h·wᵀ and both gradients, without the m x n logits ever
// existing. Per chunk of rows it computes the logits in 6 x 24 tiles (with
// the rows' running maxima in the kernel's epilogue), exponentiates them in
// place and runs both gradient products straight from the tiles, with no
// packing of the exponentials; the class table is packed once per call.
// The kernels are AVX2+FMA assembly on amd64 and Go loops elsewhere.
//
// Packing buffers are recycled through a sync.Pool, so steady-state calls
// allocate nothing. A product of at least 2^21 multiply-adds is split into
// blocks of C over GOMAXPROCS goroutines, and a batched MatMul of small
// products (attention scores, say) is shared out by batch entries; smaller
// work stays on the calling goroutine.
//
// # Concurrency
//
// Kernels keep no state between calls: any number of goroutines may call
// them at once as long as their destinations are distinct and nobody writes
// their inputs. Gemm in particular is safe for concurrent use on distinct
// destinations.
package tensor
