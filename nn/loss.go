package nn

import (
	"fmt"

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

// GBCEBeta returns gBCE's exponent β for k negatives sampled uniformly from
// numItems items and calibration t in [0, 1] (Petrov and Macdonald,
// gSASRec, RecSys 2023): with the sampling rate α = k/(numItems − 1),
// β = α·(t·(1 − 1/α) + 1/α) = 1 − t·(1 − α). t = 0 gives β = 1 (plain
// BCE), t = 1 gives β = α (fully calibrated). Arguments outside these
// ranges (k < 1, numItems < 2, k > numItems − 1, t outside [0, 1] or NaN)
// are an error wrapping ErrBadConfig.
func GBCEBeta(k, numItems int, t float64) (float64, error) {
	if k < 1 || numItems < 2 || k > numItems-1 {
		return 0, fmt.Errorf("nn: %w: gBCE with %d negatives among %d items (want 1 <= k <= items-1)", ErrBadConfig, k, numItems)
	}
	if !(t >= 0 && t <= 1) {
		return 0, fmt.Errorf("nn: %w: gBCE calibration t %v (want 0 <= t <= 1)", ErrBadConfig, t)
	}
	alpha := float64(k) / float64(numItems-1)
	return 1 - t*(1-alpha), nil
}

// GBCELoss is gSASRec's generalised binary cross-entropy: per row,
// β·softplus(−s_p) + Σ_i softplus(s_{n_i}), i.e. −log σ(s_p)^β −
// Σ log(1 − σ(s_n)), for pos (N logits) and neg [N, k], divided by k + 1
// and averaged over the rows where mask is nonzero (N entries, nil for
// all): the mean over all 1 + k logits that gSASRec's reference takes. β
// comes from GBCEBeta; β = 1 is BCE with every logit weighted alike (unlike
// BCELoss, which averages the negatives of a row). negWeight, when not nil,
// has neg's N·k elements and weighs each negative (0 drops one, as a
// sampled negative equal to the row's positive). It panics with
// tensor.ErrShape on mismatched shapes.
func GBCELoss(t *autograd.Tape, pos, neg *autograd.Value, beta float64, negWeight, mask *tensor.Tensor) *autograd.Value {
	n := pos.Data.Len()
	k := neg.Data.Cols()
	if neg.Data.Len() != n*k || (mask != nil && mask.Len() != n) || (negWeight != nil && negWeight.Len() != n*k) {
		panic(fmt.Errorf("%w: GBCELoss pos %v neg %v", tensor.ErrShape, pos.Data.Shape, neg.Data.Shape))
	}
	logits := t.Concat(-1, t.Reshape(pos, n, 1), t.Reshape(neg, n, k))
	targets := t.Scratch(n, k+1)
	weight := t.Scratch(n, k+1)
	for r := range n {
		m := float32(1)
		if mask != nil {
			m = mask.Data[r]
		}
		targets.Data[r*(k+1)] = 1
		weight.Data[r*(k+1)] = m * float32(beta)
		for j := range k {
			w := m
			if negWeight != nil {
				w *= negWeight.Data[r*k+j]
			}
			weight.Data[r*(k+1)+1+j] = w
		}
	}
	// BCEWithLogits divides Σ w·l by Σ w = rows·(β + k) (with every
	// negative kept); rescale to gSASRec's division by rows·(1 + k).
	var rows float64
	for r := range n {
		if mask == nil || mask.Data[r] != 0 {
			rows++
		}
	}
	var W float64
	for _, w := range weight.Data {
		W += float64(w)
	}
	l := t.BCEWithLogits(logits, t.Const(targets), weight)
	if rows == 0 {
		return l
	}
	return t.Scale(l, float32(W/(rows*float64(k+1))))
}

// LogQSampledSoftmaxLoss is SampledSoftmaxLoss with every logit corrected
// by the log of its proposal probability (the sampling-bias correction of
// Yi et al., RecSys 2019): the softmax is over s_p − logQ_p and
// s_n − logQ_n, so that items the proposal draws often (popular ones) do
// not dominate the negatives' pull. logQPos has pos's N elements, logQNeg
// neg's N·k; a negative whose logQNeg is +Inf takes no part (use it for a
// sampled negative equal to the row's positive, an "accidental hit"). The
// loss is the mean over rows with nonzero mask of −log softmax(...)_p. It
// panics with tensor.ErrShape on mismatched shapes.
func LogQSampledSoftmaxLoss(t *autograd.Tape, pos, neg *autograd.Value, logQPos, logQNeg, mask *tensor.Tensor) *autograd.Value {
	n := pos.Data.Len()
	k := neg.Data.Cols()
	if neg.Data.Len() != n*k || logQPos.Len() != n || logQNeg.Len() != n*k || (mask != nil && mask.Len() != n) {
		panic(fmt.Errorf("%w: LogQSampledSoftmaxLoss pos %v neg %v logQ %v %v", tensor.ErrShape,
			pos.Data.Shape, neg.Data.Shape, logQPos.Shape, logQNeg.Shape))
	}
	shiftPos, shiftNeg := t.Scratch(n, 1), t.Scratch(n, k)
	for i, q := range logQPos.Data {
		shiftPos.Data[i] = -q
	}
	for i, q := range logQNeg.Data {
		shiftNeg.Data[i] = -q
	}
	p := t.Add(t.Reshape(pos, n, 1), t.Const(shiftPos))
	q := t.Add(t.Reshape(neg, n, k), t.Const(shiftNeg))
	return t.CrossEntropy(t.Concat(-1, p, q), t.ScratchInts(n), mask) // target 0 = the positive
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
