//go:build !amd64 || purego

package recpca

// subRowsBlocks is subRows' vector kernel; this build has none.
func subRowsBlocks(out []float64, w *[4]float64, x *[4][]float32, k int) int { return 0 }
