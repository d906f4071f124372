//go:build amd64 && !purego

#include "textflag.h"

// The constants of exp32 in exp.go, as float32 bit patterns.
DATA expConsts<>+0(SB)/4, $0x3fb8aa3b  // log2e
DATA expConsts<>+4(SB)/4, $0x3f318000  // ln2 high part
DATA expConsts<>+8(SB)/4, $0xb95e8083  // ln2 low part
DATA expConsts<>+12(SB)/4, $0xc2aeac4f // lo: below, the result is 0
DATA expConsts<>+16(SB)/4, $0x42b17217 // hi: above, the result is +Inf
DATA expConsts<>+20(SB)/4, $0x39506967 // c0
DATA expConsts<>+24(SB)/4, $0x3ab743ce // c1
DATA expConsts<>+28(SB)/4, $0x3c088908 // c2
DATA expConsts<>+32(SB)/4, $0x3d2aa9c1 // c3
DATA expConsts<>+36(SB)/4, $0x3e2aaaaa // c4
DATA expConsts<>+40(SB)/4, $0x3f000000 // c5
DATA expConsts<>+44(SB)/4, $0x3f800000 // 1
DATA expConsts<>+48(SB)/4, $0x7f800000 // +Inf
GLOBL expConsts<>(SB), RODATA|NOPTR, $52

// func expSumAVX2(dst, src *float32, n int, shift float32) float64
//
// Eight lanes at a time: x = src − shift; lanes below lo become 0 and lanes
// above hi +Inf (x is clamped to [lo, hi] for the arithmetic, NaN passes
// through); n = round(x·log2e); r = x − n·ln2 in two parts; p = 1 + r +
// r²·P(r); the result is p with n added to its exponent bits. The results
// are summed in two float64 accumulators.
//
// Registers: Y15 shift, Y12..Y8 log2e, ln2hi, ln2lo, lo, hi; Y14, Y13 the
// sums; Y0..Y7 scratch.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y15
	VBROADCASTSS expConsts<>+0(SB), Y12
	VBROADCASTSS expConsts<>+4(SB), Y11
	VBROADCASTSS expConsts<>+8(SB), Y10
	VBROADCASTSS expConsts<>+12(SB), Y9
	VBROADCASTSS expConsts<>+16(SB), Y8
	VXORPD Y14, Y14, Y14
	VXORPD Y13, Y13, Y13

loop:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0           // x
	VCMPPS $1, Y9, Y0, Y1        // x < lo
	VCMPPS $0x0e, Y8, Y0, Y2     // x > hi
	VMAXPS Y0, Y9, Y0            // clamp, keeping NaN
	VMINPS Y0, Y8, Y0
	VMULPS Y12, Y0, Y3
	VROUNDPS $0, Y3, Y3          // n, to nearest even
	VMOVAPS Y0, Y4
	VFNMADD231PS Y11, Y3, Y4     // r = x − n·ln2hi
	VFNMADD231PS Y10, Y3, Y4     // r −= n·ln2lo
	VBROADCASTSS expConsts<>+20(SB), Y5
	VBROADCASTSS expConsts<>+24(SB), Y6
	VFMADD213PS Y6, Y4, Y5       // p = p·r + c1
	VBROADCASTSS expConsts<>+28(SB), Y6
	VFMADD213PS Y6, Y4, Y5
	VBROADCASTSS expConsts<>+32(SB), Y6
	VFMADD213PS Y6, Y4, Y5
	VBROADCASTSS expConsts<>+36(SB), Y6
	VFMADD213PS Y6, Y4, Y5
	VBROADCASTSS expConsts<>+40(SB), Y6
	VFMADD213PS Y6, Y4, Y5
	VMULPS Y4, Y4, Y6            // r²
	VFMADD213PS Y4, Y6, Y5       // p·r² + r
	VBROADCASTSS expConsts<>+44(SB), Y6
	VADDPS Y6, Y5, Y5            // + 1
	VCVTPS2DQ Y3, Y3
	VPSLLD $23, Y3, Y3
	VPADDD Y3, Y5, Y5            // · 2^n
	VANDNPS Y5, Y1, Y5           // 0 below lo
	VBROADCASTSS expConsts<>+48(SB), Y6
	VBLENDVPS Y2, Y6, Y5, Y5     // +Inf above hi
	VMOVUPS Y5, (DI)
	VCVTPS2PD X5, Y6
	VEXTRACTF128 $1, Y5, X7
	VCVTPS2PD X7, Y7
	VADDPD Y6, Y14, Y14
	VADDPD Y7, Y13, Y13
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ loop

	VADDPD Y13, Y14, Y14
	VEXTRACTF128 $1, Y14, X13
	VADDPD X13, X14, X14
	VHADDPD X14, X14, X14
	VZEROUPPER
	MOVSD X14, ret+32(FP)
	RET
