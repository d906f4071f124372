package align

import "github.com/llmrec/llmrec/backbone"

// Errors align returns besides ErrBadConfig (validate.go), re-exported
// from backbone with the same values so errors.Is holds across packages.
var (
	// ErrNonFinite is backbone.ErrNonFinite: a NaN or infinite loss,
	// weight or embedding.
	ErrNonFinite = backbone.ErrNonFinite
	// ErrUnknownKind is backbone.ErrUnknownKind: BuildTable was given a
	// table kind nobody registered.
	ErrUnknownKind = backbone.ErrUnknownKind
	// ErrItemOutOfRange is backbone.ErrItemOutOfRange: an item id outside
	// 1..NumItems.
	ErrItemOutOfRange = backbone.ErrItemOutOfRange
)
