package backbone

import (
	"github.com/llmrec/llmrec/tensor"
)

// ceWork holds the buffers of crossEntropy between steps, so that a training
// step allocates nothing once they have grown.
type ceWork struct {
	hsel, dhsel []float32 // predicted rows' hidden states (times inv) and their gradient
	rows        []int     // token of each predicted row
	targets     []int     // its target, 0-based
	lce         tensor.LinearCrossEntropy
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
// The predicted rows, scaled by the inverse temperature inv, go to
// tensor.LinearCrossEntropy with weight 1/R, in chunks of at most chunk
// rows: per chunk it computes the logits tile by tile, exponentiates them in
// place and runs both gradient products on them (three GEMM-sized products
// and one exponential per logit in all); dh = inv·∂L/∂(inv·h).
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
	loss := c.lce.LossGrad(c.hsel, R, d, w, n, c.targets, 1/float32(R), chunk, c.dhsel, dw)
	for r, t := range c.rows {
		tensor.Axpy(inv, c.dhsel[r*d:(r+1)*d], dh[t*d:(t+1)*d])
	}
	return loss / float64(R)
}
