package tensor

import (
	"fmt"
	"math"
)

// LayerNorm normalizes each row of x (last dimension) to zero mean and unit
// variance, then applies the affine map gamma ⊙ x̂ + beta (gamma and beta may
// be nil for no affine part). mean and rstd (length x.Rows()) receive the row
// statistics that LayerNormBackward needs; they may be nil when no backward
// pass follows. The variance is the biased one, as in PyTorch. It returns dst.
func LayerNorm(dst, x *Tensor, gamma, beta []float32, eps float32, mean, rstd []float32) *Tensor {
	cols, rows := x.Cols(), x.Rows()
	if (gamma != nil && len(gamma) != cols) || (beta != nil && len(beta) != cols) ||
		(mean != nil && len(mean) < rows) || (rstd != nil && len(rstd) < rows) {
		panic(fmt.Errorf("%w: LayerNorm x %v gamma %d beta %d", ErrShape, x.Shape, len(gamma), len(beta)))
	}
	dst.Ensure(x.Shape...)
	for r := 0; r < rows; r++ {
		xr, yr := x.Data[r*cols:(r+1)*cols], dst.Data[r*cols:(r+1)*cols]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mu := s / float64(cols)
		var ss float64
		for _, v := range xr {
			d := float64(v) - mu
			ss += d * d
		}
		rs := 1 / math.Sqrt(ss/float64(cols)+float64(eps))
		m32, r32 := float32(mu), float32(rs)
		for j, v := range xr {
			h := (v - m32) * r32
			if gamma != nil {
				h *= gamma[j]
			}
			if beta != nil {
				h += beta[j]
			}
			yr[j] = h
		}
		if mean != nil {
			mean[r] = m32
		}
		if rstd != nil {
			rstd[r] = r32
		}
	}
	return dst
}

// LayerNormBackward computes the gradients of LayerNorm. Given dy, the input
// x and the saved mean/rstd, it writes dx (accumulating when accumulate is
// true) and adds into dgamma and dbeta (either may be nil). gamma may be nil
// when the forward pass had no affine part.
func LayerNormBackward(dx, dy, x *Tensor, gamma, mean, rstd, dgamma, dbeta []float32, accumulate bool) *Tensor {
	cols, rows := x.Cols(), x.Rows()
	if len(dy.Data) != len(x.Data) || len(mean) < rows || len(rstd) < rows ||
		(gamma != nil && len(gamma) != cols) || (dgamma != nil && len(dgamma) != cols) || (dbeta != nil && len(dbeta) != cols) {
		panic(fmt.Errorf("%w: LayerNormBackward x %v dy %v gamma %d mean %d rstd %d dgamma %d dbeta %d",
			ErrShape, x.Shape, dy.Shape, len(gamma), len(mean), len(rstd), len(dgamma), len(dbeta)))
	}
	dx.Ensure(x.Shape...)
	n := float32(cols)
	for r := 0; r < rows; r++ {
		xr, gr, dr := x.Data[r*cols:(r+1)*cols], dy.Data[r*cols:(r+1)*cols], dx.Data[r*cols:(r+1)*cols]
		mu, rs := mean[r], rstd[r]
		// g = dy ⊙ gamma; dx = rs · (g − mean(g) − x̂ · mean(g ⊙ x̂))
		var sg, sgx float32
		for j, v := range xr {
			xh := (v - mu) * rs
			g := gr[j]
			if dgamma != nil {
				dgamma[j] += g * xh
			}
			if dbeta != nil {
				dbeta[j] += g
			}
			if gamma != nil {
				g *= gamma[j]
			}
			sg += g
			sgx += g * xh
		}
		sg /= n
		sgx /= n
		for j, v := range xr {
			xh := (v - mu) * rs
			g := gr[j]
			if gamma != nil {
				g *= gamma[j]
			}
			d := rs * (g - sg - xh*sgx)
			if accumulate {
				dr[j] += d
			} else {
				dr[j] = d
			}
		}
	}
	return dx
}
