// The float32 exponential of exp32 (exp.go) on eight lanes, shared by the
// amd64 kernels that exponentiate: ExpSum's and the fused cross-entropy's.
//
// EXP_CONSTS loads the constants the loop body keeps in registers: Y12..Y8
// log2e, ln2hi, ln2lo, lo, hi (the rest are broadcast from memory in the
// body). EXPSUM8(off) sets the eight floats at off(DI) to exp of the eight
// at off(SI) minus Y15 (the shift) and adds them, in float64, into Y14 and
// Y13: x = src − shift; lanes below lo become 0 and lanes above hi +Inf (x
// is clamped to [lo, hi] for the arithmetic, NaN passes through); n =
// round(x·log2e); r = x − n·ln2 in two parts; p = 1 + r + r²·P(r); the
// result is p with n added to its exponent bits. Y0..Y7 are scratch.
//
// The file that includes this one defines expConsts<> (exp_amd64.s).

#define EXP_CONSTS \
	VBROADCASTSS expConsts<>+0(SB), Y12; \
	VBROADCASTSS expConsts<>+32(SB), Y11; \
	VBROADCASTSS expConsts<>+64(SB), Y10; \
	VBROADCASTSS expConsts<>+96(SB), Y9; \
	VBROADCASTSS expConsts<>+128(SB), Y8

#define EXPSUM8(off) \
	VMOVUPS off(SI), Y0; \
	VSUBPS Y15, Y0, Y0; \
	VCMPPS $1, Y9, Y0, Y1; \
	VCMPPS $0x0e, Y8, Y0, Y2; \
	VMAXPS Y0, Y9, Y0; \
	VMINPS Y0, Y8, Y0; \
	VMULPS Y12, Y0, Y3; \
	VROUNDPS $0, Y3, Y3; \
	VMOVAPS Y0, Y4; \
	VFNMADD231PS Y11, Y3, Y4; \
	VFNMADD231PS Y10, Y3, Y4; \
	VBROADCASTSS expConsts<>+160(SB), Y5; \
	VBROADCASTSS expConsts<>+192(SB), Y6; \
	VFMADD213PS Y6, Y4, Y5; \
	VBROADCASTSS expConsts<>+224(SB), Y6; \
	VFMADD213PS Y6, Y4, Y5; \
	VBROADCASTSS expConsts<>+256(SB), Y6; \
	VFMADD213PS Y6, Y4, Y5; \
	VBROADCASTSS expConsts<>+288(SB), Y6; \
	VFMADD213PS Y6, Y4, Y5; \
	VBROADCASTSS expConsts<>+320(SB), Y6; \
	VFMADD213PS Y6, Y4, Y5; \
	VMULPS Y4, Y4, Y6; \
	VFMADD213PS Y4, Y6, Y5; \
	VBROADCASTSS expConsts<>+352(SB), Y6; \
	VADDPS Y6, Y5, Y5; \
	VCVTPS2DQ Y3, Y3; \
	VPSLLD $23, Y3, Y3; \
	VPADDD Y3, Y5, Y5; \
	VANDNPS Y5, Y1, Y5; \
	VBROADCASTSS expConsts<>+384(SB), Y6; \
	VBLENDVPS Y2, Y6, Y5, Y5; \
	VMOVUPS Y5, off(DI); \
	VCVTPS2PD X5, Y6; \
	VEXTRACTF128 $1, Y5, X7; \
	VCVTPS2PD X7, Y7; \
	VADDPD Y6, Y14, Y14; \
	VADDPD Y7, Y13, Y13

// EXPSUM_END adds Y13 into Y14 and reduces it to one float64 in X14.
#define EXPSUM_END \
	VADDPD Y13, Y14, Y14; \
	VEXTRACTF128 $1, Y14, X13; \
	VADDPD X13, X14, X14; \
	VHADDPD X14, X14, X14
