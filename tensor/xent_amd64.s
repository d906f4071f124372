//go:build amd64 && !purego

#include "textflag.h"

// The AVX2+FMA kernels of the fused softmax cross-entropy (xent.go). The
// logits live in tiles of 6 rows x 24 items (576 bytes, row rr of a tile at
// rr·96 bytes). The logits kernel computes a tile as two 3 x 24 passes
// (Y4..Y12); the two gradient kernels keep a 6 x 16 block of their product
// in Y4..Y15 (two registers per row), Y0/Y1 hold one 16-wide row of the
// operand they load and Y2/Y3 alternate as broadcasts of the other. The
// exponentials are in exp_amd64.s (expTilesAVX2), beside the constants.

// XL_ROW multiplies the broadcast of the float at off(SI) by Y0/Y1 into R0/R1.
#define XL_ROW(off, A, R0, R1) \
	VBROADCASTSS off(SI), A; \
	VFMADD231PS Y0, A, R0; \
	VFMADD231PS Y1, A, R1

// XL_ROWS6 is XL_ROW for six rows whose broadcasts lie at off+i·step(SI).
#define XL_ROWS6(off, step) \
	XL_ROW(off, Y2, Y4, Y5); \
	XL_ROW(off+step, Y3, Y6, Y7); \
	XL_ROW(off+2*step, Y2, Y8, Y9); \
	XL_ROW(off+3*step, Y3, Y10, Y11); \
	XL_ROW(off+4*step, Y2, Y12, Y13); \
	XL_ROW(off+5*step, Y3, Y14, Y15)

// XL3_STEP is k step p of three rows of a tile: B (R8) holds 24 floats
// per step (Y0..Y2), A (SI) six per step, of which the three at SI are
// this pass's rows.
#define XL3_STEP(p) \
	VMOVUPS (p*96)(R8), Y0; \
	VMOVUPS (p*96+32)(R8), Y1; \
	VMOVUPS (p*96+64)(R8), Y2; \
	VBROADCASTSS (p*24)(SI), Y3; \
	VFMADD231PS Y0, Y3, Y4; \
	VFMADD231PS Y1, Y3, Y5; \
	VFMADD231PS Y2, Y3, Y6; \
	VBROADCASTSS (p*24+4)(SI), Y13; \
	VFMADD231PS Y0, Y13, Y7; \
	VFMADD231PS Y1, Y13, Y8; \
	VFMADD231PS Y2, Y13, Y9; \
	VBROADCASTSS (p*24+8)(SI), Y3; \
	VFMADD231PS Y0, Y3, Y10; \
	VFMADD231PS Y1, Y3, Y11; \
	VFMADD231PS Y2, Y3, Y12

#define XL_ZERO9 \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	VXORPS Y8, Y8, Y8; \
	VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11; \
	VXORPS Y12, Y12, Y12

#define XL_ZERO12 \
	XL_ZERO9; \
	VXORPS Y13, Y13, Y13; \
	VXORPS Y14, Y14, Y14; \
	VXORPS Y15, Y15, Y15

// XL_STORE3 stores three rows of a tile (Y4..Y12) at off(DX).
#define XL_STORE3(off) \
	VMOVUPS Y4, (off)(DX); \
	VMOVUPS Y5, (off+32)(DX); \
	VMOVUPS Y6, (off+64)(DX); \
	VMOVUPS Y7, (off+96)(DX); \
	VMOVUPS Y8, (off+128)(DX); \
	VMOVUPS Y9, (off+160)(DX); \
	VMOVUPS Y10, (off+192)(DX); \
	VMOVUPS Y11, (off+224)(DX); \
	VMOVUPS Y12, (off+256)(DX)

// XL_MAX3 folds R0..R2 (one row) into the running maximum at off(R10).
#define XL_MAX3(off, R0, R1, R2) \
	VMAXPS R1, R0, Y0; \
	VMAXPS R2, Y0, Y0; \
	VMAXPS off(R10), Y0, Y0; \
	VMOVUPS Y0, off(R10)

// func xentLogitsAVX2(d int, a, b, c *float32, ntiles, ldt int, rmax *float32)
//
// ntiles >= 1 tiles of logits of one tile row: tile t (at c + t·ldt
// floats) is A·Bₜ with A six rows of width d packed as d steps of six
// floats and Bₜ (at b + t·d·96 bytes) d steps of 24 floats. Each tile is
// two passes over k, rows 0-2 and rows 3-5, each 3 x 24 (nine
// accumulators, three loads of B and three broadcasts per nine FMAs). When
// rmax is not nil, the 6 x 8 floats there take the lane-wise maximum of
// each row of every tile.
//
// Registers: R11 d, R12 A, DI Bₜ, DX Cₜ, R13 tiles left, R10 rmax, R9 the
// bytes of one Bₜ, BX those from one Cₜ to the next, AX the pass; SI, R8
// and CX walk A, B and k.
TEXT ·xentLogitsAVX2(SB), NOSPLIT, $0-56
	MOVQ d+0(FP), R11
	MOVQ a+8(FP), R12
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ntiles+32(FP), R13
	MOVQ ldt+40(FP), BX
	SHLQ $2, BX
	MOVQ rmax+48(FP), R10
	MOVQ R11, R9
	IMULQ $96, R9

tile:
	MOVQ R12, SI
	MOVQ $2, AX

pass:
	MOVQ DI, R8
	XL_ZERO9
	MOVQ R11, CX
	SHRQ $2, CX
	JZ k1

k4:
	XL3_STEP(0)
	XL3_STEP(1)
	XL3_STEP(2)
	XL3_STEP(3)
	ADDQ $96, SI
	ADDQ $384, R8
	DECQ CX
	JNZ k4

k1:
	MOVQ R11, CX
	ANDQ $3, CX
	JZ store

k1loop:
	XL3_STEP(0)
	ADDQ $24, SI
	ADDQ $96, R8
	DECQ CX
	JNZ k1loop

store:
	CMPQ AX, $2
	JNE store2
	XL_STORE3(0)
	TESTQ R10, R10
	JZ pass2
	XL_MAX3(0, Y4, Y5, Y6)
	XL_MAX3(32, Y7, Y8, Y9)
	XL_MAX3(64, Y10, Y11, Y12)

pass2:
	MOVQ $1, AX
	LEAQ 12(R12), SI
	JMP pass

store2:
	XL_STORE3(288)
	TESTQ R10, R10
	JZ next
	XL_MAX3(96, Y4, Y5, Y6)
	XL_MAX3(128, Y7, Y8, Y9)
	XL_MAX3(160, Y10, Y11, Y12)

next:
	ADDQ BX, DX
	ADDQ R9, DI
	DECQ R13
	JNZ tile
	VZEROUPPER
	RET

// XL_STORE6 adds (acc != 0) or writes the 6 x 16 block to the rows at DX,
// R8 bytes apart.
#define XL_STORE_ROW(R0, R1) \
	VADDPS (DX), R0, R0; \
	VADDPS 32(DX), R1, R1; \
	VMOVUPS R0, (DX); \
	VMOVUPS R1, 32(DX); \
	ADDQ R8, DX

#define XL_WRITE_ROW(R0, R1) \
	VMOVUPS R0, (DX); \
	VMOVUPS R1, 32(DX); \
	ADDQ R8, DX

#define XL_STORE6 \
	TESTQ AX, AX; \
	JZ write; \
	XL_STORE_ROW(Y4, Y5); \
	XL_STORE_ROW(Y6, Y7); \
	XL_STORE_ROW(Y8, Y9); \
	XL_STORE_ROW(Y10, Y11); \
	XL_STORE_ROW(Y12, Y13); \
	XL_STORE_ROW(Y14, Y15); \
	VZEROUPPER; \
	RET; \
write: \
	XL_WRITE_ROW(Y4, Y5); \
	XL_WRITE_ROW(Y6, Y7); \
	XL_WRITE_ROW(Y8, Y9); \
	XL_WRITE_ROW(Y10, Y11); \
	XL_WRITE_ROW(Y12, Y13); \
	XL_WRITE_ROW(Y14, Y15); \
	VZEROUPPER; \
	RET

// XD_STEP is row rr of a tile in the item-side product: Y0/Y1 the 16 values
// at DI (one row of hs), broadcasts the six items at rr·96(SI).
#define XD_STEP(rr) \
	VMOVUPS (DI), Y0; \
	VMOVUPS 32(DI), Y1; \
	ADDQ R8, DI; \
	XL_ROWS6(rr*96, 4)

// func xentItemGradAVX2(nrb int, e *float32, estride int, hs *float32, ldh int, c *float32, ldc, acc int)
//
// The 6 x 16 block C (+)= Eᵀ·Hs over 6·nrb rows (nrb >= 1): E's six
// columns are six adjacent items of one tile column (at e, tile after tile
// estride floats apart), Hs's rows 16 floats at hs, ldh floats apart. C's
// rows are ldc floats apart; acc != 0 adds into them.
TEXT ·xentItemGradAVX2(SB), NOSPLIT, $0-64
	MOVQ nrb+0(FP), CX
	MOVQ e+8(FP), SI
	MOVQ estride+16(FP), R9
	SHLQ $2, R9
	MOVQ hs+24(FP), DI
	MOVQ ldh+32(FP), R8
	SHLQ $2, R8
	XL_ZERO12

rows:
	XD_STEP(0)
	XD_STEP(1)
	XD_STEP(2)
	XD_STEP(3)
	XD_STEP(4)
	XD_STEP(5)
	ADDQ R9, SI
	DECQ CX
	JNZ rows

	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	MOVQ acc+56(FP), AX
	XL_STORE6

// XH_STEP is item jj of a tile in the row-side product: Y0/Y1 the 16
// values at DI (one row of W), broadcasts the tile's six rows' logits of
// item jj.
#define XH_STEP(jj) \
	VMOVUPS (DI), Y0; \
	VMOVUPS 32(DI), Y1; \
	ADDQ R8, DI; \
	XL_ROWS6(jj*4, 96)

// func xentRowGradAVX2(ntiles int, e *float32, ldt int, w *float32, ldw int, c *float32, ldc, acc int)
//
// The 6 x 16 block C (+)= E·W over the 24·ntiles items of ntiles >= 1
// tiles of one tile row (at e, ldt floats apart): W's rows are 16 floats at
// w, ldw floats apart. C's rows are ldc floats apart; acc != 0 adds into
// them.
TEXT ·xentRowGradAVX2(SB), NOSPLIT, $0-64
	MOVQ ntiles+0(FP), CX
	MOVQ e+8(FP), SI
	MOVQ ldt+16(FP), R9
	SHLQ $2, R9
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R8
	SHLQ $2, R8
	XL_ZERO12

tiles:
	XH_STEP(0)
	XH_STEP(1)
	XH_STEP(2)
	XH_STEP(3)
	XH_STEP(4)
	XH_STEP(5)
	XH_STEP(6)
	XH_STEP(7)
	XH_STEP(8)
	XH_STEP(9)
	XH_STEP(10)
	XH_STEP(11)
	XH_STEP(12)
	XH_STEP(13)
	XH_STEP(14)
	XH_STEP(15)
	XH_STEP(16)
	XH_STEP(17)
	XH_STEP(18)
	XH_STEP(19)
	XH_STEP(20)
	XH_STEP(21)
	XH_STEP(22)
	XH_STEP(23)
	ADDQ R9, SI
	DECQ CX
	JNZ tiles

	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	MOVQ acc+56(FP), AX
	XL_STORE6
