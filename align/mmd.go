package align

import (
	"fmt"
	"math"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// Estimator selects how MKMMD estimates the squared MMD from two batches.
type Estimator int

const (
	// Unbiased is the U-statistic: within-domain pairs exclude the diagonal,
	//   1/(N(N−1)) Σ_{i≠j} k(x_i,x_j) + 1/(M(M−1)) Σ_{i≠j} k(y_i,y_j) − 2/(NM) Σ_{i,j} k(x_i,y_j).
	// It is near 0 (and may be slightly negative) for two samples of one
	// distribution. N ≠ M is allowed; N, M ≥ 2.
	Unbiased Estimator = iota
	// Biased is the V-statistic: every pair, diagonal included, with
	// weights 1/N², 1/M² and −2/(NM). It is never negative but is positive
	// even for one distribution. N ≠ M is allowed.
	Biased
	// UnbiasedOffset is Unbiased + 2/(N−1): the value of the MK-MMD in
	// tllib's DAN (MultipleKernelMaximumMeanDiscrepancy, linear=False) that
	// PAD's alignment phase uses. The constant does not change gradients.
	// It needs N = M.
	UnbiasedOffset
	// Linear is Gretton et al.'s linear-time statistic: with pairs
	// (x_{2i−1}, x_{2i}, y_{2i−1}, y_{2i}), i = 1..⌊N/2⌋, the mean of
	//   h = k(x,x') + k(y,y') − k(x,y') − k(x',y).
	// It costs O(N·d) instead of O(N²·d) and has the same expectation as
	// Unbiased but a larger variance. It needs N = M (an odd last row is
	// dropped).
	Linear
)

// String returns the estimator's name.
func (e Estimator) String() string {
	switch e {
	case Unbiased:
		return "unbiased"
	case Biased:
		return "biased"
	case UnbiasedOffset:
		return "unbiased+offset"
	case Linear:
		return "linear"
	}
	return fmt.Sprintf("Estimator(%d)", int(e))
}

// DefaultAlphas are the bandwidth multipliers of PAD's MK-MMD (tllib
// GaussianKernel(alpha=2**k) for k in -3..1).
var DefaultAlphas = []float64{0.125, 0.25, 0.5, 1, 2}

// MKMMD is the multi-kernel maximum mean discrepancy with Gaussian kernels
// that PAD uses to align text and ID item embeddings.
//
// Kernel u is k_u(a,b) = exp(−‖a−b‖² / (2σ_u²)) with σ_u² = α_u · m, where m
// is the mean of ‖f_p − f_q‖² over all ordered pairs (diagonal included) of
// the joined batch F = [X; Y]. m is recomputed from the forward values of
// every batch and treated as a constant (no gradient flows through the
// bandwidth), as in tllib. The kernel is k = Σ_u w_u k_u.
//
// The zero value is ready to use: DefaultAlphas, equal weights 1, the
// Unbiased estimator. An MKMMD holds configuration only and is safe for
// concurrent use (each goroutine with its own tape) as long as its fields are
// not modified.
type MKMMD struct {
	// Alphas are the bandwidth multipliers α_u; nil means DefaultAlphas.
	Alphas []float64
	// Weights are the kernel weights w_u (one per alpha); nil means 1 each.
	Weights []float64
	// Estimator selects the estimator; the zero value is Unbiased.
	Estimator Estimator
	// FixedBandwidth, when > 0, replaces the per-batch mean squared
	// distance m (σ_u² = α_u · FixedBandwidth). The loss is then a smooth
	// function of x and y with exact gradients, which is what gradient checks
	// need; 0 (the default) recomputes m from every batch.
	FixedBandwidth float64
}

// kernels returns the alphas and weights in effect, panicking on a
// configuration that cannot be used (see Validate; NewAnchored reports it as
// an error before training).
func (m MKMMD) kernels() (alphas, weights []float64) {
	if err := m.Validate(); err != nil {
		panic(err)
	}
	alphas = m.Alphas
	if alphas == nil {
		alphas = DefaultAlphas
	}
	return alphas, m.Weights
}

// Bandwidth returns the mean squared distance m over all ordered pairs of
// rows of [x; y] (diagonal included), computed in O((N+M)·d) as
// 2/T · Σ_p ‖f_p − f̄‖² with T = N+M, in float64. Kernel u of MKMMD uses
// σ_u² = α_u · m. x and y must have the same number of columns.
func Bandwidth(x, y *tensor.Tensor) float64 {
	m, _ := jointStats(x, y)
	return m
}

// jointStats returns Bandwidth(x, y) and the mean row f̄ of [x; y].
func jointStats(x, y *tensor.Tensor) (float64, []float64) {
	d := x.Cols()
	if y.Cols() != d {
		panic(fmt.Errorf("%w: align.Bandwidth: x %v and y %v", tensor.ErrShape, x.Shape, y.Shape))
	}
	T := x.Rows() + y.Rows()
	mean := make([]float64, d)
	if T == 0 {
		return 0, mean
	}
	for _, t := range []*tensor.Tensor{x, y} {
		for i, v := range t.Data {
			mean[i%d] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(T)
	}
	var s float64
	for _, t := range []*tensor.Tensor{x, y} {
		for i, v := range t.Data {
			e := float64(v) - mean[i%d]
			s += e * e
		}
	}
	return 2 * s / float64(T), mean
}

// sqDist returns D[i,j] = ‖a_i − b_j‖² on t as ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j,
// so that the O(N·M·d) work runs in GEMM (forward and backward). Callers
// center a and b on their joint mean first, which leaves D unchanged and
// keeps the cancellation small. With same (a and b are one Value), the
// diagonal is set to exactly 0.
func sqDist(t *autograd.Tape, a, b *autograd.Value, same bool) *autograd.Value {
	n, m := a.Data.Shape[0], b.Data.Shape[0]
	na := t.RowDot(a, a)
	nb := na
	if !same {
		nb = t.RowDot(b, b)
	}
	D := t.Add(t.Scale(t.MatMul(a, b, false, true), -2), t.Reshape(na, n, 1))
	D = t.Add(D, nb)
	if same {
		mask := t.Scratch(n, m)
		for i := range mask.Data {
			mask.Data[i] = 1
		}
		for i := range n {
			mask.Data[i*m+i] = 0
		}
		D = t.Mul(D, t.Const(mask))
	}
	return D
}

// Loss returns the MK-MMD estimate between x [N,d] and y [M,d] as a scalar
// on t. See Estimator for the size requirements; violations panic with an
// error wrapping tensor.ErrShape.
func (m MKMMD) Loss(t *autograd.Tape, x, y *autograd.Value) *autograd.Value {
	alphas, weights := m.kernels()
	equal := m.Estimator == UnbiasedOffset || m.Estimator == Linear
	n, k := checkPair("MKMMD", x, y, 2, equal)
	bw, mean := jointStats(x.Data, y.Data)
	if m.FixedBandwidth > 0 {
		bw = m.FixedBandwidth
	}
	if !(bw > 0) || math.IsInf(bw, 0) {
		// Every point is identical (or the data is not finite): any
		// bandwidth gives k = 1 everywhere; use 1 instead of dividing by 0.
		bw = 1
	}
	// coef[u] multiplies the squared distance inside exp for kernel u.
	coef := make([]float32, len(alphas))
	var wsum float64
	for u, a := range alphas {
		coef[u] = float32(-1 / (2 * a * bw))
		if weights == nil {
			wsum++
		} else {
			wsum += weights[u]
		}
	}
	w := func(u int) float64 {
		if weights == nil {
			return 1
		}
		return weights[u]
	}
	// ksum returns Σ_u w_u Σ exp(coef_u · D) · scale as a scalar Value.
	ksum := func(D *autograd.Value, scale float64) *autograd.Value {
		var acc *autograd.Value
		for u := range alphas {
			s := t.Scale(t.Sum(t.Exp(t.Scale(D, coef[u]))), float32(scale*w(u)))
			if acc == nil {
				acc = s
			} else {
				acc = t.Add(acc, s)
			}
		}
		return acc
	}
	N, M := float64(n), float64(k)
	switch m.Estimator {
	case Unbiased, UnbiasedOffset, Biased:
		cxx, cyy := 1/(N*(N-1)), 1/(M*(M-1))
		var konst float64
		if m.Estimator == Biased {
			cxx, cyy = 1/(N*N), 1/(M*M)
		} else {
			// Remove the diagonal: k(a,a) = Σ_u w_u exactly, since sqDist
			// sets D_ii = 0.
			konst = -wsum/(N-1) - wsum/(M-1)
			if m.Estimator == UnbiasedOffset {
				konst += 2 / (N - 1)
			}
		}
		// Center on the joint mean (a constant translation: distances and
		// their gradients are unchanged, the GEMM form loses less precision).
		c := t.Scratch(len(mean))
		for j, v := range mean {
			c.Data[j] = float32(v)
		}
		cx, cy := t.Sub(x, t.Const(c)), t.Sub(y, t.Const(c))
		l := t.Add(ksum(sqDist(t, cx, cx, true), cxx), ksum(sqDist(t, cy, cy, true), cyy))
		l = t.Add(l, ksum(sqDist(t, cx, cy, false), -2/(N*M)))
		if konst != 0 {
			l = t.AddScalar(l, float32(konst))
		}
		return l
	case Linear:
		p := n / 2
		odd, even := t.ScratchInts(p), t.ScratchInts(p)
		for i := range p {
			odd[i], even[i] = 2*i, 2*i+1
		}
		x1, x2 := t.Gather(x, odd, -1), t.Gather(x, even, -1)
		y1, y2 := t.Gather(y, odd, -1), t.Gather(y, even, -1)
		sq := func(a, b *autograd.Value) *autograd.Value {
			d := t.Sub(a, b)
			return t.RowDot(d, d)
		}
		// D = [d(x,x') ; d(y,y') ; d(x,y') ; d(x',y)], each of length p.
		D := t.Concat(0, sq(x1, x2), sq(y1, y2), sq(x1, y2), sq(x2, y1))
		sign := t.Scratch(4 * p)
		for i := range sign.Data {
			if i < 2*p {
				sign.Data[i] = 1
			} else {
				sign.Data[i] = -1
			}
		}
		signs := t.Const(sign)
		var acc *autograd.Value
		for u := range alphas {
			s := t.Scale(t.Sum(t.Mul(t.Exp(t.Scale(D, coef[u])), signs)), float32(w(u)/float64(p)))
			if acc == nil {
				acc = s
			} else {
				acc = t.Add(acc, s)
			}
		}
		return acc
	}
	panic(fmt.Errorf("align.MKMMD: unknown estimator %v", m.Estimator))
}
