package backbone

import (
	"fmt"
	"slices"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// TapeTableModule is an item table written on the autograd tape, typically
// with tape ops over its own parameters (see ExampleTapeTable): Lookup
// records the vectors of ids on t and returns them, [len(ids), Dim]. The
// tape differentiates it, so the module has no Backward of its own.
//
// Id 0 is the padding item: its vector must be zero (keep a zero row 0 and
// gather with padding index 0, as nn.Embedding does). Ids passed in are in
// 0..NumItems. Lookup must be deterministic and only read the module's
// parameters: Materialize runs it on inference tapes from many goroutines
// at once, and the scores of a reloaded model must equal the trained one's.
// Whatever a call needs (index slices, intermediates) comes from t
// (ScratchInts, Scratch), so the call, not the module, holds it.
type TapeTableModule interface {
	nn.Module
	Lookup(t *autograd.Tape, ids []int) *autograd.Value
}

// TapeTable is an ItemTable made from a TapeTableModule, as TapeEncoder
// makes an Encoder from a TapeModule: Lookup records the module on a tape,
// Backward propagates the gradient of the looked-up vectors through that
// tape (autograd.Tape.BackwardWith) into the module's parameters, and
// Materialize runs the module over every id on an inference tape.
//
// Its structure is a TableSpec whose Kind names the module (not a built-in
// kind) and whose Custom holds the module's own settings. To Load a saved
// model, register the kind with RegisterTable, with a builder that makes the
// module from the spec and wraps it with NewTapeTable.
//
// Per-call state: ItemTable's contract is Lookup, then Backward of that
// Lookup, with no handle between them, so the tape of the last Lookup is
// the one piece of state a TapeTable keeps (the module keeps none); like
// every ItemTable it is used by one training goroutine at a time.
// Materialize keeps nothing and may run concurrently with other Materialize
// calls. Recorded on a larger tape with TableOp, the module is recorded on
// that tape directly: no state at all, and it may be applied several times
// per step.
type TapeTable struct {
	// Module is the tape-built table.
	Module TapeTableModule
	spec   TableSpec
	tape   *autograd.Tape  // the training path's tape (Lookup, then Backward)
	out    *autograd.Value // the vectors of the last Lookup, on tape
}

// builtinTableKinds are the kinds buildBuiltinTable makes.
var builtinTableKinds = []string{"id", "adapter", "concat", "normalized"}

// NewTapeTable wraps m. spec.Kind must name the module (a kind registered
// with RegisterTable to Load it; a built-in kind is an error, since Load
// would rebuild a built-in table), spec.NumItems and spec.Dim must be
// positive, and Custom carries whatever else the module's builder needs.
func NewTapeTable(m TapeTableModule, spec TableSpec) (*TapeTable, error) {
	if m == nil {
		return nil, fmt.Errorf("backbone: %w: NewTapeTable: nil module", ErrBadConfig)
	}
	if spec.Kind == "" || slices.Contains(builtinTableKinds, spec.Kind) {
		return nil, fmt.Errorf("backbone: %w: NewTapeTable: kind %q must name the module (not empty, not a built-in kind)", ErrBadConfig, spec.Kind)
	}
	if spec.NumItems < 1 || spec.Dim < 1 {
		return nil, fmt.Errorf("backbone: %w: NewTapeTable: %d items of width %d, want both positive", ErrBadConfig, spec.NumItems, spec.Dim)
	}
	return &TapeTable{Module: m, spec: spec}, nil
}

// Params returns the module's parameters.
func (t *TapeTable) Params() []nn.Param { return t.Module.Params() }

// NumItems returns spec.NumItems.
func (t *TapeTable) NumItems() int { return t.spec.NumItems }

// Dim returns spec.Dim.
func (t *TapeTable) Dim() int { return t.spec.Dim }

// Spec returns the spec given to NewTapeTable (Custom copied).
func (t *TapeTable) Spec() TableSpec {
	s := t.spec
	s.Custom = slices.Clone(s.Custom)
	return s
}

// record runs the module on tp and checks the shape of what it returns: a
// wrong shape is a bug of the module, a panic like TapeEncoder's.
func (t *TapeTable) record(tp *autograd.Tape, ids []int) *autograd.Value {
	v := t.Module.Lookup(tp, ids)
	if v == nil || v.Data.Rows() != len(ids) || v.Data.Cols() != t.spec.Dim {
		var shape []int
		if v != nil {
			shape = v.Data.Shape
		}
		panic(fmt.Errorf("%w: %T.Lookup returned %v for %d ids of width %d", tensor.ErrShape, t.Module, shape, len(ids), t.spec.Dim))
	}
	return v
}

// Lookup records the module on the table's tape and copies the vectors of
// ids into dst (see ItemTable).
func (t *TapeTable) Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor {
	if t.tape == nil {
		t.tape = autograd.NewTape()
	}
	t.tape.Reset()
	t.out = t.record(t.tape, ids)
	resize(dst, len(ids), t.spec.Dim)
	copy(dst.Data, t.out.Data.Data)
	return dst
}

// Backward propagates dOut through the tape of the last Lookup into the
// module's parameters (see ItemTable); errors of user-defined ops on that
// tape are returned.
func (t *TapeTable) Backward(dOut *tensor.Tensor) error {
	if t.out == nil {
		return fmt.Errorf("backbone: TapeTable.Backward before Lookup")
	}
	if err := t.tape.BackwardWith(t.out, dOut); err != nil {
		return fmt.Errorf("backbone: %T backward: %w", t.Module, err)
	}
	return nil
}

// Materialize runs the module over ids 0..NumItems on an inference tape of
// its own and copies the result into dst, row 0 zeroed (see ItemTable).
func (t *TapeTable) Materialize(dst *tensor.Tensor) *tensor.Tensor {
	tp := autograd.NewInferenceTape()
	ids := tp.ScratchInts(t.spec.NumItems + 1)
	for i := range ids {
		ids[i] = i
	}
	v := t.record(tp, ids)
	resize(dst, len(ids), t.spec.Dim)
	copy(dst.Data, v.Data.Data)
	clear(dst.Row(0))
	return dst
}
