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

// GEMM_ENTER loads the arguments (ldc scaled to bytes), clears the tile and
// enters the unrolled loop (BX = kc/4) or skips it for kc < 4.
#define GEMM_ENTER(LDCSHIFT, XOR, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11) \
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
	JZ tail

// GEMM_LOOP4_END closes the unrolled loop (A advances four steps of six
// values, B by BSTEP4 bytes) and enters the single steps (CX = kc mod 4) or
// skips them.
#define GEMM_LOOP4_END(ESZ, BSTEP4) \
	ADDQ $(4*6*ESZ), SI; \
	ADDQ $(BSTEP4), DI; \
	DECQ BX; \
	JNZ loop4; \
tail: \
	ANDQ $3, CX; \
	JZ store

// GEMM_VOP6 applies OP to six registers: R_i = S_i OP R_i.
#define GEMM_VOP6(OP, S0, S1, S2, S3, S4, S5, R0, R1, R2, R3, R4, R5) \
	OP S0, R0, R0; \
	OP S1, R1, R1; \
	OP S2, R2, R2; \
	OP S3, R3, R3; \
	OP S4, R4, R4; \
	OP S5, R5, R5

// GEMM_BETA jumps to overwrite when beta is ±0, else broadcasts it into BETAV.
#define GEMM_BETA(BCAST, MOVX, SHLX, BETA, BETAV) \
	MOVX beta+BETA(FP), AX; \
	SHLX $1, AX; \
	JZ overwrite; \
	BCAST beta+BETA(FP), BETAV

#define GEMM_6X2V(LOADV, BCAST, FMA, MUL, XOR, MOVX, SHLX, LDCSHIFT, ESZ, VB, BETA, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11) \
	GEMM_ENTER(LDCSHIFT, XOR, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
loop4: \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 0, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 1, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 2, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 3, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_LOOP4_END(ESZ, 4*2*VB); \
loop1: \
	GEMM_KSTEP(LOADV, BCAST, FMA, ESZ, VB, 0, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	ADDQ $(6*ESZ), SI; \
	ADDQ $(2*VB), DI; \
	DECQ CX; \
	JNZ loop1; \
store: \
	BCAST alpha+40(FP), B0; \
	GEMM_VOP6(MUL, B0, B0, B0, B0, B0, B0, C0, C1, C2, C3, C4, C5); \
	GEMM_VOP6(MUL, B0, B0, B0, B0, B0, B0, C6, C7, C8, C9, C10, C11); \
	GEMM_BETA(BCAST, MOVX, SHLX, BETA, B1); \
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

// GEMM_6X1V(LOADV, BCAST, FMA, ADD, MUL, XOR, MOVX, SHLX, LDCSHIFT, ESZ, VB, BETA, regs...)
// is the body of the half-width kernel: a 6 x V tile (one vector register
// per row) for the last columns of a product when they fill at most half a
// 2V-wide sliver. Six accumulators alone would wait on the FMA latency, so
// even k steps add into C0..C5 and odd ones into C6..C11 (B0/A0 and B1/A1
// serve the two), and the halves are summed before the store. The other
// arguments are those of GEMM_6X2V (ADD is the vector add).

// GEMM_BFMA multiplies the broadcast of A at SI+off by B into R.
#define GEMM_BFMA(BCAST, FMA, off, A, B, R) \
	BCAST (off)(SI), A; \
	FMA B, A, R

// GEMM_KPAIR is k steps p (into C0..C5) and p+1 (into C6..C11).
#define GEMM_KPAIR(LOADV, BCAST, FMA, ESZ, VB, p, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11) \
	LOADV (p*VB)(DI), B0; \
	LOADV (p*VB+VB)(DI), B1; \
	GEMM_BFMA(BCAST, FMA, (p*6+0)*ESZ, A0, B0, C0); \
	GEMM_BFMA(BCAST, FMA, (p*6+6+0)*ESZ, A1, B1, C6); \
	GEMM_BFMA(BCAST, FMA, (p*6+1)*ESZ, A0, B0, C1); \
	GEMM_BFMA(BCAST, FMA, (p*6+6+1)*ESZ, A1, B1, C7); \
	GEMM_BFMA(BCAST, FMA, (p*6+2)*ESZ, A0, B0, C2); \
	GEMM_BFMA(BCAST, FMA, (p*6+6+2)*ESZ, A1, B1, C8); \
	GEMM_BFMA(BCAST, FMA, (p*6+3)*ESZ, A0, B0, C3); \
	GEMM_BFMA(BCAST, FMA, (p*6+6+3)*ESZ, A1, B1, C9); \
	GEMM_BFMA(BCAST, FMA, (p*6+4)*ESZ, A0, B0, C4); \
	GEMM_BFMA(BCAST, FMA, (p*6+6+4)*ESZ, A1, B1, C10); \
	GEMM_BFMA(BCAST, FMA, (p*6+5)*ESZ, A0, B0, C5); \
	GEMM_BFMA(BCAST, FMA, (p*6+6+5)*ESZ, A1, B1, C11)

// GEMM_STORE_ROWS1 adds beta·C (BETAV holds beta) to two rows of the tile, stores them and advances DX past them.
#define GEMM_STORE_ROWS1(LOADV, FMA, BETAV, R0, R1) \
	FMA (DX), BETAV, R0; \
	LOADV R0, (DX); \
	ADDQ R8, DX; \
	FMA (DX), BETAV, R1; \
	LOADV R1, (DX); \
	ADDQ R8, DX

// GEMM_WRITE_ROWS1 stores two rows of the tile and advances DX past them.
#define GEMM_WRITE_ROWS1(LOADV, R0, R1) \
	LOADV R0, (DX); \
	ADDQ R8, DX; \
	LOADV R1, (DX); \
	ADDQ R8, DX

#define GEMM_6X1V(LOADV, BCAST, FMA, ADD, MUL, XOR, MOVX, SHLX, LDCSHIFT, ESZ, VB, BETA, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11) \
	GEMM_ENTER(LDCSHIFT, XOR, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
loop4: \
	GEMM_KPAIR(LOADV, BCAST, FMA, ESZ, VB, 0, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_KPAIR(LOADV, BCAST, FMA, ESZ, VB, 2, B0, B1, A0, A1, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11); \
	GEMM_LOOP4_END(ESZ, 4*VB); \
loop1: \
	LOADV (DI), B0; \
	GEMM_BFMA(BCAST, FMA, 0*ESZ, A0, B0, C0); \
	GEMM_BFMA(BCAST, FMA, 1*ESZ, A0, B0, C1); \
	GEMM_BFMA(BCAST, FMA, 2*ESZ, A0, B0, C2); \
	GEMM_BFMA(BCAST, FMA, 3*ESZ, A0, B0, C3); \
	GEMM_BFMA(BCAST, FMA, 4*ESZ, A0, B0, C4); \
	GEMM_BFMA(BCAST, FMA, 5*ESZ, A0, B0, C5); \
	ADDQ $(6*ESZ), SI; \
	ADDQ $VB, DI; \
	DECQ CX; \
	JNZ loop1; \
store: \
	GEMM_VOP6(ADD, C6, C7, C8, C9, C10, C11, C0, C1, C2, C3, C4, C5); \
	BCAST alpha+40(FP), B0; \
	GEMM_VOP6(MUL, B0, B0, B0, B0, B0, B0, C0, C1, C2, C3, C4, C5); \
	GEMM_BETA(BCAST, MOVX, SHLX, BETA, B1); \
	GEMM_STORE_ROWS1(LOADV, FMA, B1, C0, C1); \
	GEMM_STORE_ROWS1(LOADV, FMA, B1, C2, C3); \
	GEMM_STORE_ROWS1(LOADV, FMA, B1, C4, C5); \
	VZEROUPPER; \
	RET; \
overwrite: \
	GEMM_WRITE_ROWS1(LOADV, C0, C1); \
	GEMM_WRITE_ROWS1(LOADV, C2, C3); \
	GEMM_WRITE_ROWS1(LOADV, C4, C5); \
	VZEROUPPER; \
	RET
