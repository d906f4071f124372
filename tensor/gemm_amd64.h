// Shared body of the amd64 GEMM micro-kernels (float32 and float64, AVX2
// and AVX-512): a 6 x 2V tile of C, V the lanes of one vector register.
//
// GEMM_6X2V(LOADV, BCAST, FMA, MUL, XOR, MOVX, SHLX, LDCSHIFT, ESZ, VB, BETA, regs...)
// is the whole body of
//
//	func kernel(kc int, a, b, c *T, ldc int, alpha, beta T)
//
// which computes C = alpha·Â·B̂ + beta·C (C only written when beta is ±0)
// from packed slivers: a holds kc steps of 6 values of op(A), b kc steps of
// 2V values of op(B); kc >= 1. The arguments name the element type's
// instructions (vector load/store, broadcast, fused multiply-add, multiply,
// xor; the scalar move and shift that test beta for ±0), log2 of the
// element size, the element size ESZ and vector size VB in bytes, beta's
// frame offset, and the sixteen vector registers: B0/B1 hold one 2V-wide row
// of packed B, A0/A1 alternate as broadcasts of packed A, C0..C11 the tile
// (two per row). The k loop is unrolled four times.

// GEMM_ROW multiplies the broadcast of A at SI+off into one row of the tile.
#define GEMM_ROW(BCAST, FMA, off, A, B0, B1, R0, R1) \
	BCAST (off)(SI), A; \
	FMA B0, A, R0; \
	FMA B1, A, R1

// GEMM_KSTEP is k step p of the unrolled loop (offsets from SI and DI).
#define GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, p, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11) \
	LOADV (p*2*VB)(DI), B0; \
	LOADV (p*2*VB+VB)(DI), B1; \
	GEMM_ROW(BCAST, FMA, (p*6+0)*ESZ, A0, B0, B1, C0, C1); \
	GEMM_ROW(BCAST, FMA, (p*6+1)*ESZ, A1, B0, B1, C2, C3); \
	GEMM_ROW(BCAST, FMA, (p*6+2)*ESZ, A0, B0, B1, C4, C5); \
	GEMM_ROW(BCAST, FMA, (p*6+3)*ESZ, A1, B0, B1, C6, C7); \
	GEMM_ROW(BCAST, FMA, (p*6+4)*ESZ, A0, B0, B1, C8, C9); \
	GEMM_ROW(BCAST, FMA, (p*6+5)*ESZ, A1, B0, B1, C10, C11)

// GEMM_STORE_ROW adds beta·C (BETAV holds beta) to one row of the tile, stores it and advances DX to the next row.
#define GEMM_STORE_ROW(LOADV, FMA, VB, BETAV, R0, R1) \
	FMA (DX), BETAV, R0; \
	FMA VB(DX), BETAV, R1; \
	LOADV R0, (DX); \
	LOADV R1, VB(DX); \
	ADDQ R8, DX

// GEMM_WRITE_ROW stores one row of the tile and advances DX to the next row.
#define GEMM_WRITE_ROW(LOADV, VB, R0, R1) \
	LOADV R0, (DX); \
	LOADV R1, VB(DX); \
	ADDQ R8, DX

#define GEMM_6X2V(LOADV, BCAST, FMA, MUL, XOR, MOVX, SHLX, LDCSHIFT, ESZ, VB, BETA, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11) \
	MOVQ kc+0(FP), CX; \
	MOVQ a+8(FP), SI; \
	MOVQ b+16(FP), DI; \
	MOVQ c+24(FP), DX; \
	MOVQ ldc+32(FP), R8; \
	SHLQ $LDCSHIFT, R8; \
	XOR C0, C0, C0; \
	XOR C1, C1, C1; \
	XOR C2, C2, C2; \
	XOR C3, C3, C3; \
	XOR C4, C4, C4; \
	XOR C5, C5, C5; \
	XOR C6, C6, C6; \
	XOR C7, C7, C7; \
	XOR C8, C8, C8; \
	XOR C9, C9, C9; \
	XOR C10, C10, C10; \
	XOR C11, C11, C11; \
	MOVQ CX, BX; \
	SHRQ $2, BX; \
	JZ tail; \
loop4: \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 0, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 1, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 2, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 3, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	ADDQ $(4*6*ESZ), SI; \
	ADDQ $(4*2*VB), DI; \
	DECQ BX; \
	JNZ loop4; \
tail: \
	ANDQ $3, CX; \
	JZ store; \
loop1: \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 0, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	ADDQ $(6*ESZ), SI; \
	ADDQ $(2*VB), DI; \
	DECQ CX; \
	JNZ loop1; \
store: \
	BCAST alpha+40(FP), B0; \
	MUL B0, C0, C0; \
	MUL B0, C1, C1; \
	MUL B0, C2, C2; \
	MUL B0, C3, C3; \
	MUL B0, C4, C4; \
	MUL B0, C5, C5; \
	MUL B0, C6, C6; \
	MUL B0, C7, C7; \
	MUL B0, C8, C8; \
	MUL B0, C9, C9; \
	MUL B0, C10, C10; \
	MUL B0, C11, C11; \
	MOVX beta+BETA(FP), AX; \
	SHLX $1, AX; \
	JZ overwrite; \
	BCAST beta+BETA(FP), B1; \
	GEMM_STORE_ROW(LOADV, FMA, VB, B1, C0, C1); \
	GEMM_STORE_ROW(LOADV, FMA, VB, B1, C2, C3); \
	GEMM_STORE_ROW(LOADV, FMA, VB, B1, C4, C5); \
	GEMM_STORE_ROW(LOADV, FMA, VB, B1, C6, C7); \
	GEMM_STORE_ROW(LOADV, FMA, VB, B1, C8, C9); \
	GEMM_STORE_ROW(LOADV, FMA, VB, B1, C10, C11); \
	VZEROUPPER; \
	RET; \
overwrite: \
	GEMM_WRITE_ROW(LOADV, VB, C0, C1); \
	GEMM_WRITE_ROW(LOADV, VB, C2, C3); \
	GEMM_WRITE_ROW(LOADV, VB, C4, C5); \
	GEMM_WRITE_ROW(LOADV, VB, C6, C7); \
	GEMM_WRITE_ROW(LOADV, VB, C8, C9); \
	GEMM_WRITE_ROW(LOADV, VB, C10, C11); \
	VZEROUPPER; \
	RET
