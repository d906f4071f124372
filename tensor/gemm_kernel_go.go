package tensor

// goKernel32 and goKernel64 are the portable micro-kernel: a 4x4 tile of C
// held in sixteen scalar accumulators, fed by packed slivers. It is what
// every CPU without an assembly kernel runs, and what the purego build tag
// forces.
var (
	goKernel32 = microKernel[float32]{name: "go-4x4", mr: 4, nr: 4, kc: gemmKC, mc: gemmMC, nc: gemmNC, fn: kernel4x4Go[float32]}
	goKernel64 = microKernel[float64]{name: "go-4x4", mr: 4, nr: 4, kc: gemmKC, mc: gemmMC, nc: gemmNC, fn: kernel4x4Go[float64]}
)

func kernel4x4Go[T float](kc int, a, b, c []T, ldc int, alpha, beta T) {
	a = a[:kc*4]
	b = b[:kc*4]
	var c00, c01, c02, c03 T
	var c10, c11, c12, c13 T
	var c20, c21, c22, c23 T
	var c30, c31, c32, c33 T
	for p := 0; p+4 <= len(a); p += 4 {
		ap := a[p : p+4 : p+4]
		bp := b[p : p+4 : p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0:4:4], alpha, beta, c00, c01, c02, c03)
	storeRow4(c[ldc:ldc+4:ldc+4], alpha, beta, c10, c11, c12, c13)
	storeRow4(c[2*ldc:2*ldc+4:2*ldc+4], alpha, beta, c20, c21, c22, c23)
	storeRow4(c[3*ldc:3*ldc+4:3*ldc+4], alpha, beta, c30, c31, c32, c33)
}

func storeRow4[T float](c []T, alpha, beta, v0, v1, v2, v3 T) {
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}
