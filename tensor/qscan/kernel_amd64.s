//go:build amd64 && !purego

#include "textflag.h"

// Item codes are signed bytes (|c| ≤ 127), query codes unsigned (offset
// by 32, at most 63), so VPMADDUBSW's pair sums (at most 2·63·127) never
// saturate and two of them still fit an int16; VPMADDWD with ones widens
// them to int32 sums of eight products.

// func scan1AVX2(codes *int8, nb, kq int, qb *uint8, sum64 *int32, scale, half *float32, gterm, thr float32, mask *uint8)
TEXT ·scan1AVX2(SB), NOSPLIT, $0-72
	MOVQ codes+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ kq+16(FP), DX
	MOVQ qb+24(FP), R8
	MOVQ sum64+32(FP), R9
	MOVQ scale+40(FP), R10
	MOVQ half+48(FP), R11
	MOVQ mask+64(FP), DI
	MOVL $0x00010001, AX
	MOVQ AX, X5
	VPBROADCASTD X5, Y5

group1:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	MOVQ R8, R14
	MOVQ DX, R15

k1:
	// two steps of the group: 256 sequential bytes, blocks 0..3 of step
	// k then of step k+1. Prefetch the group after next: the loads of
	// this loop wait on its arithmetic, so they alone keep too few lines
	// in flight.
	PREFETCHT0 4096(SI)
	PREFETCHT0 4160(SI)
	PREFETCHT0 4224(SI)
	PREFETCHT0 4288(SI)
	VPBROADCASTD (R14), Y4
	VPBROADCASTD 4(R14), Y14
	VPMADDUBSW (SI), Y4, Y6
	VPMADDUBSW 32(SI), Y4, Y7
	VPMADDUBSW 64(SI), Y4, Y8
	VPMADDUBSW 96(SI), Y4, Y9
	VPMADDUBSW 128(SI), Y14, Y10
	VPMADDUBSW 160(SI), Y14, Y11
	VPMADDUBSW 192(SI), Y14, Y12
	VPMADDUBSW 224(SI), Y14, Y13
	// two steps' pair sums fit int16 (query codes at most 63)
	VPADDW Y10, Y6, Y6
	VPADDW Y11, Y7, Y7
	VPADDW Y12, Y8, Y8
	VPADDW Y13, Y9, Y9
	VPMADDWD Y5, Y6, Y6
	VPMADDWD Y5, Y7, Y7
	VPMADDWD Y5, Y8, Y8
	VPMADDWD Y5, Y9, Y9
	VPADDD Y6, Y0, Y0
	VPADDD Y7, Y1, Y1
	VPADDD Y8, Y2, Y2
	VPADDD Y9, Y3, Y3
	ADDQ $256, SI
	ADDQ $8, R14
	SUBQ $2, R15
	JNZ  k1

#define BOUND1(acc, off, moff) \
	VPSUBD off(R9), acc, acc \
	VCVTDQ2PS acc, acc \
	VBROADCASTSS gterm+56(FP), Y10 \
	VADDPS Y10, acc, acc \
	VMOVUPS off(R11), Y6 \
	VFMADD231PS off(R10), acc, Y6 \
	VBROADCASTSS thr+60(FP), Y11 \
	VCMPPS $0x1d, Y11, Y6, Y6 \
	VMOVMSKPS Y6, AX \
	MOVB AX, moff(DI)

	BOUND1(Y0, 0, 0)
	BOUND1(Y1, 32, 1)
	BOUND1(Y2, 64, 2)
	BOUND1(Y3, 96, 3)

	ADDQ $128, R9
	ADDQ $128, R10
	ADDQ $128, R11
	ADDQ $4, DI
	SUBQ $4, CX
	JNZ  group1
	VZEROUPPER
	RET

// func scan4AVX2(codes *int8, nb, kq int, qb *uint8, sum64 *int32, scale, half, gterm, thr *float32, mask *uint8, ms int)
TEXT ·scan4AVX2(SB), NOSPLIT, $0-88
	MOVQ codes+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ kq+16(FP), DX
	MOVQ sum64+32(FP), R9
	MOVQ scale+40(FP), R10
	MOVQ half+48(FP), R11
	MOVQ mask+72(FP), DI
	MOVL $0x00010001, AX
	MOVQ AX, X12
	VPBROADCASTD X12, Y12
	MOVQ DX, BX
	SHLQ $7, BX             // one group: 128·kq bytes
	MOVQ DX, AX
	SHLQ $2, AX             // one query: 4·kq bytes

pair4:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	MOVQ SI, R12
	MOVQ qb+24(FP), R14
	LEAQ (R14)(AX*2), R13
	MOVQ DX, R15

k4:
	// the pair's two blocks at steps k and k+1 (a group's step is 128
	// bytes, the pair's 64 of them)
	VMOVDQU (R12), Y8
	VMOVDQU 32(R12), Y14
	VMOVDQU 128(R12), Y9
	VMOVDQU 160(R12), Y15

#define USER4(q0, q1, a0, a1) \
	VPBROADCASTD q0, Y10 \
	VPMADDUBSW Y8, Y10, Y11 \
	VPMADDUBSW Y14, Y10, Y13 \
	VPBROADCASTD q1, Y10 \
	VPMADDUBSW Y9, Y10, Y10 \
	VPADDW Y10, Y11, Y11 \
	VPBROADCASTD q1, Y10 \
	VPMADDUBSW Y15, Y10, Y10 \
	VPADDW Y10, Y13, Y13 \
	VPMADDWD Y12, Y11, Y11 \
	VPMADDWD Y12, Y13, Y13 \
	VPADDD Y11, a0, a0 \
	VPADDD Y13, a1, a1

	USER4((R14), 4(R14), Y0, Y1)
	USER4((R14)(AX*1), 4(R14)(AX*1), Y2, Y3)
	USER4((R13), 4(R13), Y4, Y5)
	USER4((R13)(AX*1), 4(R13)(AX*1), Y6, Y7)
	ADDQ $256, R12
	ADDQ $8, R14
	ADDQ $8, R13
	SUBQ $2, R15
	JNZ  k4

	// bounds: block j's terms in Y8 (sum64), Y9 (scale), Y10 (half)
	MOVQ gterm+56(FP), R14
	MOVQ thr+64(FP), R13
	MOVQ ms+80(FP), R15

#define BOUND4(acc, uoff, moff) \
	VPSUBD Y8, acc, acc \
	VCVTDQ2PS acc, acc \
	VBROADCASTSS uoff(R14), Y11 \
	VADDPS Y11, acc, acc \
	VMOVAPS Y10, Y13 \
	VFMADD231PS Y9, acc, Y13 \
	VBROADCASTSS uoff(R13), Y11 \
	VCMPPS $0x1d, Y11, Y13, Y13 \
	VMOVMSKPS Y13, R8 \
	MOVB R8, moff

	VMOVDQU (R9), Y8
	VMOVUPS (R10), Y9
	VMOVUPS (R11), Y10
	MOVQ DI, R12
	BOUND4(Y0, 0, (R12))
	BOUND4(Y2, 4, (R12)(R15*1))
	LEAQ (R12)(R15*2), R12
	BOUND4(Y4, 8, (R12))
	BOUND4(Y6, 12, (R12)(R15*1))
	VMOVDQU 32(R9), Y8
	VMOVUPS 32(R10), Y9
	VMOVUPS 32(R11), Y10
	MOVQ DI, R12
	BOUND4(Y1, 0, 1(R12))
	BOUND4(Y3, 4, 1(R12)(R15*1))
	LEAQ (R12)(R15*2), R12
	BOUND4(Y5, 8, 1(R12))
	BOUND4(Y7, 12, 1(R12)(R15*1))

	// the next pair: the group's second (64 bytes on) or the next group
	TESTQ $2, CX
	JNZ   second4
	ADDQ  $64, SI
	JMP   next4

second4:
	LEAQ -64(SI)(BX*1), SI

next4:
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $2, DI
	SUBQ $2, CX
	JNZ  pair4
	VZEROUPPER
	RET

// func streamAVX2(p *int8, n int) uint64
TEXT ·streamAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3

stream:
	VPOR (SI), Y0, Y0
	VPOR 32(SI), Y1, Y1
	VPOR 64(SI), Y2, Y2
	VPOR 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $128, CX
	JNZ  stream
	VPOR Y1, Y0, Y0
	VPOR Y3, Y2, Y2
	VPOR Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPOR X1, X0, X0
	VMOVQ X0, AX
	VPEXTRQ $1, X0, BX
	ORQ BX, AX
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET
