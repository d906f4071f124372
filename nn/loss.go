package nn

import (
	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

// BCELoss is SASRec's loss: binary cross-entropy of positive logits against
// 1 plus that of negative logits against 0, each the mean over the
// positions where mask is nonzero (mask has pos's element count; nil means
// every position). pos and neg have the same shape.
func BCELoss(t *autograd.Tape, pos, neg *autograd.Value, mask *tensor.Tensor) *autograd.Value {
	ones := t.Full(1, pos.Data.Shape...)
	zeros := t.Full(0, neg.Data.Shape...)
	return t.Add(t.BCEWithLogits(pos, ones, mask), t.BCEWithLogits(neg, zeros, mask))
}

// SampledSoftmaxLoss is the cross-entropy of the positive among k sampled
// negatives: pos holds N logits (any shape), neg [..., k] holds N·k, and the
// loss is the mean over rows with nonzero mask (N entries, nil for all) of
// −log softmax([pos, neg])₀.
func SampledSoftmaxLoss(t *autograd.Tape, pos, neg *autograd.Value, mask *tensor.Tensor) *autograd.Value {
	n := pos.Data.Len()
	k := neg.Data.Cols()
	logits := t.Concat(-1, t.Reshape(pos, n, 1), t.Reshape(neg, n, k))
	return t.CrossEntropy(logits, t.ScratchInts(n), mask) // target 0 = the positive
}

// FullCrossEntropyLoss scores hidden states h [..., d] (N rows) against every row of
// the item table items [V, d] and returns the mean cross-entropy of targets
// (N ids; negative ids and rows with zero mask are skipped). Every row of
// items takes part in the softmax, the padding row included (its logit is 0
// when the row is zero).
func FullCrossEntropyLoss(t *autograd.Tape, h, items *autograd.Value, targets []int, mask *tensor.Tensor) *autograd.Value {
	logits := t.MatMul(h, items, false, true)
	return t.CrossEntropy(logits, targets, mask)
}

// MSELoss is the mean squared error between a and b.
func MSELoss(t *autograd.Tape, a, b *autograd.Value) *autograd.Value { return t.MSE(a, b) }
