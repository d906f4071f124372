//go:build !amd64 || purego

package recpca

// subRowsBlocks is subRows' vector kernel; this build has none.
func subRowsBlocks(out []float64, w *[4]float64, x, pre *[4][]float32, k int) int { return 0 }

// sqDiffBlocks is sqDiff32's vector kernel; this build has none.
func sqDiffBlocks(x, y []float32, a, b, em float64, mu []float64) (int, float64) { return 0, 0 }

// widenBlocks is widen's vector kernel; this build has none.
func widenBlocks(out []float64, x []float32, s float64, mu []float64) int { return 0 }
