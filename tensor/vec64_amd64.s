//go:build amd64 && !purego

#include "textflag.h"

// ZERO4 clears the four partial sums Y0..Y3.
#define ZERO4 \
	VXORPD Y0, Y0, Y0 \
	VXORPD Y1, Y1, Y1 \
	VXORPD Y2, Y2, Y2 \
	VXORPD Y3, Y3, Y3

// HSUM4 adds the four partial sums Y0..Y3 and their lanes into the low
// lane of X0 (X1..X3 clobbered).
#define HSUM4 \
	VADDPD       Y1, Y0, Y0 \
	VADDPD       Y3, Y2, Y2 \
	VADDPD       Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPD       X1, X0, X0 \
	VPERMILPD    $1, X0, X1 \
	VADDSD       X1, X0, X0

// func dot64AVX2(x, y *float64, n int) float64
//
// Sixteen elements per step in four 4-lane partial sums (Y0..Y3), then four
// at a time into Y0, then the lanes are summed and the last n mod 4
// elements added one by one.
TEXT ·dot64AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	ZERO4
	CMPQ CX, $16
	JL   dot4

dot16:
	VMOVUPD     (SI), Y4
	VMOVUPD     32(SI), Y5
	VMOVUPD     64(SI), Y6
	VMOVUPD     96(SI), Y7
	VFMADD231PD (DI), Y4, Y0
	VFMADD231PD 32(DI), Y5, Y1
	VFMADD231PD 64(DI), Y6, Y2
	VFMADD231PD 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         dot16

dot4:
	CMPQ        CX, $4
	JL          dotsum
	VMOVUPD     (SI), Y4
	VFMADD231PD (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $4, CX
	JMP         dot4

dotsum:
	HSUM4

dot1:
	TESTQ       CX, CX
	JE          dotdone
	VMOVSD      (SI), X4
	VFMADD231SD (DI), X4, X0
	ADDQ        $8, SI
	ADDQ        $8, DI
	DECQ        CX
	JMP         dot1

dotdone:
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET

// func axpy64AVX2(alpha float64, x, y *float64, n int)
TEXT ·axpy64AVX2(SB), NOSPLIT, $0-32
	VBROADCASTSD alpha+0(FP), Y15
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX
	CMPQ         CX, $16
	JL           axpy4

axpy16:
	VMOVUPD     (DI), Y0
	VMOVUPD     32(DI), Y1
	VMOVUPD     64(DI), Y2
	VMOVUPD     96(DI), Y3
	VFMADD231PD (SI), Y15, Y0
	VFMADD231PD 32(SI), Y15, Y1
	VFMADD231PD 64(SI), Y15, Y2
	VFMADD231PD 96(SI), Y15, Y3
	VMOVUPD     Y0, (DI)
	VMOVUPD     Y1, 32(DI)
	VMOVUPD     Y2, 64(DI)
	VMOVUPD     Y3, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         axpy16

axpy4:
	CMPQ        CX, $4
	JL          axpy1
	VMOVUPD     (DI), Y0
	VFMADD231PD (SI), Y15, Y0
	VMOVUPD     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $4, CX
	JMP         axpy4

axpy1:
	TESTQ       CX, CX
	JE          axpydone
	VMOVSD      (DI), X0
	VFMADD231SD (SI), X15, X0
	VMOVSD      X0, (DI)
	ADDQ        $8, SI
	ADDQ        $8, DI
	DECQ        CX
	JMP         axpy1

axpydone:
	VZEROUPPER
	RET

// func dotAxpy64AVX2(alpha float64, x, y, z *float64, n int) float64
//
// One load of x feeds both the dot product with y (partial sums Y0..Y3) and
// z += alpha·x.
TEXT ·dotAxpy64AVX2(SB), NOSPLIT, $0-48
	VBROADCASTSD alpha+0(FP), Y15
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         z+24(FP), DX
	MOVQ         n+32(FP), CX
	ZERO4
	CMPQ         CX, $16
	JL           da4

da16:
	VMOVUPD     (SI), Y4
	VMOVUPD     32(SI), Y5
	VMOVUPD     64(SI), Y6
	VMOVUPD     96(SI), Y7
	VMOVUPD     (DX), Y8
	VMOVUPD     32(DX), Y9
	VMOVUPD     64(DX), Y10
	VMOVUPD     96(DX), Y11
	VFMADD231PD (DI), Y4, Y0
	VFMADD231PD 32(DI), Y5, Y1
	VFMADD231PD 64(DI), Y6, Y2
	VFMADD231PD 96(DI), Y7, Y3
	VFMADD231PD Y4, Y15, Y8
	VFMADD231PD Y5, Y15, Y9
	VFMADD231PD Y6, Y15, Y10
	VFMADD231PD Y7, Y15, Y11
	VMOVUPD     Y8, (DX)
	VMOVUPD     Y9, 32(DX)
	VMOVUPD     Y10, 64(DX)
	VMOVUPD     Y11, 96(DX)
	ADDQ        $128, SI
	ADDQ        $128, DI
	ADDQ        $128, DX
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         da16

da4:
	CMPQ        CX, $4
	JL          dasum
	VMOVUPD     (SI), Y4
	VMOVUPD     (DX), Y8
	VFMADD231PD (DI), Y4, Y0
	VFMADD231PD Y4, Y15, Y8
	VMOVUPD     Y8, (DX)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	SUBQ        $4, CX
	JMP         da4

dasum:
	HSUM4

da1:
	TESTQ       CX, CX
	JE          dadone
	VMOVSD      (SI), X4
	VMOVSD      (DX), X8
	VFMADD231SD (DI), X4, X0
	VFMADD231SD X4, X15, X8
	VMOVSD      X8, (DX)
	ADDQ        $8, SI
	ADDQ        $8, DI
	ADDQ        $8, DX
	DECQ        CX
	JMP         da1

dadone:
	VZEROUPPER
	MOVSD X0, ret+40(FP)
	RET

// SYMV4COLS does four columns at byte offset off of symv4AVX2's rows: X ← x,
// Y ← y, the row sums Y0..Y3 += row·x, and y ← y + Σ_r xr[r]·row_r with the
// sum split over Y and Q.
#define SYMV4COLS(off, X, Y, Q) \
	VMOVUPD     off(DI), X \
	VMOVUPD     off(DX), Y \
	VMOVUPD     off(SI), Y6 \
	VFMADD231PD Y6, X, Y0 \
	VFMADD231PD Y6, Y12, Y \
	VMOVUPD     off(R8), Y7 \
	VFMADD231PD Y7, X, Y1 \
	VMULPD      Y7, Y13, Q \
	VMOVUPD     off(R9), Y6 \
	VFMADD231PD Y6, X, Y2 \
	VFMADD231PD Y6, Y14, Y \
	VMOVUPD     off(R10), Y7 \
	VFMADD231PD Y7, X, Y3 \
	VFMADD231PD Y7, Y15, Q \
	VADDPD      Q, Y, Y \
	VMOVUPD     Y, off(DX)

// func symv4AVX2(a *float64, lda int, x, y *float64, n int, xr, dots *[4]float64)
//
// Four consecutive rows a, a+lda, a+2·lda, a+3·lda over n columns (n a
// positive multiple of 4): dots[r] += Σ_j a_r[j]·x[j] and
// y[j] += Σ_r xr[r]·a_r[j]. Each load of x and y serves four matrix rows.
// Registers: SI, R8, R9, R10 the rows; Y12..Y15 xr broadcast; Y0..Y3 the
// row sums; Y4/Y9 x, Y5/Y10 y, Y8/Y11 the second half of the y update,
// Y6, Y7 matrix entries.
TEXT ·symv4AVX2(SB), NOSPLIT, $0-56
	MOVQ         a+0(FP), SI
	MOVQ         lda+8(FP), AX
	SHLQ         $3, AX
	LEAQ         (SI)(AX*1), R8
	LEAQ         (R8)(AX*1), R9
	LEAQ         (R9)(AX*1), R10
	MOVQ         x+16(FP), DI
	MOVQ         y+24(FP), DX
	MOVQ         n+32(FP), CX
	MOVQ         xr+40(FP), BX
	VBROADCASTSD (BX), Y12
	VBROADCASTSD 8(BX), Y13
	VBROADCASTSD 16(BX), Y14
	VBROADCASTSD 24(BX), Y15
	ZERO4
	CMPQ         CX, $8
	JL           sy4

sy8:
	SYMV4COLS(0, Y4, Y5, Y8)
	SYMV4COLS(32, Y9, Y10, Y11)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, DI
	ADDQ $64, DX
	SUBQ $8, CX
	CMPQ CX, $8
	JGE  sy8

sy4:
	TESTQ CX, CX
	JE    sydone
	SYMV4COLS(0, Y4, Y5, Y8)

sydone:
	// Y0..Y3 → (Σ Y0, Σ Y1, Σ Y2, Σ Y3), added to dots.
	VHADDPD    Y1, Y0, Y0
	VHADDPD    Y3, Y2, Y2
	VPERM2F128 $0x20, Y2, Y0, Y4
	VPERM2F128 $0x31, Y2, Y0, Y5
	VADDPD     Y5, Y4, Y0
	MOVQ       dots+48(FP), BX
	VADDPD     (BX), Y0, Y0
	VMOVUPD    Y0, (BX)
	VZEROUPPER
	RET
