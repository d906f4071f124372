package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expInputs returns a dense sweep of [-110, 95] (past both ends of the
// float32 range of exp), the float32 neighbours of the cut-offs, and the
// special values.
func expInputs() []float32 {
	var xs []float32
	for x := -110.0; x <= 95; x += 0.0137 {
		xs = append(xs, float32(x))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		xs = append(xs, float32(rng.Float64()*2-1)) // near 0, where r is the whole argument
	}
	for _, c := range []float32{expLo, expHi, 0, -0.5 * math.Ln2, 0.5 * math.Ln2} {
		xs = append(xs, c, math.Nextafter32(c, -200), math.Nextafter32(c, 200))
	}
	inf := float32(math.Inf(1))
	return append(xs, -inf, inf, math.MaxFloat32, -math.MaxFloat32, float32(math.NaN()))
}

// checkExp compares got[i] = exp(xs[i]) with math.Exp: relative error at most
// 3e-7 where the exact result is a normal float32, exactly 0 below the lower
// cut-off, +Inf where the float32 result overflows, NaN for NaN.
func checkExp(t *testing.T, name string, xs, got []float32) {
	t.Helper()
	var worst float64
	for i, x := range xs {
		want := math.Exp(float64(x))
		g := float64(got[i])
		switch {
		case math.IsNaN(float64(x)):
			require.True(t, math.IsNaN(g), "%s: exp(NaN) = %v", name, g)
		case x < expLo:
			require.Equal(t, 0.0, g, "%s: exp(%v) must flush to 0", name, x)
		case float32(want) > math.MaxFloat32 || math.IsInf(want, 1):
			require.True(t, math.IsInf(g, 1), "%s: exp(%v) = %v, want +Inf", name, x, g)
		default:
			require.GreaterOrEqual(t, want, 0x1p-126, "%s: exp(%v) is not normal: the cut-off is wrong", name, x)
			rel := math.Abs(g-want) / want
			require.LessOrEqual(t, rel, 3e-7, "%s: exp(%v) = %v, want %v", name, x, g, want)
			worst = max(worst, rel)
		}
	}
	t.Logf("%s: worst relative error %.3g over %d inputs", name, worst, len(xs))
}

func TestExpSumAccuracy(t *testing.T) {
	xs := expInputs()
	// the portable scalar exponential (the purego build's path) ...
	port := make([]float32, len(xs))
	for i, x := range xs {
		port[i] = exp32(x)
	}
	checkExp(t, "exp32", xs, port)
	// ... and ExpSum (the assembly kernel where the CPU has one), on
	// lengths that leave a tail for the scalar loop, with a shift
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 1000, len(xs)} {
		const shift = 2.5
		src := make([]float32, n)
		for i := range src {
			j := i
			if n < len(xs) {
				j = rng.IntN(len(xs) - 6) // not the special values at the end
			}
			src[i] = xs[j] + shift
		}
		got := make([]float32, n)
		s := ExpSum(got, src, shift)
		var xsub []float32
		for i := range src {
			xsub = append(xsub, src[i]-shift)
		}
		checkExp(t, "ExpSum", xsub, got)
		var want float64
		for _, v := range got {
			want += float64(v)
		}
		if n == len(xs) {
			assert.True(t, math.IsNaN(s), "a NaN input makes the sum NaN") // xs ends in +Inf, NaN
		} else {
			assert.InDelta(t, want, s, 1e-12*max(want, 1), "n=%d", n)
		}
	}
}

// TestExpSumAliasAndSum checks dst aliasing src and the float64 sum of a
// softmax row against math.Exp summed in float64.
func TestExpSumAliasAndSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 12101)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 4)
	}
	mx := MaxOf(x)
	var want float64
	for _, v := range x {
		want += math.Exp(float64(v - mx))
	}
	got := ExpSum(x, x, mx)
	assert.InDelta(t, want, got, 3e-7*want)
	assert.Equal(t, float32(1), MaxOf(x), "the maximum maps to exp(0) = 1 exactly")
	assert.Panics(t, func() { ExpSum(x[:3], x[:4], 0) })
}

func TestMaxOf(t *testing.T) {
	assert.True(t, math.IsInf(float64(MaxOf(nil)), -1))
	for n := 1; n < 12; n++ {
		for at := 0; at < n; at++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = -float32(i) - 10
			}
			x[at] = 3
			assert.Equal(t, float32(3), MaxOf(x), "n=%d at=%d", n, at)
		}
	}
	assert.Equal(t, float32(-1), MaxOf([]float32{float32(math.NaN()), -1, -2}))
}

// benchRow returns a softmax row of Beauty's width (shifted logits <= 0)
// and a destination, and sets the benchmark's byte count.
func benchRow(b *testing.B) (x, y []float32) {
	x = make([]float32, 12101)
	for i := range x {
		x[i] = float32(i%97) * -0.1
	}
	b.SetBytes(int64(4 * len(x)))
	return x, make([]float32, len(x))
}

func BenchmarkExpSum(b *testing.B) {
	x, y := benchRow(b)
	for b.Loop() {
		ExpSum(y, x, 0)
	}
}

// BenchmarkExpSumMathExp is the float64 math.Exp loop ExpSum replaces.
func BenchmarkExpSumMathExp(b *testing.B) {
	x, y := benchRow(b)
	for b.Loop() {
		var s float64
		for i, v := range x {
			e := math.Exp(float64(v))
			y[i] = float32(e)
			s += e
		}
	}
}
