package eval

import (
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/nn"
)

// Errors a caller can tell apart with errors.Is: the same values as data's,
// nn's and backbone's, so a test written against one package's name holds
// for the others.
var (
	// ErrBadConfig is nn.ErrBadConfig: an unknown protocol, a cut-off
	// below 1, negative sizes, a split without items or rows.
	ErrBadConfig = nn.ErrBadConfig
	// ErrItemOutOfRange is data.ErrItemOutOfRange: a split holds an item
	// id outside 1..NumItems.
	ErrItemOutOfRange = data.ErrItemOutOfRange
	// ErrNonFinite is data.ErrNonFinite (= tensor.ErrNonFinite): a scorer
	// returned a NaN score. A scorer's own errors are wrapped as they are.
	ErrNonFinite = data.ErrNonFinite
)
