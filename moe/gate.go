package moe

import (
	"fmt"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// Gate gives mixture weights per candidate item: Weights returns a
// [len(items), K] Value recorded on t whose rows are non-negative and sum to
// 1, row n weighting the K experts' scores of items[n].
//
// Item ids are those of the model's item table (0 = padding). An id outside
// the gate's range is a programming error (ids are validated when data is
// read) and panics.
type Gate interface {
	Weights(t *autograd.Tape, items []int) *autograd.Value
}

// Mix combines K expert scores with gate weights w [N, K]:
//
//	out[n] = Σ_k w[n,k] · scores[k][n].
//
// Every score must hold N elements and all must have the same shape (for
// example [N], or [B, L] with N = B·L and w computed for the flattened
// candidates); the result has that shape. Mismatches panic with an error
// wrapping tensor.ErrShape.
func Mix(t *autograd.Tape, w *autograd.Value, scores ...*autograd.Value) *autograd.Value {
	W := w.Data
	if W.Dims() != 2 || W.Shape[1] != len(scores) || len(scores) == 0 {
		panic(fmt.Errorf("%w: moe.Mix: weights %v for %d expert scores", tensor.ErrShape, W.Shape, len(scores)))
	}
	n := W.Shape[0]
	shape := scores[0].Data.Shape
	cols := make([]*autograd.Value, len(scores))
	for k, s := range scores {
		if s.Data.Len() != n || !tensor.SameShape(s.Data.Shape, shape) {
			panic(fmt.Errorf("%w: moe.Mix: expert %d score %v, want %v with %d elements", tensor.ErrShape, k, s.Data.Shape, shape, n))
		}
		cols[k] = t.Reshape(s, n, 1)
	}
	out := t.RowDot(w, t.Concat(1, cols...))
	return t.Reshape(out, shape...)
}

// Combine is Mix(t, g.Weights(t, items), scores...): the gated score of each
// candidate item.
func Combine(t *autograd.Tape, g Gate, items []int, scores ...*autograd.Value) *autograd.Value {
	return Mix(t, g.Weights(t, items), scores...)
}

// Normalization turns a gate's logits z [N, K] into weights.
type Normalization int

const (
	// SigmoidNorm is PAD's rule: g_k = σ(z_k) / Σ_k' σ(z_k'). Each expert's
	// logit saturates on its own, so an expert can be switched off
	// (z → −∞) without the others having to grow.
	SigmoidNorm Normalization = iota
	// SoftmaxNorm is g = softmax(z).
	SoftmaxNorm
)

// String returns the normalization's name.
func (n Normalization) String() string {
	switch n {
	case SigmoidNorm:
		return "sigmoid"
	case SoftmaxNorm:
		return "softmax"
	}
	return fmt.Sprintf("Normalization(%d)", int(n))
}

// normalize applies norm to logits z [N, K] on t.
func normalize(t *autograd.Tape, z *autograd.Value, norm Normalization) *autograd.Value {
	switch norm {
	case SigmoidNorm:
		s := t.Sigmoid(z)
		n := z.Data.Shape[0]
		// 1/Σσ as exp(−log Σσ): no division op is needed, and Σσ > 0 unless
		// every logit is below −88 (float32 underflow).
		inv := t.Exp(t.Neg(t.Log(t.SumLast(s))))
		return t.Mul(s, t.Reshape(inv, n, 1))
	case SoftmaxNorm:
		return t.Softmax(z, nil)
	}
	panic(fmt.Errorf("moe: unknown normalization %v", norm))
}

// Valid reports whether n is one of the declared normalizations.
func (n Normalization) Valid() bool { return n == SigmoidNorm || n == SoftmaxNorm }

// ErrBadConfig is backbone.ErrBadConfig (= nn.ErrBadConfig): a gate or
// mixture configuration that cannot work. NewMixture checks the gate with
// Validate when it has one, so a bad setting is an error when the model is
// built, not a panic at the first step.
var ErrBadConfig = backbone.ErrBadConfig

// Validate reports an unknown normalization.
func (g *FreqGate) Validate() error {
	if !g.Norm.Valid() {
		return fmt.Errorf("moe: %w: FreqGate normalization %v", ErrBadConfig, g.Norm)
	}
	return nil
}

// Validate reports an unknown normalization.
func (g *FeatureGate) Validate() error {
	if !g.Norm.Valid() {
		return fmt.Errorf("moe: %w: FeatureGate normalization %v", ErrBadConfig, g.Norm)
	}
	return nil
}
