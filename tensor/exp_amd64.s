//go:build amd64 && !purego

#include "textflag.h"
#include "exp_amd64.h"

// The constants of exp32 in exp.go, as float32 bit patterns, each in eight
// lanes (32 bytes): the kernels broadcast the first or load all eight as a
// memory operand.
DATA expConsts<>+0(SB)/8, $0x3fb8aa3b3fb8aa3b // log2e
DATA expConsts<>+8(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expConsts<>+16(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expConsts<>+24(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expConsts<>+32(SB)/8, $0x3f3180003f318000 // ln2 high part
DATA expConsts<>+40(SB)/8, $0x3f3180003f318000
DATA expConsts<>+48(SB)/8, $0x3f3180003f318000
DATA expConsts<>+56(SB)/8, $0x3f3180003f318000
DATA expConsts<>+64(SB)/8, $0xb95e8083b95e8083 // ln2 low part
DATA expConsts<>+72(SB)/8, $0xb95e8083b95e8083
DATA expConsts<>+80(SB)/8, $0xb95e8083b95e8083
DATA expConsts<>+88(SB)/8, $0xb95e8083b95e8083
DATA expConsts<>+96(SB)/8, $0xc2aeac4fc2aeac4f // lo: below, the result is 0
DATA expConsts<>+104(SB)/8, $0xc2aeac4fc2aeac4f
DATA expConsts<>+112(SB)/8, $0xc2aeac4fc2aeac4f
DATA expConsts<>+120(SB)/8, $0xc2aeac4fc2aeac4f
DATA expConsts<>+128(SB)/8, $0x42b1721742b17217 // hi: above, the result is +Inf
DATA expConsts<>+136(SB)/8, $0x42b1721742b17217
DATA expConsts<>+144(SB)/8, $0x42b1721742b17217
DATA expConsts<>+152(SB)/8, $0x42b1721742b17217
DATA expConsts<>+160(SB)/8, $0x3950696739506967 // c0
DATA expConsts<>+168(SB)/8, $0x3950696739506967
DATA expConsts<>+176(SB)/8, $0x3950696739506967
DATA expConsts<>+184(SB)/8, $0x3950696739506967
DATA expConsts<>+192(SB)/8, $0x3ab743ce3ab743ce // c1
DATA expConsts<>+200(SB)/8, $0x3ab743ce3ab743ce
DATA expConsts<>+208(SB)/8, $0x3ab743ce3ab743ce
DATA expConsts<>+216(SB)/8, $0x3ab743ce3ab743ce
DATA expConsts<>+224(SB)/8, $0x3c0889083c088908 // c2
DATA expConsts<>+232(SB)/8, $0x3c0889083c088908
DATA expConsts<>+240(SB)/8, $0x3c0889083c088908
DATA expConsts<>+248(SB)/8, $0x3c0889083c088908
DATA expConsts<>+256(SB)/8, $0x3d2aa9c13d2aa9c1 // c3
DATA expConsts<>+264(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expConsts<>+272(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expConsts<>+280(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expConsts<>+288(SB)/8, $0x3e2aaaaa3e2aaaaa // c4
DATA expConsts<>+296(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expConsts<>+304(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expConsts<>+312(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expConsts<>+320(SB)/8, $0x3f0000003f000000 // c5
DATA expConsts<>+328(SB)/8, $0x3f0000003f000000
DATA expConsts<>+336(SB)/8, $0x3f0000003f000000
DATA expConsts<>+344(SB)/8, $0x3f0000003f000000
DATA expConsts<>+352(SB)/8, $0x3f8000003f800000 // 1
DATA expConsts<>+360(SB)/8, $0x3f8000003f800000
DATA expConsts<>+368(SB)/8, $0x3f8000003f800000
DATA expConsts<>+376(SB)/8, $0x3f8000003f800000
DATA expConsts<>+384(SB)/8, $0x7f8000007f800000 // +Inf
DATA expConsts<>+392(SB)/8, $0x7f8000007f800000
DATA expConsts<>+400(SB)/8, $0x7f8000007f800000
DATA expConsts<>+408(SB)/8, $0x7f8000007f800000
GLOBL expConsts<>(SB), RODATA|NOPTR, $416

// func expSumAVX2(dst, src *float32, n int, shift float32) float64
//
// Eight lanes at a time (EXPSUM8 in exp_amd64.h), summed in two float64
// accumulators.
//
// Registers: Y15 shift, Y12..Y8 constants, Y14, Y13 the sums; Y0..Y7
// scratch.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y15
	EXP_CONSTS
	VXORPD Y14, Y14, Y14
	VXORPD Y13, Y13, Y13

loop:
	EXPSUM8(0)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ loop

	EXPSUM_END
	VZEROUPPER
	MOVSD X14, ret+32(FP)
	RET

// EXPV sets OUT to exp(x) with x = off(SI) − soff(DX) (x <= 0 or NaN: the
// shift is at least every element), stores it back at off(SI), with
// Y9 = lo and Y12 = log2e; Y0, Y2 and Y3 are scratch. x below lo is
// clamped to lo (exp ≈ 1.2e-38 instead of 0; NaN passes through), which
// spares ExpSum's two comparisons and blend.
#define EXPV(off, soff, OUT) \
	VMOVUPS off(SI), Y0; \
	VSUBPS soff(DX), Y0, Y0; \
	VMAXPS Y0, Y9, Y0; \
	VMULPS Y12, Y0, Y3; \
	VROUNDPS $0, Y3, Y3; \
	VFNMADD231PS expConsts<>+32(SB), Y3, Y0; \
	VFNMADD231PS expConsts<>+64(SB), Y3, Y0; \
	VMOVUPS expConsts<>+160(SB), OUT; \
	VFMADD213PS expConsts<>+192(SB), Y0, OUT; \
	VFMADD213PS expConsts<>+224(SB), Y0, OUT; \
	VFMADD213PS expConsts<>+256(SB), Y0, OUT; \
	VFMADD213PS expConsts<>+288(SB), Y0, OUT; \
	VFMADD213PS expConsts<>+320(SB), Y0, OUT; \
	VMULPS Y0, Y0, Y2; \
	VFMADD213PS Y0, Y2, OUT; \
	VADDPS expConsts<>+352(SB), OUT, OUT; \
	VCVTPS2DQ Y3, Y3; \
	VPSLLD $23, Y3, Y3; \
	VPADDD Y3, OUT, OUT; \
	VMOVUPS OUT, off(SI)

// EXPROW exponentiates row i of a tile (three vectors) and adds their sum,
// in float64, into SUM (XSUM its low half).
#define EXPROW(i, SUM) \
	EXPV(i*96, i*32, Y1); \
	EXPV(i*96+32, i*32, Y4); \
	EXPV(i*96+64, i*32, Y5); \
	VADDPS Y4, Y1, Y1; \
	VADDPS Y5, Y1, Y1; \
	VEXTRACTF128 $1, Y1, X6; \
	VADDPS X6, X1, X1; \
	VCVTPS2PD X1, Y6; \
	VADDPD Y6, SUM, SUM

// EXPSUM4 reduces the four float64 lanes of SUM (XSUM) into off(DI).
#define EXPSUM4(off, SUM, XSUM) \
	VEXTRACTF128 $1, SUM, X0; \
	VADDPD X0, XSUM, X0; \
	VHADDPD X0, X0, X0; \
	MOVSD X0, off(DI)

// func expTileRowsAVX2(z *float32, ntiles, ldt int, shift *float32, sums *float64)
//
// In place, the six rows of ntiles >= 1 tiles of 6 x 24 logits (tile t at
// z + t·ldt floats, row i at 24·i floats into it): row i becomes exp(z −
// shift_i), with shift_i the eight equal floats at shift + 8·i (at least
// every element of the row), and sums[i] their sum. The next tile is
// prefetched, as tiles are far apart.
//
// Registers: Y8, Y10, Y11, Y13, Y14, Y15 the sums, Y9 lo, Y12 log2e.
TEXT ·expTileRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), SI
	MOVQ ntiles+8(FP), CX
	MOVQ ldt+16(FP), BX
	SHLQ $2, BX
	MOVQ shift+24(FP), DX
	MOVQ sums+32(FP), DI
	VMOVUPS expConsts<>+96(SB), Y9
	VMOVUPS expConsts<>+0(SB), Y12
	VXORPD Y8, Y8, Y8
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14
	VXORPD Y15, Y15, Y15

rtiles:
	LEAQ (SI)(BX*1), R8
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	PREFETCHT0 128(R8)
	PREFETCHT0 192(R8)
	PREFETCHT0 256(R8)
	PREFETCHT0 320(R8)
	PREFETCHT0 384(R8)
	PREFETCHT0 448(R8)
	PREFETCHT0 512(R8)
	EXPROW(0, Y8)
	EXPROW(1, Y10)
	EXPROW(2, Y11)
	EXPROW(3, Y13)
	EXPROW(4, Y14)
	EXPROW(5, Y15)
	MOVQ R8, SI
	DECQ CX
	JNZ rtiles

	EXPSUM4(0, Y8, X8)
	EXPSUM4(8, Y10, X10)
	EXPSUM4(16, Y11, X11)
	EXPSUM4(24, Y13, X13)
	EXPSUM4(32, Y14, X14)
	EXPSUM4(40, Y15, X15)
	VZEROUPPER
	RET
