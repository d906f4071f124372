package align

import (
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/tensor"
)

// The functions in this file are float64 oracles written directly from the
// formulas in ../shared/docs/methods.md §2.4, with naive loops and no shared
// code with the package. Tests compare the autograd losses against them.

func sqd(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// refBandwidthMean is the mean of ||f_p - f_q||^2 over all (T x T) ordered
// pairs of F = [X; Y], diagonal included.
func refBandwidthMean(x, y [][]float64) float64 {
	f := append(append([][]float64{}, x...), y...)
	var s float64
	for p := range f {
		for q := range f {
			s += sqd(f[p], f[q])
		}
	}
	return s / float64(len(f)*len(f))
}

func refKernel(a, b []float64, mean float64, alphas, weights []float64) float64 {
	d := sqd(a, b)
	var k float64
	for u, al := range alphas {
		k += weights[u] * math.Exp(-d/(2*al*mean))
	}
	return k
}

// refMMD computes the MK-MMD estimate named by est: "unbiased", "biased",
// "pad" (unbiased + 2/(N-1)), or "linear".
func refMMD(x, y [][]float64, alphas, weights []float64, est string) float64 {
	return refMMDAt(x, y, alphas, weights, est, refBandwidthMean(x, y))
}

// refMMDAt is refMMD with the bandwidth mean given (held fixed).
func refMMDAt(x, y [][]float64, alphas, weights []float64, est string, mean float64) float64 {
	k := func(a, b []float64) float64 { return refKernel(a, b, mean, alphas, weights) }
	n, m := float64(len(x)), float64(len(y))
	switch est {
	case "unbiased", "pad":
		var sxx, syy, sxy float64
		for i := range x {
			for j := range x {
				if i != j {
					sxx += k(x[i], x[j])
				}
			}
		}
		for i := range y {
			for j := range y {
				if i != j {
					syy += k(y[i], y[j])
				}
			}
		}
		for i := range x {
			for j := range y {
				sxy += k(x[i], y[j])
			}
		}
		v := sxx/(n*(n-1)) + syy/(m*(m-1)) - 2*sxy/(n*m)
		if est == "pad" {
			v += 2 / (n - 1)
		}
		return v
	case "biased":
		var sxx, syy, sxy float64
		for i := range x {
			for j := range x {
				sxx += k(x[i], x[j])
			}
		}
		for i := range y {
			for j := range y {
				syy += k(y[i], y[j])
			}
		}
		for i := range x {
			for j := range y {
				sxy += k(x[i], y[j])
			}
		}
		return sxx/(n*n) + syy/(m*m) - 2*sxy/(n*m)
	case "linear":
		// Gretton et al. (2012), Lemma 14: pairs (x_{2i-1}, x_{2i}, y_{2i-1}, y_{2i}).
		var s float64
		p := len(x) / 2
		for i := 0; i < p; i++ {
			x1, x2, y1, y2 := x[2*i], x[2*i+1], y[2*i], y[2*i+1]
			s += k(x1, x2) + k(y1, y2) - k(x1, y2) - k(x2, y1)
		}
		return s / float64(p)
	}
	panic("unknown estimator " + est)
}

// refInfoNCE is -1/N Σ_i log softmax_j(<x_i, y_j>/τ)[i], optionally with
// cosine-normalized rows.
func refInfoNCE(x, y [][]float64, tau float64, cosine bool) float64 {
	norm := func(v []float64) []float64 {
		if !cosine {
			return v
		}
		var s float64
		for _, a := range v {
			s += a * a
		}
		s = math.Sqrt(s)
		out := make([]float64, len(v))
		for i, a := range v {
			out[i] = a / s
		}
		return out
	}
	var loss float64
	for i := range x {
		xi := norm(x[i])
		logits := make([]float64, len(y))
		mx := math.Inf(-1)
		for j := range y {
			yj := norm(y[j])
			var d float64
			for c := range xi {
				d += xi[c] * yj[c]
			}
			logits[j] = d / tau
			mx = math.Max(mx, logits[j])
		}
		var z float64
		for _, l := range logits {
			z += math.Exp(l - mx)
		}
		loss -= logits[i] - mx - math.Log(z)
	}
	return loss / float64(len(x))
}

// gaussRows draws n rows of d standard-normal values shifted by shift in
// every coordinate.
func gaussRows(r *rand.Rand, n, d int, shift float64) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		for j := range out[i] {
			out[i][j] = r.NormFloat64() + shift
		}
	}
	return out
}

func toTensor(rows [][]float64) *tensor.Tensor {
	t := tensor.New(len(rows), len(rows[0]))
	for i, r := range rows {
		for j, v := range r {
			t.Data[i*len(r)+j] = float32(v)
		}
	}
	return t
}

// toF64 rounds rows through float32, so that the oracle sees exactly the
// numbers the float32 code sees.
func toF64(t *tensor.Tensor) [][]float64 {
	out := make([][]float64, t.Rows())
	for i := range out {
		row := t.Row(i)
		out[i] = make([]float64, len(row))
		for j, v := range row {
			out[i][j] = float64(v)
		}
	}
	return out
}
