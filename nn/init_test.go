package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

func moments(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

func TestFans(t *testing.T) {
	in, out := Fans([]int{300, 200})
	assert.Equal(t, 200, in)
	assert.Equal(t, 300, out)
	in, out = Fans([]int{32, 16, 3, 3}) // conv: receptive field 9
	assert.Equal(t, 144, in)
	assert.Equal(t, 288, out)
	assert.Panics(t, func() { Fans([]int{5}) })
}

func TestInitStatistics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name     string
		shape    []int
		fill     func(*tensor.Tensor)
		wantStd  float64
		maxAbs   float64 // 0: unbounded
		wantMean float64
	}{
		// std = sqrt(2/(fan_in+fan_out)) = sqrt(2/1000)
		{"XavierNormal 2-D", []int{400, 600}, func(x *tensor.Tensor) { XavierNormal(rng, x) }, math.Sqrt(0.002), 0, 0},
		// fan_in 144, fan_out 288: std = sqrt(2/432)
		{"XavierNormal 4-D", []int{32, 16, 3, 3}, func(x *tensor.Tensor) { XavierNormal(rng, x) }, math.Sqrt(2.0 / 432), 0, 0},
		// bound a = sqrt(6/1000); U(-a,a) has std a/sqrt(3) = sqrt(0.002)
		{"XavierUniform", []int{400, 600}, func(x *tensor.Tensor) { XavierUniform(rng, x) }, math.Sqrt(0.002), math.Sqrt(0.006), 0},
		// a = sqrt(5): bound 1/sqrt(fan_in) = 1/sqrt(600), std bound/sqrt(3)
		{"KaimingUniform", []int{400, 600}, func(x *tensor.Tensor) { KaimingUniform(rng, x, math.Sqrt(5)) }, 1 / math.Sqrt(1800), 1 / math.Sqrt(600), 0},
		// a = 0: std sqrt(2/fan_in)
		{"KaimingNormal", []int{400, 600}, func(x *tensor.Tensor) { KaimingNormal(rng, x, 0) }, math.Sqrt(2.0 / 600), 0, 0},
		{"Normal", []int{500, 500}, func(x *tensor.Tensor) { Normal(rng, x, 0.02) }, 0.02, 0, 0},
		// truncated at ±2σ: variance factor 1 - 2·2·φ(2)/(Φ(2)-Φ(-2)) = 0.7737413
		{"TruncNormal", []int{500, 500}, func(x *tensor.Tensor) { TruncNormal(rng, x, 0.02) }, 0.02 * math.Sqrt(0.7737413), 0.04, 0},
		// U(1,3): mean 2, std 2/sqrt(12)
		{"Uniform", []int{500, 500}, func(x *tensor.Tensor) { Uniform(rng, x, 1, 3) }, 2 / math.Sqrt(12), 3, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := tensor.New(c.shape...)
			c.fill(x)
			mean, std := moments(x.Data)
			n := float64(x.Len())
			assert.InDelta(t, c.wantMean, mean, 5*c.wantStd/math.Sqrt(n), "mean")
			assert.InDelta(t, c.wantStd, std, 0.02*c.wantStd, "std")
			if c.maxAbs > 0 {
				for _, v := range x.Data {
					require.LessOrEqual(t, math.Abs(float64(v)), c.maxAbs*(1+1e-6))
				}
			}
		})
	}
}

func TestZerosOnes(t *testing.T) {
	x := tensor.FromSlice([]float32{1, 2, 3}, 3)
	Zeros(x)
	assert.Equal(t, []float32{0, 0, 0}, x.Data)
	Ones(x)
	assert.Equal(t, []float32{1, 1, 1}, x.Data)
}

func TestInitDeterministic(t *testing.T) {
	a, b := tensor.New(4, 5), tensor.New(4, 5)
	XavierUniform(rand.New(rand.NewPCG(7, 7)), a)
	XavierUniform(rand.New(rand.NewPCG(7, 7)), b)
	assert.Equal(t, a.Data, b.Data)
}
