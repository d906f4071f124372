package tensor

import (
	"fmt"
	"math"
)

// ExpSum sets dst[i] = exp(src[i] − shift) in float32 for every i and
// returns the sum of the results, accumulated in float64. It is the inner
// pass of a softmax or log-sum-exp: with shift the row maximum, every result
// is in (0, 1] and the sum is the normaliser. dst may alias src; the slices
// must have the same length.
//
// The exponential is a float32 approximation (range reduction by ln 2 and a
// degree-6 polynomial, as in Cephes' expf) with a relative error below 3e-7
// against math.Exp wherever the result is a normal float32. Arguments below
// −87.33654, where exp falls under the smallest normal float32 (about
// 1.18e-38), give exactly 0 (denormal results are flushed to zero), −Inf
// gives 0, arguments above 88.72283 give +Inf, and NaN gives NaN. On amd64
// CPUs with AVX2 and FMA an assembly kernel computes eight at a time;
// elsewhere, or with the purego build tag, a portable Go loop computes the
// same approximation.
func ExpSum(dst, src []float32, shift float32) float64 {
	if len(dst) != len(src) {
		panic(fmt.Errorf("%w: ExpSum lengths %d and %d", ErrShape, len(dst), len(src)))
	}
	done, s := expSumBlocks(dst, src, shift)
	for i := done; i < len(src); i++ {
		e := exp32(src[i] - shift)
		dst[i] = e
		s += float64(e)
	}
	return s
}

// MaxOf returns the largest element of x, or −Inf when x is empty. NaN
// elements are skipped.
func MaxOf(x []float32) float32 {
	m0 := float32(math.Inf(-1))
	m1, m2, m3 := m0, m0, m0
	i := 0
	for ; i+4 <= len(x); i += 4 { // four independent chains
		xx := x[i : i+4 : i+4]
		if xx[0] > m0 {
			m0 = xx[0]
		}
		if xx[1] > m1 {
			m1 = xx[1]
		}
		if xx[2] > m2 {
			m2 = xx[2]
		}
		if xx[3] > m3 {
			m3 = xx[3]
		}
	}
	for ; i < len(x); i++ {
		if x[i] > m0 {
			m0 = x[i]
		}
	}
	return max(max(m0, m1), max(m2, m3))
}

// The constants of the float32 exponential, shared with the assembly kernel
// (exp_amd64.s holds the same values as bit patterns).
const (
	expLog2e = 1.44269504088896341 // 1/ln 2
	expLn2Hi = 0.693359375         // ln 2 = expLn2Hi + expLn2Lo; expLn2Hi·n is exact for |n| ≤ 2^14
	expLn2Lo = -2.12194440e-4
	expLo    = -87.33654            // exp(expLo) is still a normal float32; below it, 0
	expHi    = 88.72283172607421875 // the largest float32 whose exp is finite in float32
	expC0    = 1.9875691500e-4      // exp(r) ≈ 1 + r + r²·P(r) on |r| ≤ ln2/2
	expC1    = 1.3981999507e-3
	expC2    = 8.3334519073e-3
	expC3    = 4.1665795894e-2
	expC4    = 1.6666665459e-1
	expC5    = 5.0000001201e-1
)

// exp32 is the portable float32 exponential of ExpSum: x = n·ln 2 + r with
// n an integer and |r| ≤ ln2/2, exp(r) by a polynomial, and 2^n added to its
// exponent bits.
func exp32(x float32) float32 {
	if x > expHi {
		return float32(math.Inf(1))
	}
	if !(x >= expLo) {
		if x != x { // NaN
			return x
		}
		return 0
	}
	n := float32(math.RoundToEven(float64(x * expLog2e)))
	r := x - n*expLn2Hi
	r -= n * expLn2Lo
	p := float32(expC0)
	p = p*r + expC1
	p = p*r + expC2
	p = p*r + expC3
	p = p*r + expC4
	p = p*r + expC5
	p = p*(r*r) + r + 1
	return math.Float32frombits(math.Float32bits(p) + uint32(int32(n))<<23)
}
