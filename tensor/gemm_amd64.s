//go:build amd64 && !purego

#include "textflag.h"
#include "gemm_amd64.h"

// The micro-kernels, all one body (gemm_amd64.h) on different registers and
// element types.

// func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)
//
// AVX2+FMA, float32: Y4..Y15 hold the 6 x 16 tile of C (two YMM per row),
// Y0/Y1 the current 16-wide row of packed B, Y2/Y3 broadcasts of packed A.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-48
	GEMM_6X2V(VMOVUPS, VBROADCASTSS, VFMADD231PS, VMULPS, VXORPS, MOVL, SHLL, 2, 4, 32, 44, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

// func dgemmKernel6x8AVX2(kc int, a, b, c *float64, ldc int, alpha, beta float64)
//
// AVX2+FMA, float64: the 6 x 8 tile in Y4..Y15 (two YMM of four per row).
TEXT ·dgemmKernel6x8AVX2(SB), NOSPLIT, $0-56
	GEMM_6X2V(VMOVUPD, VBROADCASTSD, VFMADD231PD, VMULPD, VXORPD, MOVQ, SHLQ, 3, 8, 32, 48, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

// func dgemmKernel6x16AVX512(kc int, a, b, c *float64, ldc int, alpha, beta float64)
//
// AVX-512F, float64: the 6 x 16 tile in Z4..Z15 (two ZMM of eight per row).
TEXT ·dgemmKernel6x16AVX512(SB), NOSPLIT, $0-56
	GEMM_6X2V(VMOVUPD, VBROADCASTSD, VFMADD231PD, VMULPD, VXORPD, MOVQ, SHLQ, 3, 8, 64, 48, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)

// func sgemmKernel6x32AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)
//
// AVX-512F, float32: the 6 x 32 tile in Z4..Z15 (two ZMM of sixteen per row).
TEXT ·sgemmKernel6x32AVX512(SB), NOSPLIT, $0-48
	GEMM_6X2V(VMOVUPS, VBROADCASTSS, VFMADD231PS, VMULPS, VXORPS, MOVL, SHLL, 2, 4, 64, 44, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)

// The half-width tail kernels (GEMM_6X1V), one vector per row, with the
// signatures of the kernels above: sgemmKernel6x8 (YMM) and
// sgemmKernel6x16AVX512 (ZMM) on float32, dgemmKernel6x4AVX2 (YMM) and
// dgemmKernel6x8AVX512 (ZMM) on float64.
TEXT ·sgemmKernel6x8(SB), NOSPLIT, $0-48
	GEMM_6X1V(VMOVUPS, VBROADCASTSS, VFMADD231PS, VADDPS, VMULPS, VXORPS, MOVL, SHLL, 2, 4, 32, 44, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

TEXT ·sgemmKernel6x16AVX512(SB), NOSPLIT, $0-48
	GEMM_6X1V(VMOVUPS, VBROADCASTSS, VFMADD231PS, VADDPS, VMULPS, VXORPS, MOVL, SHLL, 2, 4, 64, 44, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)

TEXT ·dgemmKernel6x4AVX2(SB), NOSPLIT, $0-56
	GEMM_6X1V(VMOVUPD, VBROADCASTSD, VFMADD231PD, VADDPD, VMULPD, VXORPD, MOVQ, SHLQ, 3, 8, 32, 48, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)

TEXT ·dgemmKernel6x8AVX512(SB), NOSPLIT, $0-56
	GEMM_6X1V(VMOVUPD, VBROADCASTSD, VFMADD231PD, VADDPD, VMULPD, VXORPD, MOVQ, SHLQ, 3, 8, 64, 48, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
