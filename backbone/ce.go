package backbone

import (
	"math"

	"github.com/llmrec/llmrec/tensor"
)

// ceWork holds the buffers of crossEntropy between steps, so that a training
// step allocates nothing once they have grown.
type ceWork struct {
	hsel, dhsel []float32 // predicted rows' hidden states (scaled) and their gradient
	rows        []int     // token of each predicted row
	targets     []int     // its target, 0-based
	logits      []float32 // one chunk of logits, overwritten by exp(z − max)
	scale       []float32 // per row of a chunk: 1/(R·Σ exp)
	hs          []float32 // a chunk's hidden states scaled by scale
	dwT         []float32 // the gradient of the exponentials' part in w, transposed (d x n)
}

// crossEntropy is the full-softmax cross-entropy of LossCrossEntropy, fused
// so that the rows x items matrix never exists and nothing is computed twice.
// h holds T token rows of width d; target[t] is the item (1..n) token t
// predicts, or 0 for a padding or unpredicted token, which takes no part;
// w holds the vectors of items 1..n (n x d). With z_r = inv·h_r·wᵀ and R
// predicted rows, it returns
//
//	L = (1/R) Σ_r [log Σ_j exp(z_rj) − z_r,target]
//
// and adds ∂L/∂h into dh (T x d) and ∂L/∂w into dw (n x d).
//
// The rows go in chunks of at most chunk rows. Per chunk, one GEMM gives the
// logits Z = inv·H·wᵀ; each row is shifted by its maximum and exponentiated
// in place (tensor.ExpSum, which also gives the normaliser s_r), and the
// loss is log s_r + max_r − z_r,target. The gradient of the logits is
// G = diag(scale)·E − onehot/R with E the exponentials and scale_r =
// 1/(R·s_r), so instead of a pass that scales E, the scale goes onto the
// thin sides: dwᵀ += (scale ⊙ inv·H)ᵀ·E and dH = scale ⊙ (E·w), two more
// GEMMs (dw is accumulated transposed so that E is never packed
// transposed), and the one-hot part is a row update per target. With inv
// the inverse temperature, dh = inv·dH.
func (c *ceWork) crossEntropy(h []float32, d int, target []int, w []float32, n int, inv float32, chunk int, dh, dw []float32) float64 {
	c.rows, c.targets = c.rows[:0], c.targets[:0]
	for t, tg := range target {
		if tg != 0 {
			c.rows = append(c.rows, t)
			c.targets = append(c.targets, tg-1)
		}
	}
	R := len(c.rows)
	if R == 0 {
		return 0
	}
	c.hsel = growF(c.hsel, R*d)
	c.dhsel = growF(c.dhsel, R*d)
	for r, t := range c.rows {
		src, dst := h[t*d:(t+1)*d], c.hsel[r*d:(r+1)*d]
		for j, v := range src {
			dst[j] = v * inv
		}
	}
	chunk = max(1, min(chunk, R))
	c.logits = growF(c.logits, chunk*n)
	c.scale = growF(c.scale, chunk)
	c.hs = growF(c.hs, chunk*d)
	c.dwT = growF(c.dwT, d*n)
	invR := 1 / float32(R)
	var loss float64
	for lo := 0; lo < R; lo += chunk {
		hi := min(lo+chunk, R)
		m := hi - lo
		hc, dhc := c.hsel[lo*d:hi*d], c.dhsel[lo*d:hi*d]
		z := c.logits[:m*n]
		tensor.Gemm(false, true, m, n, d, 1, hc, d, w, d, 0, z, n)
		for r := range m {
			zr := z[r*n : (r+1)*n]
			mx := tensor.MaxOf(zr)
			zt := zr[c.targets[lo+r]]
			s := tensor.ExpSum(zr, zr, mx)
			loss += math.Log(s) + float64(mx) - float64(zt)
			sc := float32(1 / (s * float64(R)))
			c.scale[r] = sc
			hr, hsr := hc[r*d:(r+1)*d], c.hs[r*d:(r+1)*d]
			for j, v := range hr {
				hsr[j] = v * sc
			}
		}
		// dwᵀ += (scale ⊙ H)ᵀ·E: E enters untransposed, as the cheap operand to pack
		beta := float32(1)
		if lo == 0 {
			beta = 0
		}
		tensor.Gemm(true, false, d, n, m, 1, c.hs[:m*d], d, z, n, beta, c.dwT, n)
		tensor.Gemm(false, false, m, d, n, 1, z, n, w, d, 0, dhc, d)
		for r := range m {
			tg := c.targets[lo+r]
			dr := dhc[r*d : (r+1)*d]
			sc := c.scale[r]
			for j := range dr {
				dr[j] *= sc
			}
			tensor.Axpy(-invR, w[tg*d:(tg+1)*d], dr)
			tensor.Axpy(-invR, hc[r*d:(r+1)*d], dw[tg*d:(tg+1)*d])
		}
	}
	for r, t := range c.rows {
		tensor.Axpy(inv, c.dhsel[r*d:(r+1)*d], dh[t*d:(t+1)*d])
	}
	for i := range n {
		wr := dw[i*d : (i+1)*d]
		for j := range wr {
			wr[j] += c.dwT[j*n+i]
		}
	}
	return loss / float64(R)
}
