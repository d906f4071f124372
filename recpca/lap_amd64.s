//go:build amd64 && !purego

#include "textflag.h"

// func subRows4AVX2(out *float64, x0, x1, x2, x3 *float32, w *[4]float64, n int, p0, p1, p2, p3 *float32)
//
// Eight columns per step (two lanes of four float64): s = w0·x0 + w1·x1 +
// w2·x2 + w3·x3 (VCVTPS2PD widens four float32 to float64), out −= s; then
// one step of four columns when n is not a multiple of 8. Every step also
// prefetches the same columns of the rows p0..p3 (the next call's rows:
// the rows are scattered, and waiting for each one's first lines was half
// the time on Beauty).
//
// Registers: Y0..Y3 the weights; Y4, Y5 the sums; Y6, Y7 scratch; AX, SI,
// R12, R13 the rows to prefetch.
TEXT ·subRows4AVX2(SB), NOSPLIT, $0-88
	MOVQ out+0(FP), DI
	MOVQ x0+8(FP), R8
	MOVQ x1+16(FP), R9
	MOVQ x2+24(FP), R10
	MOVQ x3+32(FP), R11
	MOVQ w+40(FP), AX
	MOVQ n+48(FP), CX
	VBROADCASTSD 0(AX), Y0
	VBROADCASTSD 8(AX), Y1
	VBROADCASTSD 16(AX), Y2
	VBROADCASTSD 24(AX), Y3
	MOVQ p0+56(FP), AX
	MOVQ p1+64(FP), SI
	MOVQ p2+72(FP), R12
	MOVQ p3+80(FP), R13
	XORQ BX, BX

loop8:
	LEAQ 8(BX), DX
	CMPQ DX, CX
	JGT  tail4
	PREFETCHT0 (AX)(BX*4)
	PREFETCHT0 (SI)(BX*4)
	PREFETCHT0 (R12)(BX*4)
	PREFETCHT0 (R13)(BX*4)
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD 16(R8)(BX*4), Y5
	VMULPD    Y0, Y4, Y4
	VMULPD    Y0, Y5, Y5
	VCVTPS2PD (R9)(BX*4), Y6
	VCVTPS2PD 16(R9)(BX*4), Y7
	VFMADD231PD Y6, Y1, Y4
	VFMADD231PD Y7, Y1, Y5
	VCVTPS2PD (R10)(BX*4), Y6
	VCVTPS2PD 16(R10)(BX*4), Y7
	VFMADD231PD Y6, Y2, Y4
	VFMADD231PD Y7, Y2, Y5
	VCVTPS2PD (R11)(BX*4), Y6
	VCVTPS2PD 16(R11)(BX*4), Y7
	VFMADD231PD Y6, Y3, Y4
	VFMADD231PD Y7, Y3, Y5
	VMOVUPD   (DI)(BX*8), Y6
	VMOVUPD   32(DI)(BX*8), Y7
	VSUBPD    Y4, Y6, Y6
	VSUBPD    Y5, Y7, Y7
	VMOVUPD   Y6, (DI)(BX*8)
	VMOVUPD   Y7, 32(DI)(BX*8)
	MOVQ      DX, BX
	JMP       loop8

tail4:
	CMPQ BX, CX
	JGE  done4
	VCVTPS2PD (R8)(BX*4), Y4
	VMULPD    Y0, Y4, Y4
	VCVTPS2PD (R9)(BX*4), Y6
	VFMADD231PD Y6, Y1, Y4
	VCVTPS2PD (R10)(BX*4), Y6
	VFMADD231PD Y6, Y2, Y4
	VCVTPS2PD (R11)(BX*4), Y6
	VFMADD231PD Y6, Y3, Y4
	VMOVUPD   (DI)(BX*8), Y6
	VSUBPD    Y4, Y6, Y6
	VMOVUPD   Y6, (DI)(BX*8)

done4:
	VZEROUPPER
	RET

// func subRow1AVX2(out *float64, x0 *float32, w float64, n int)
//
// out −= w·x0, eight columns per step, then one step of four when n is not
// a multiple of 8. Registers: Y0 the weight; Y4..Y7 scratch.
TEXT ·subRow1AVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x0+8(FP), R8
	VBROADCASTSD w+16(FP), Y0
	MOVQ n+24(FP), CX
	XORQ BX, BX

loop1:
	LEAQ 8(BX), DX
	CMPQ DX, CX
	JGT  tail1
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD 16(R8)(BX*4), Y5
	VMOVUPD   (DI)(BX*8), Y6
	VMOVUPD   32(DI)(BX*8), Y7
	VFNMADD231PD Y4, Y0, Y6
	VFNMADD231PD Y5, Y0, Y7
	VMOVUPD   Y6, (DI)(BX*8)
	VMOVUPD   Y7, 32(DI)(BX*8)
	MOVQ      DX, BX
	JMP       loop1

tail1:
	CMPQ BX, CX
	JGE  done1
	VCVTPS2PD (R8)(BX*4), Y4
	VMOVUPD   (DI)(BX*8), Y6
	VFNMADD231PD Y4, Y0, Y6
	VMOVUPD   Y6, (DI)(BX*8)

done1:
	VZEROUPPER
	RET

// func sqDiffAVX2(x, y *float32, n int, a, b float64) float64
//
// Σ_c (a·x[c] − b·y[c])² for c < n (n a positive multiple of 4), the
// float32 rows widened to float64; eight columns per step into two
// accumulators, then one step of four. Registers: Y0 a, Y1 b; Y2, Y3 the
// sums; Y4..Y7 scratch.
TEXT ·sqDiffAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), R8
	MOVQ y+8(FP), R9
	MOVQ n+16(FP), CX
	VBROADCASTSD a+24(FP), Y0
	VBROADCASTSD b+32(FP), Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ BX, BX

sqloop8:
	LEAQ 8(BX), DX
	CMPQ DX, CX
	JGT  sqtail4
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD 16(R8)(BX*4), Y5
	VCVTPS2PD (R9)(BX*4), Y6
	VCVTPS2PD 16(R9)(BX*4), Y7
	VMULPD    Y0, Y4, Y4
	VMULPD    Y0, Y5, Y5
	VFNMADD231PD Y6, Y1, Y4
	VFNMADD231PD Y7, Y1, Y5
	VFMADD231PD Y4, Y4, Y2
	VFMADD231PD Y5, Y5, Y3
	MOVQ      DX, BX
	JMP       sqloop8

sqtail4:
	CMPQ BX, CX
	JGE  sqdone
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD (R9)(BX*4), Y6
	VMULPD    Y0, Y4, Y4
	VFNMADD231PD Y6, Y1, Y4
	VFMADD231PD Y4, Y4, Y2

sqdone:
	VADDPD       Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VADDPD       X3, X2, X2
	VHADDPD      X2, X2, X2
	MOVSD        X2, ret+40(FP)
	VZEROUPPER
	RET

// func sqDiffMuAVX2(x, y *float32, mu *float64, n int, a, b, em float64) float64
//
// Σ_c (a·x[c] − b·y[c] − em·mu[c])² for c < n (n a positive multiple of
// 4), as sqDiffAVX2. Registers: Y0 a, Y1 b, Y8 em; Y2, Y3 the sums; Y4..Y7
// scratch.
TEXT ·sqDiffMuAVX2(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), R8
	MOVQ y+8(FP), R9
	MOVQ mu+16(FP), R10
	MOVQ n+24(FP), CX
	VBROADCASTSD a+32(FP), Y0
	VBROADCASTSD b+40(FP), Y1
	VBROADCASTSD em+48(FP), Y8
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ BX, BX

muloop8:
	LEAQ 8(BX), DX
	CMPQ DX, CX
	JGT  mutail4
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD 16(R8)(BX*4), Y5
	VCVTPS2PD (R9)(BX*4), Y6
	VCVTPS2PD 16(R9)(BX*4), Y7
	VMULPD    Y0, Y4, Y4
	VMULPD    Y0, Y5, Y5
	VFNMADD231PD Y6, Y1, Y4
	VFNMADD231PD Y7, Y1, Y5
	VMOVUPD   (R10)(BX*8), Y6
	VMOVUPD   32(R10)(BX*8), Y7
	VFNMADD231PD Y6, Y8, Y4
	VFNMADD231PD Y7, Y8, Y5
	VFMADD231PD Y4, Y4, Y2
	VFMADD231PD Y5, Y5, Y3
	MOVQ      DX, BX
	JMP       muloop8

mutail4:
	CMPQ BX, CX
	JGE  mudone
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD (R9)(BX*4), Y6
	VMULPD    Y0, Y4, Y4
	VFNMADD231PD Y6, Y1, Y4
	VMOVUPD   (R10)(BX*8), Y6
	VFNMADD231PD Y6, Y8, Y4
	VFMADD231PD Y4, Y4, Y2

mudone:
	VADDPD       Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VADDPD       X3, X2, X2
	VHADDPD      X2, X2, X2
	MOVSD        X2, ret+56(FP)
	VZEROUPPER
	RET

// func widenAVX2(out *float64, x *float32, mu *float64, n int, s float64)
//
// out[c] = float64(x[c])·s − mu[c] for c < n (n a positive multiple of 4;
// mu nil: no subtraction), rounded as the Go expression is (a product, then
// a difference), eight columns per step, then one step of four. Registers:
// Y0 s; Y4..Y7 scratch.
TEXT ·widenAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), R8
	MOVQ mu+16(FP), R10
	MOVQ n+24(FP), CX
	VBROADCASTSD s+32(FP), Y0
	XORQ BX, BX
	TESTQ R10, R10
	JEQ  wloop8

wmloop8:
	LEAQ 8(BX), DX
	CMPQ DX, CX
	JGT  wmtail4
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD 16(R8)(BX*4), Y5
	VMULPD    Y0, Y4, Y4
	VMULPD    Y0, Y5, Y5
	VSUBPD    (R10)(BX*8), Y4, Y4
	VSUBPD    32(R10)(BX*8), Y5, Y5
	VMOVUPD   Y4, (DI)(BX*8)
	VMOVUPD   Y5, 32(DI)(BX*8)
	MOVQ      DX, BX
	JMP       wmloop8

wmtail4:
	CMPQ BX, CX
	JGE  wdone
	VCVTPS2PD (R8)(BX*4), Y4
	VMULPD    Y0, Y4, Y4
	VSUBPD    (R10)(BX*8), Y4, Y4
	VMOVUPD   Y4, (DI)(BX*8)
	JMP       wdone

wloop8:
	LEAQ 8(BX), DX
	CMPQ DX, CX
	JGT  wtail4
	VCVTPS2PD (R8)(BX*4), Y4
	VCVTPS2PD 16(R8)(BX*4), Y5
	VMULPD    Y0, Y4, Y4
	VMULPD    Y0, Y5, Y5
	VMOVUPD   Y4, (DI)(BX*8)
	VMOVUPD   Y5, 32(DI)(BX*8)
	MOVQ      DX, BX
	JMP       wloop8

wtail4:
	CMPQ BX, CX
	JGE  wdone
	VCVTPS2PD (R8)(BX*4), Y4
	VMULPD    Y0, Y4, Y4
	VMOVUPD   Y4, (DI)(BX*8)

wdone:
	VZEROUPPER
	RET
