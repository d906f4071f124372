package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/tensor"
)

// Fans returns the fan-in and fan-out of a weight of the given shape, by
// PyTorch's rule: for a 2-D [out, in] weight fan_in = in and fan_out = out;
// for more dimensions [out, in, k...] both are multiplied by the receptive
// field size prod(k...). It panics with tensor.ErrShape for fewer than two
// dimensions, where fans are undefined.
func Fans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		panic(fmt.Errorf("%w: fan-in/fan-out need at least 2 dimensions, got %v", tensor.ErrShape, shape))
	}
	rf := 1
	for _, d := range shape[2:] {
		rf *= d
	}
	return shape[1] * rf, shape[0] * rf
}

// XavierNormal fills t (at least 2-D) from N(0, std²) with
// std = sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010; PyTorch's
// xavier_normal_ with gain 1).
func XavierNormal(rng *rand.Rand, t *tensor.Tensor) {
	in, out := Fans(t.Shape)
	Normal(rng, t, math.Sqrt(2/float64(in+out)))
}

// XavierUniform fills t (at least 2-D) from U(-a, a) with
// a = sqrt(6 / (fan_in + fan_out)) (PyTorch's xavier_uniform_ with gain 1).
func XavierUniform(rng *rand.Rand, t *tensor.Tensor) {
	in, out := Fans(t.Shape)
	a := math.Sqrt(6 / float64(in+out))
	Uniform(rng, t, -a, a)
}

// KaimingUniform fills t (at least 2-D) from U(-b, b) with
// b = sqrt(6 / ((1 + a²) fan_in)), PyTorch's kaiming_uniform_ for a leaky
// ReLU of negative slope a in fan_in mode. With a = sqrt(5) this is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the default initialisation of
// PyTorch's nn.Linear weight.
func KaimingUniform(rng *rand.Rand, t *tensor.Tensor, a float64) {
	in, _ := Fans(t.Shape)
	b := math.Sqrt(6 / ((1 + a*a) * float64(in)))
	Uniform(rng, t, -b, b)
}

// KaimingNormal fills t (at least 2-D) from N(0, std²) with
// std = sqrt(2 / ((1 + a²) fan_in)) (PyTorch's kaiming_normal_, fan_in mode).
func KaimingNormal(rng *rand.Rand, t *tensor.Tensor, a float64) {
	in, _ := Fans(t.Shape)
	Normal(rng, t, math.Sqrt(2/((1+a*a)*float64(in))))
}

// Normal fills t from N(0, std²).
func Normal(rng *rand.Rand, t *tensor.Tensor, std float64) {
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * std)
	}
}

// TruncNormal fills t from N(0, std²) restricted to [-2 std, 2 std] by
// rejection (the truncated normal BERT-style models initialise with).
func TruncNormal(rng *rand.Rand, t *tensor.Tensor, std float64) {
	for i := range t.Data {
		z := rng.NormFloat64()
		for z < -2 || z > 2 {
			z = rng.NormFloat64()
		}
		t.Data[i] = float32(z * std)
	}
}

// Uniform fills t from U(lo, hi).
func Uniform(rng *rand.Rand, t *tensor.Tensor, lo, hi float64) {
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// Zeros sets every element of t to 0.
func Zeros(t *tensor.Tensor) { t.Zero() }

// Ones sets every element of t to 1.
func Ones(t *tensor.Tensor) { t.Fill(1) }
