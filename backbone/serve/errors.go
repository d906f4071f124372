package serve

import "errors"

// Errors a caller of the Go API (Handler.AddItems, Handler.Reload, Open)
// can tell apart with errors.Is. The HTTP endpoints map them to statuses.
var (
	// ErrWritesDisabled is returned by POST /items when Options.AddToken is
	// empty (403): the catalog is read-only unless writes are enabled.
	ErrWritesDisabled = errors.New("serve: catalog writes are disabled")
	// ErrCannotAdd is wrapped when the served model cannot take new items
	// (a mixture served without Options.LLM; 409).
	ErrCannotAdd = errors.New("serve: the served model cannot take new items")
	// ErrCatalogFull is wrapped when an addition would take the number of
	// added items beyond Options.MaxAdded (409).
	ErrCatalogFull = errors.New("serve: the cap on added items is reached")
	// ErrRejected is wrapped when added rows fail the checks made before
	// they are committed: a norm beyond the bound derived from the trained
	// items, or a NaN or infinite score on a probe history (400).
	ErrRejected = errors.New("serve: added items rejected")
	// ErrReloadRefused is wrapped when a model cannot keep the items added
	// before (another item count, item vectors sent for another model, no
	// way to re-encode text rows, or re-encoded rows that fail the checks).
	// The previous model keeps serving.
	ErrReloadRefused = errors.New("serve: reload refused: the added items cannot be kept")
	// ErrNotServable is wrapped when a model loads but gives a NaN or
	// infinite score for a probe history (histories of several lengths up
	// to its window): it would answer requests with errors.
	ErrNotServable = errors.New("serve: model cannot be served")
)
