package data

import (
	"bufio"
	"errors"
	"io"

	"github.com/llmrec/llmrec/tensor"
)

// Errors a caller can tell apart with errors.Is. Every *ParseError wraps
// ErrBadInput, and ErrItemOutOfRange or ErrNonFinite when that is the
// problem. backbone and eval re-export ErrItemOutOfRange with the same
// value, so errors.Is holds whichever package returned the error.
var (
	// ErrBadInput is wrapped by every error about malformed input: a line
	// that cannot be parsed, a missing column, an empty file, a bad
	// embedding file.
	ErrBadInput = errors.New("bad input")
	// ErrItemOutOfRange is wrapped when an item id is outside the range
	// the options allow (below 1, above Options.NumItems or MaxKeptItemID,
	// or not in Options.Items).
	ErrItemOutOfRange = errors.New("item id out of range")
	// ErrNonFinite is tensor.ErrNonFinite: a NaN or infinite timestamp,
	// rating or embedding value.
	ErrNonFinite = tensor.ErrNonFinite
)

// stripBOM returns r without a leading UTF-8 byte order mark (which
// spreadsheet programs write): without this, the first user id of a
// sequence file would be "\ufeff1", a user of its own.
func stripBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 1<<16)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	return br
}
