//go:build !amd64 || purego

package qscan

// This build has no assembly (another architecture, or the purego tag).

func scanOne(t *Table, b0, nb int, qb []uint8, g, thr float32, mask []uint8) {
	scanOneGo(t, b0, nb, qb, g, thr, mask)
}

func scanFour(t *Table, b0, nb int, qb []uint8, g, thr *[batchUsers]float32, mask []uint8, ms int) {
	scanFourGo(t, b0, nb, qb, g, thr, mask, ms)
}
