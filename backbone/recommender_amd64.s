//go:build amd64 && !purego

#include "textflag.h"

// func scoreBlockAVX2(d int, h, panels, out *float32)
//
// Four panels of 16 items (each d·16 floats, back to back) for one hidden
// state h: Y0..Y7 accumulate the 64 scores, Y8 is the broadcast h[k],
// Y9..Y12 the rounded products. Every lane computes s = s + (h[k]·e[k]).
TEXT ·scoreBlockAVX2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), CX
	MOVQ h+8(FP), SI
	MOVQ panels+16(FP), DI
	MOVQ out+24(FP), DX
	MOVQ CX, R8
	SHLQ $6, R8
	LEAQ (DI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

loop:
	VBROADCASTSS (SI), Y8
	VMULPS (DI), Y8, Y9
	VMULPS 32(DI), Y8, Y10
	VMULPS (R9), Y8, Y11
	VMULPS 32(R9), Y8, Y12
	VADDPS Y9, Y0, Y0
	VADDPS Y10, Y1, Y1
	VADDPS Y11, Y2, Y2
	VADDPS Y12, Y3, Y3
	VMULPS (R10), Y8, Y9
	VMULPS 32(R10), Y8, Y10
	VMULPS (R11), Y8, Y11
	VMULPS 32(R11), Y8, Y12
	VADDPS Y9, Y4, Y4
	VADDPS Y10, Y5, Y5
	VADDPS Y11, Y6, Y6
	VADDPS Y12, Y7, Y7
	ADDQ $4, SI
	ADDQ $64, DI
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ CX
	JNZ loop

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET

// func scorePanel4AVX2(d int, h, panel, out *float32, ldo int)
//
// One panel of 16 items for four hidden states (rows of h, d floats apart):
// Y0..Y7 accumulate the 4 x 16 scores, Y8/Y9 hold the panel row of
// dimension k, Y10..Y13 the broadcasts, Y14/Y15 the rounded products.
TEXT ·scorePanel4AVX2(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), CX
	MOVQ h+8(FP), SI
	MOVQ panel+16(FP), DI
	MOVQ out+24(FP), DX
	MOVQ ldo+32(FP), R12
	SHLQ $2, R12
	MOVQ CX, R8
	SHLQ $2, R8
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

loop4:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	VBROADCASTSS (SI), Y10
	VBROADCASTSS (R9), Y11
	VBROADCASTSS (R10), Y12
	VBROADCASTSS (R11), Y13
	VMULPS Y8, Y10, Y14
	VMULPS Y9, Y10, Y15
	VADDPS Y14, Y0, Y0
	VADDPS Y15, Y1, Y1
	VMULPS Y8, Y11, Y14
	VMULPS Y9, Y11, Y15
	VADDPS Y14, Y2, Y2
	VADDPS Y15, Y3, Y3
	VMULPS Y8, Y12, Y14
	VMULPS Y9, Y12, Y15
	VADDPS Y14, Y4, Y4
	VADDPS Y15, Y5, Y5
	VMULPS Y8, Y13, Y14
	VMULPS Y9, Y13, Y15
	VADDPS Y14, Y6, Y6
	VADDPS Y15, Y7, Y7
	ADDQ $4, SI
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $64, DI
	DECQ CX
	JNZ loop4

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R12, DX
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ R12, DX
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R12, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	VZEROUPPER
	RET
