// Package autograd is tape-based reverse-mode differentiation over the
// tensor package's kernels: enough to train SASRec-style recommenders, the
// TF-LLMER item normalization and PAD's alignment losses.
//
// Why a tape and not a graph of closures: every op appends a small record
// (op kind, operands, saved tensors and scalars) to a slice the Tape owns,
// and Backward walks that slice in reverse with a switch. The tape also owns
// every intermediate tensor and gradient buffer, and Reset hands them back to
// size-keyed free lists, so a training step with the same shapes every time
// allocates (almost) nothing after the first step. There is no global state:
// evaluation uses a tape made with NoGrad (or NewInferenceTape), whose ops
// compute forward values only; train/eval mode for dropout is an argument of
// the op.
//
// Parameters are Values made with NewParam; they live across tapes and
// accumulate gradients in Grad until ZeroGrad. Intermediates are valid until
// the tape's next Reset. Frozen parameters (SetRequiresGrad(false)) and
// constants receive no gradient, and an op none of whose inputs needs a
// gradient records nothing.
//
// Every op is checked against central finite differences by GradCheck in
// the package tests.
//
//	w := autograd.NewParam(tensor.New(4, 3))      // [out, in]
//	tp := autograd.NewTape()
//	for step := 0; step < steps; step++ {
//		tp.Reset()
//		w.ZeroGrad()
//		x := tp.Const(batch)                       // [n, 3]
//		loss := tp.CrossEntropy(tp.Linear(x, w, nil), labels, nil)
//		if err := tp.Backward(loss); err != nil { ... }
//		// update w.Data from w.Grad
//	}
package autograd
