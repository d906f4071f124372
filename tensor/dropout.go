package tensor

import (
	"math"
	"math/rand/v2"
)

// DropoutMask fills m with inverted-dropout multipliers: 0 with probability
// p, else 1/(1−p). It is the one mask generator of the library (the
// hand-differentiated encoders and tables, and the tape's Dropout op).
//
// Each decision uses the fewest random bits that represent p exactly (1 bit
// for p = 0.5, 2 for 0.25 or 0.75, ... up to 16; other values of p are
// rounded to a multiple of 2^-16, e.g. 0.2 to 0.199997), so one 64-bit draw
// serves up to 64 elements. p ≤ 0 gives all ones, p ≥ 1 all zeros.
func DropoutMask(rng *rand.Rand, m []float32, p float64) {
	switch {
	case p <= 0 || math.IsNaN(p):
		for i := range m {
			m[i] = 1
		}
		return
	case p >= 1:
		clear(m)
		return
	}
	keep := float32(1 / (1 - p))
	bits := uint(16)
	for b := uint(1); b < 16; b++ {
		if x := p * float64(uint64(1)<<b); x == math.Trunc(x) {
			bits = b
			break
		}
	}
	thr := uint64(math.Round(p * float64(uint64(1)<<bits)))
	mask := uint64(1)<<bits - 1
	per := int(64 / bits)
	i := 0
	for ; i+per <= len(m); i += per {
		r := rng.Uint64()
		mm := m[i : i+per]
		for j := range mm {
			// branch-free: (r&mask - thr) wraps around exactly when r&mask < thr
			mm[j] = float32(1-((r&mask-thr)>>63)) * keep
			r >>= bits
		}
	}
	if i < len(m) {
		r := rng.Uint64()
		for ; i < len(m); i++ {
			if r&mask < thr {
				m[i] = 0
			} else {
				m[i] = keep
			}
			r >>= bits
		}
	}
}
