package hostile

import (
	"testing"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/assert"
)

// Issue 12 row 12: every package re-exports the same sentinel values, so a
// service can test an error with any package's name.
func TestSentinelsAreShared(t *testing.T) {
	same := func(name string, errs ...error) {
		for _, e := range errs[1:] {
			assert.Same(t, errs[0], e, name)
		}
	}
	same("ErrNonFinite", tensor.ErrNonFinite, nn.ErrNonFinite, data.ErrNonFinite, backbone.ErrNonFinite, eval.ErrNonFinite, align.ErrNonFinite, moe.ErrNonFinite)
	same("ErrItemOutOfRange", data.ErrItemOutOfRange, backbone.ErrItemOutOfRange, eval.ErrItemOutOfRange, align.ErrItemOutOfRange, moe.ErrItemOutOfRange)
	same("ErrBadConfig", nn.ErrBadConfig, backbone.ErrBadConfig, eval.ErrBadConfig, align.ErrBadConfig, moe.ErrBadConfig)
	same("ErrBadCheckpoint", nn.ErrBadCheckpoint, backbone.ErrBadCheckpoint, moe.ErrBadCheckpoint)
	same("ErrUnknownKind", backbone.ErrUnknownKind, align.ErrUnknownKind)
}
