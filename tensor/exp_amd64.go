//go:build amd64 && !purego

package tensor

// expSumBlocks runs ExpSum's AVX2+FMA kernel on the longest prefix of src
// whose length is a multiple of 8 and returns that length and the prefix's
// sum; without AVX2 and FMA it does nothing and ExpSum's portable loop does
// it all.
func expSumBlocks(dst, src []float32, shift float32) (int, float64) {
	n := len(src) &^ 7
	if !hasAVX2FMA || n == 0 {
		return 0, 0
	}
	_ = dst[n-1]
	return n, expSumAVX2(&dst[0], &src[0], n, shift)
}

// expSumAVX2 sets dst[i] = exp(src[i] − shift) for i < n (n a positive
// multiple of 8) and returns their sum in float64.
//
//go:noescape
func expSumAVX2(dst, src *float32, n int, shift float32) float64
