package tensor

import "fmt"

// Gemm computes C = alpha·op(A)·op(B) + beta·C on row-major float32 matrices,
// with the BLAS sgemm contract: op(A) is m x k, op(B) is k x n, C is m x n;
// lda, ldb and ldc are the row strides of A, B and C as stored (A is m x k
// when !transA and k x m when transA). When beta is 0, C is overwritten and
// its old contents (even NaN) are ignored.
//
// It dispatches to the fastest kernel available on this CPU.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	gemmNaive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if m < 0 || n < 0 || k < 0 || lda < max(ac, 1) || ldb < max(bc, 1) || ldc < max(n, 1) {
		panic(fmt.Errorf("%w: Gemm m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", ErrShape, m, n, k, lda, ldb, ldc))
	}
	if (ar > 0 && len(a) < (ar-1)*lda+ac) || (br > 0 && len(b) < (br-1)*ldb+bc) || (m > 0 && len(c) < (m-1)*ldc+n) {
		panic(fmt.Errorf("%w: Gemm slices too short for m=%d n=%d k=%d", ErrShape, m, n, k))
	}
}

// gemmNaive is the portable reference kernel.
func gemmNaive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(crow)
		} else if beta != 1 {
			for j := range crow {
				crow[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if av == 0 {
				continue
			}
			if transB {
				for j := 0; j < n; j++ {
					crow[j] += av * b[j*ldb+p]
				}
			} else {
				brow := b[p*ldb : p*ldb+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
		}
	}
}

// MatMul computes dst = op(a)·op(b) for 2-D or batched operands. a is
// [..., m, k] (or [..., k, m] when transA); b is either 2-D (shared by every
// batch) or has the same leading dimensions as a. dst is [..., m, n]; an empty
// dst sizes itself. It returns dst.
func MatMul(dst, a, b *Tensor, transA, transB bool) *Tensor {
	return MatMulAdd(dst, a, b, transA, transB, 1, 0)
}

// MatMulAdd computes dst = alpha·op(a)·op(b) + beta·dst with the operand rules
// of MatMul. With beta = 1 it accumulates, as gradient code needs.
func MatMulAdd(dst, a, b *Tensor, transA, transB bool, alpha, beta float32) *Tensor {
	if a.Dims() < 2 || b.Dims() < 2 {
		panic(fmt.Errorf("%w: MatMul needs matrices, got %v and %v", ErrShape, a.Shape, b.Shape))
	}
	ar, ac := a.Shape[a.Dims()-2], a.Shape[a.Dims()-1]
	br, bc := b.Shape[b.Dims()-2], b.Shape[b.Dims()-1]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	lead := a.Shape[:a.Dims()-2]
	batch := numel(lead)
	bBatched := b.Dims() > 2
	if kb != k || (bBatched && !SameShape(lead, b.Shape[:b.Dims()-2])) {
		panic(fmt.Errorf("%w: MatMul %v x %v (transA=%v transB=%v)", ErrShape, a.Shape, b.Shape, transA, transB))
	}
	outShape := append(append(make([]int, 0, len(lead)+2), lead...), m, n)
	dst.Ensure(outShape...)
	sa, sb, sc := ar*ac, br*bc, m*n
	for i := 0; i < batch; i++ {
		bo := 0
		if bBatched {
			bo = i * sb
		}
		Gemm(transA, transB, m, n, k, alpha, a.Data[i*sa:(i+1)*sa], ac, b.Data[bo:bo+sb], bc, beta, dst.Data[i*sc:(i+1)*sc], n)
	}
	return dst
}
