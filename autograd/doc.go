// Package autograd is tape-based reverse-mode differentiation over the
// tensor package's kernels: enough to train SASRec-style recommenders, the
// TF-LLMER item normalization and PAD's alignment losses.
//
// Why a tape and not a graph of closures: every op appends a small record
// (op kind, operands, saved tensors and scalars) to a slice the Tape owns,
// and Backward walks that slice in reverse, calling each record's backward.
// An op kind (opDef) is declared in the op's file beside its forward method
// and its backward function: an op lives in one place, and adding one
// touches one file. The tape also owns
// every intermediate tensor and gradient buffer, and Reset hands them back to
// free lists kept by size class, so a training step allocates nothing once
// the tape has seen its shapes, also when the shapes change from step to step
// (packed batches, a short last batch): one tape serves a whole training run. There is no global state:
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
// User-defined ops: a Function supplies its own forward and backward (a
// hand-written kernel, or a whole model that differentiates by hand, as the
// encoders and item tables of package backbone do) and Tape.Apply records it
// like a built-in op, so it composes with them, is checked by GradCheck and
// allocates from the tape's memory. Its Backward may return an error, which
// Tape.Backward returns.
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
