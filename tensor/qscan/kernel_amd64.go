//go:build amd64 && !purego

package qscan

import "golang.org/x/sys/cpu"

// hasAVX2 is a read-only fact about the CPU, computed once.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// scanOne writes, for blocks b0..b0+nb-1 of t (nb a multiple of
// groupBlocks), a mask byte per block whose bit j is set when item j's
// bound reaches thr.
func scanOne(t *Table, b0, nb int, qb []uint8, g, thr float32, mask []uint8) {
	if !hasAVX2 {
		scanOneGo(t, b0, nb, qb, g, thr, mask)
		return
	}
	m := checkBlocks(t, b0, nb)
	_ = qb[t.dp-1]
	_ = mask[nb-1]
	if nb%groupBlocks != 0 {
		panic("qscan: scanOne of a partial group")
	}
	scan1AVX2(&t.codes[m*t.dp], nb, t.dp/4, &qb[0], &t.sum64[m], &t.scale[m], &t.half[m], g, thr, &mask[0])
}

// scanFour is scanOne for batchUsers queries (qb holds them dp apart);
// query i's masks start at mask[i·ms]. nb is a multiple of groupBlocks.
func scanFour(t *Table, b0, nb int, qb []uint8, g, thr *[batchUsers]float32, mask []uint8, ms int) {
	if !hasAVX2 {
		scanFourGo(t, b0, nb, qb, g, thr, mask, ms)
		return
	}
	m := checkBlocks(t, b0, nb)
	_ = qb[batchUsers*t.dp-1]
	_ = mask[(batchUsers-1)*ms+nb-1]
	if nb%groupBlocks != 0 {
		panic("qscan: scanFour of a partial group")
	}
	scan4AVX2(&t.codes[m*t.dp], nb, t.dp/4, &qb[0], &t.sum64[m], &t.scale[m], &t.half[m], &g[0], &thr[0], &mask[0], ms)
}

// checkBlocks checks that blocks b0..b0+nb-1 lie inside t (what the
// assembly reads through raw pointers) and returns their first row.
func checkBlocks(t *Table, b0, nb int) int {
	m := b0 * blockItems
	_ = t.codes[(b0+nb)*blockItems*t.dp-1]
	_ = t.scale[m+nb*blockItems-1]
	_ = t.half[m+nb*blockItems-1]
	_ = t.sum64[m+nb*blockItems-1]
	return m
}

// scan1AVX2 scores groups of four blocks for one query.
//
//go:noescape
func scan1AVX2(codes *int8, nb, kq int, qb *uint8, sum64 *int32, scale, half *float32, gterm, thr float32, mask *uint8)

// scan4AVX2 scores groups of blocks, a pair at a time, for four queries.
//
//go:noescape
func scan4AVX2(codes *int8, nb, kq int, qb *uint8, sum64 *int32, scale, half, gterm, thr *float32, mask *uint8, ms int)

// streamAVX2 reads n bytes (a multiple of 128) from p and returns their
// OR, so that the loads cannot be dropped: the benchmarks' memory floor.
//
//go:noescape
func streamAVX2(p *int8, n int) uint64
