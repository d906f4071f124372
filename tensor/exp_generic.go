//go:build !amd64 || purego

package tensor

// expSumBlocks is ExpSum's vector kernel; this build has none (another
// architecture, or the purego tag), so ExpSum's portable loop does it all.
func expSumBlocks(dst, src []float32, shift float32) (int, float64) { return 0, 0 }
