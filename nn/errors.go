package nn

import (
	"errors"

	"github.com/llmrec/llmrec/tensor"
)

// Errors a caller can tell apart with errors.Is. The packages above nn
// (backbone, align, moe) re-export these same values, so a test written
// against one package's name holds for the others.
var (
	// ErrNonFinite is wrapped when a weight, gradient or loss is NaN or
	// infinite. It is tensor.ErrNonFinite.
	ErrNonFinite = tensor.ErrNonFinite
	// ErrBadConfig is wrapped when a configuration cannot work: an unknown
	// kind or enum value, a field out of range, an unknown JSON field.
	ErrBadConfig = errors.New("bad config")
	// ErrBadCheckpoint is wrapped when a checkpoint file is malformed,
	// truncated, inconsistent with its declared structure, or declares
	// sizes beyond the library's limits.
	ErrBadCheckpoint = errors.New("bad checkpoint")
)
