package backbone

import (
	"errors"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/nn"
)

// Errors a caller (typically a service) can tell apart with errors.Is. The
// first three are the caller's fault (bad input: answer 400); the others mean
// the model or its files are broken (answer 500, or refuse to start).
var (
	// ErrItemOutOfRange is wrapped when an item id in a history, a
	// candidate list or an exclusion list is outside 1..NumItems. It is
	// data.ErrItemOutOfRange (and eval.ErrItemOutOfRange).
	ErrItemOutOfRange = data.ErrItemOutOfRange
	// ErrEmptyHistory is wrapped when a history with no items is scored:
	// a sequential model has nothing to condition on.
	ErrEmptyHistory = errors.New("empty history")
	// ErrBadK is wrapped when TopK, AppendTopK or TopKBatch is asked for
	// k < 1 items: a caller's bug or a bad request, never an empty answer
	// that looks like "nothing to recommend".
	ErrBadK = errors.New("k must be at least 1")
	// ErrNonFinite is nn.ErrNonFinite (= tensor.ErrNonFinite): a weight,
	// loss or score is NaN or infinite.
	ErrNonFinite = nn.ErrNonFinite
	// ErrBadConfig is nn.ErrBadConfig: a configuration cannot work.
	ErrBadConfig = nn.ErrBadConfig
	// ErrBadCheckpoint is nn.ErrBadCheckpoint: a model file is malformed.
	ErrBadCheckpoint = nn.ErrBadCheckpoint
	// ErrUnknownKind is wrapped (together with ErrBadConfig) when a saved
	// or configured encoder, item-table or gate kind is not registered.
	ErrUnknownKind = errors.New("unknown kind")
)
