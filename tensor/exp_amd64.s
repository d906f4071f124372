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

// EXPROW exponentiates row i of the tile at SI (three vectors, shift at
// i·32(DX)) and adds their sum, in float64, into the float64 at i·8(DI).
#define EXPROW(i) \
	EXPV(i*96, i*32, Y1); \
	EXPV(i*96+32, i*32, Y4); \
	EXPV(i*96+64, i*32, Y5); \
	VADDPS Y4, Y1, Y1; \
	VADDPS Y5, Y1, Y1; \
	VEXTRACTF128 $1, Y1, X6; \
	VADDPS X6, X1, X1; \
	VCVTPS2PD X1, Y6; \
	VEXTRACTF128 $1, Y6, X7; \
	VADDPD X7, X6, X6; \
	VHADDPD X6, X6, X6; \
	VADDSD (i*8)(DI), X6, X6; \
	VMOVSD X6, (i*8)(DI)

// func expTilesAVX2(z *float32, ntiles int, shift *float32, sums *float64)
//
// In place, the six rows of ntiles >= 1 adjacent tiles of 6 x 24 logits
// (576 bytes each, row i at 96·i bytes into a tile): row i of tile t
// becomes exp(z − s) with s the eight equal floats at shift + (6t+i)·32
// bytes (at least every element of the row), and their sum is added to
// sums[6t+i]. The tiles are read in memory order (a column of the fused
// cross-entropy's tiles, one per row block).
//
// Registers: Y9 lo, Y12 log2e; SI the tile, DX its shifts, DI its sums.
TEXT ·expTilesAVX2(SB), NOSPLIT, $0-32
	MOVQ z+0(FP), SI
	MOVQ ntiles+8(FP), CX
	MOVQ shift+16(FP), DX
	MOVQ sums+24(FP), DI
	VMOVUPS expConsts<>+96(SB), Y9
	VMOVUPS expConsts<>+0(SB), Y12

etiles:
	EXPROW(0)
	EXPROW(1)
	EXPROW(2)
	EXPROW(3)
	EXPROW(4)
	EXPROW(5)
	ADDQ $576, SI
	ADDQ $192, DX
	ADDQ $48, DI
	DECQ CX
	JNZ etiles
	VZEROUPPER
	RET
