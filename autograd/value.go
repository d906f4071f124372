package autograd

import "github.com/llmrec/llmrec/tensor"

// Value is a node of the computation: a tensor and, when it takes part in
// differentiation, its gradient (same shape as Data).
//
// Parameters are Values created with NewParam: they live across tapes, own
// their Grad, and are what optimizers update. Intermediate Values are created
// by a Tape's ops and belong to its arena: they are valid until the tape's
// next Reset.
//
// A Value is not safe for concurrent mutation: only the training goroutine
// writes a parameter's Data and Grad. Many inference tapes may read the same
// parameters concurrently while nobody writes them.
type Value struct {
	// Data is the forward value.
	Data *tensor.Tensor
	// Grad is the accumulated gradient of the loss with respect to Data. For
	// parameters it is allocated by NewParam and zeroed by ZeroGrad; for
	// intermediates it is arena memory.
	Grad *tensor.Tensor

	requiresGrad bool
	param        bool
	node         int // index of the producing op on its tape, -1 for leaves
}

// NewParam wraps data as a trainable leaf (requires a gradient) with a zeroed
// Grad of the same shape. data is not copied.
func NewParam(data *tensor.Tensor) *Value {
	return &Value{Data: data, Grad: tensor.New(data.Shape...), requiresGrad: true, param: true, node: -1}
}

// RequiresGrad reports whether gradients flow to v.
func (v *Value) RequiresGrad() bool { return v.requiresGrad }

// IsParam reports whether v is a parameter created by NewParam.
func (v *Value) IsParam() bool { return v.param }

// SetRequiresGrad freezes (false) or unfreezes (true) a parameter: a frozen
// parameter is read by ops but receives no gradient. It has no effect on
// intermediates.
func (v *Value) SetRequiresGrad(b bool) {
	if v.param {
		v.requiresGrad = b
	}
}

// ZeroGrad sets a parameter's gradient to zero.
func (v *Value) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Zero()
	}
}
