package moe

import "github.com/llmrec/llmrec/backbone"

// Errors a caller can tell apart with errors.Is: the same values as
// backbone's (and nn's, and tensor's), so a test written against one
// package's name holds for the others. (ErrBadConfig is declared in
// gate.go.)
var (
	// ErrItemOutOfRange is backbone.ErrItemOutOfRange: a sequence holds an
	// item id outside 1..NumItems.
	ErrItemOutOfRange = backbone.ErrItemOutOfRange
	// ErrNonFinite is backbone.ErrNonFinite: a weight, loss or score is NaN
	// or infinite (Load, Save).
	ErrNonFinite = backbone.ErrNonFinite
	// ErrBadCheckpoint is backbone.ErrBadCheckpoint: a saved Mixture is
	// malformed, declares sizes its tensors do not have, or lacks tensors.
	ErrBadCheckpoint = backbone.ErrBadCheckpoint
)
