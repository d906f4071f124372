package backbone

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// The two worlds of this package meet here. The built-in encoders and item
// tables differentiate by hand over packed batches (that is where their
// speed comes from); models written with package nn record their forward
// pass on an autograd tape. TapeEncoder turns a tape-built module into an
// Encoder, so SeqModel, Train, Recommender, Save and Load take it like
// SASRec; EncoderOp and TableOp go the other way and record a built-in
// encoder or item table on a tape as one user-defined op
// (autograd.Function), so a tape-built model can use them as layers.

// TapeModule is a sequence encoder written on the autograd tape, typically
// from nn layers. Forward encodes the packed batch b: x holds the token item
// vectors ([b.NumTokens(), d], a Value of t that receives a gradient when
// training) and the result must be the hidden states, [b.NumTokens(), d].
// Modules that need a padded [B, L, d] layout (nn's attention blocks) use
// ToPadded and FromPadded. With train, dropout is applied (drawn from rng).
//
// Forward must only read the module's parameters: inference runs it from
// many goroutines at once, each on its own tape.
type TapeModule interface {
	nn.Module
	Forward(t *autograd.Tape, b *Batch, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value
}

// TapeEncoder is an Encoder made from a TapeModule: Forward records the
// module on a tape owned by the Scratch, Backward propagates the gradient of
// the hidden states through that tape (autograd.Tape.BackwardWith) into the
// module's parameters and returns the gradient of the input vectors, and
// errors of user-defined ops come back from Backward. Memory is tape memory:
// a steady-state step allocates nothing, whatever the batch shapes.
//
// Its configuration is an EncoderConfig whose Kind names the module (not a
// built-in kind); the module's own settings go in Custom. To Load a saved
// model, register the kind with RegisterEncoder, with a builder that makes
// the module from the config and wraps it with NewTapeEncoder. See Encoder
// for concurrency.
type TapeEncoder struct {
	// Module is the tape-built encoder.
	Module TapeModule
	cfg    EncoderConfig
}

// NewTapeEncoder wraps m. cfg.Kind must name the module (a kind registered
// with RegisterEncoder to Load it; a built-in kind is an error, since Load
// would rebuild a built-in encoder) and cfg.Dim and cfg.MaxLen must be
// positive; the other fields are the module's to use.
func NewTapeEncoder(m TapeModule, cfg EncoderConfig) (*TapeEncoder, error) {
	if m == nil {
		return nil, fmt.Errorf("backbone: %w: NewTapeEncoder: nil module", ErrBadConfig)
	}
	if cfg.Kind == "" || cfg.Kind.BuiltIn() {
		return nil, fmt.Errorf("backbone: %w: NewTapeEncoder: kind %q must name the module (not empty, not a built-in kind)", ErrBadConfig, cfg.Kind)
	}
	if cfg.Dim < 1 || cfg.MaxLen < 1 {
		return nil, fmt.Errorf("backbone: %w: NewTapeEncoder: dim %d and max_len %d must be positive", ErrBadConfig, cfg.Dim, cfg.MaxLen)
	}
	return &TapeEncoder{Module: m, cfg: cfg}, nil
}

// Params returns the module's parameters.
func (e *TapeEncoder) Params() []nn.Param { return e.Module.Params() }

// Dim returns cfg.Dim.
func (e *TapeEncoder) Dim() int { return e.cfg.Dim }

// MaxLen returns cfg.MaxLen.
func (e *TapeEncoder) MaxLen() int { return e.cfg.MaxLen }

// Config returns the configuration given to NewTapeEncoder.
func (e *TapeEncoder) Config() EncoderConfig { return e.cfg }

type tapeScratch struct {
	tape *autograd.Tape
	x, h *autograd.Value
	dx   tensor.Tensor
}

// NewScratch returns a tape for one goroutine.
func (e *TapeEncoder) NewScratch() Scratch { return &tapeScratch{tape: autograd.NewTape()} }

// Forward records the module on the scratch's tape (see Encoder). The tape
// records also when train is false (train only switches dropout), so
// Backward may follow any Forward, as for the built-in encoders.
func (e *TapeEncoder) Forward(s Scratch, b *Batch, x *tensor.Tensor, train bool, rng *rand.Rand) *tensor.Tensor {
	st := s.(*tapeScratch)
	tp := st.tape
	tp.Reset()
	st.x = tp.Leaf(x)
	st.h = e.Module.Forward(tp, b, st.x, train, rng)
	if st.h == nil || st.h.Data.Rows() != b.NumTokens() || st.h.Data.Cols() != e.cfg.Dim {
		var shape []int
		if st.h != nil {
			shape = st.h.Data.Shape
		}
		panic(fmt.Errorf("%w: %T.Forward returned %v for %d tokens of width %d", tensor.ErrShape, e.Module, shape, b.NumTokens(), e.cfg.Dim))
	}
	return st.h.Data
}

// Backward propagates dh through the tape of the last Forward (see
// Encoder); errors of user-defined ops on that tape are returned.
func (e *TapeEncoder) Backward(s Scratch, dh *tensor.Tensor) (*tensor.Tensor, error) {
	st := s.(*tapeScratch)
	if st.h == nil {
		return nil, fmt.Errorf("backbone: TapeEncoder.Backward before Forward")
	}
	if err := st.tape.BackwardWith(st.h, dh); err != nil {
		return nil, fmt.Errorf("backbone: %T backward: %w", e.Module, err)
	}
	if st.x.Grad != nil {
		return st.x.Grad, nil
	}
	dx := resize(&st.dx, st.x.Data.Rows(), st.x.Data.Cols())
	clear(dx.Data)
	return dx, nil
}

// ToPadded lays the packed token rows x ([b.NumTokens(), d]) of b out as a
// left-padded [B, L, d] batch, L the longest sequence of b, with zero rows
// at the padding (as SASRec's padded formulation: the last item of every
// sequence at L-1). keyPad (B·L entries, tape memory) marks the padding, for
// nn.AttnMask and nn.TimelineMask. FromPadded is its inverse.
func ToPadded(t *autograd.Tape, b *Batch, x *autograd.Value) (padded *autograd.Value, keyPad []bool) {
	B, L, T, d := b.NumSeqs(), b.LongestSeq(), b.NumTokens(), x.Data.Cols()
	idx := t.ScratchInts(B * L)
	keyPad = t.ScratchBools(B * L)
	for i := range idx {
		idx[i], keyPad[i] = T, true // row T is the zero row appended below
	}
	for s := 0; s < B; s++ {
		o, p := b.Offsets[s], b.SeqLen(s)
		for j := 0; j < p; j++ {
			slot := s*L + L - p + j
			idx[slot], keyPad[slot] = o+j, false
		}
	}
	withZero := t.Concat(0, x, t.Const(t.Scratch(1, d)))
	return t.Reshape(t.Gather(withZero, idx, T), B, L, d), keyPad
}

// FromPadded returns the rows of the real tokens of a [B, L, d] batch laid
// out by ToPadded, packed as b's tokens: [b.NumTokens(), d].
func FromPadded(t *autograd.Tape, b *Batch, y *autograd.Value) *autograd.Value {
	B, L, T := b.NumSeqs(), b.LongestSeq(), b.NumTokens()
	d := y.Data.Cols()
	idx := t.ScratchInts(T)
	for s := 0; s < B; s++ {
		o, p := b.Offsets[s], b.SeqLen(s)
		for j := 0; j < p; j++ {
			idx[o+j] = s*L + L - p + j
		}
	}
	return t.Gather(t.Reshape(y, B*L, d), idx, -1)
}

// EncoderOp records a built-in (or any) Encoder on a tape as one
// user-defined op: Apply runs its Forward, and the tape's Backward runs its
// Backward. Both gradients go where autograd.Function says: the input
// gradient is added into din[0], and the parameters' gradients into din[1:]
// (see gradRedirect: no copy, the encoder adds into them directly). One
// EncoderOp holds one Scratch, so it is applied once per tape step (use one
// EncoderOp per application); it is not safe for concurrent use.
type EncoderOp struct {
	// Enc is the wrapped encoder.
	Enc     Encoder
	scratch Scratch
	inputs  []*autograd.Value // x, then the encoder's parameters
	grads   gradRedirect
	b       *Batch
	train   bool
	rng     *rand.Rand
}

// NewEncoderOp wraps enc with a scratch of its own.
func NewEncoderOp(enc Encoder) *EncoderOp {
	op := &EncoderOp{Enc: enc, scratch: enc.NewScratch(), inputs: []*autograd.Value{nil}}
	for _, p := range enc.Params() {
		op.inputs = append(op.inputs, p.Value)
	}
	return op
}

// Apply encodes b over the token vectors x ([b.NumTokens(), Dim]) on t and
// returns the hidden states ([b.NumTokens(), Dim]). b, and rng until
// Backward, must stay unchanged.
func (op *EncoderOp) Apply(t *autograd.Tape, b *Batch, x *autograd.Value, train bool, rng *rand.Rand) (*autograd.Value, error) {
	op.b, op.train, op.rng = b, train, rng
	op.inputs[0] = x
	return t.Apply(op, op.inputs...)
}

// Forward implements autograd.Function.
func (op *EncoderOp) Forward(c *autograd.FuncContext, in []*tensor.Tensor) (*tensor.Tensor, error) {
	return op.Enc.Forward(op.scratch, op.b, in[0], op.train, op.rng), nil
}

// Backward implements autograd.Function: din[0] += the input gradient,
// din[1+i] += the gradient of the i-th parameter.
func (op *EncoderOp) Backward(c *autograd.FuncContext, dh *tensor.Tensor, din []*tensor.Tensor) error {
	op.grads.point(op.inputs[1:], din[1:])
	dx, err := op.Enc.Backward(op.scratch, dh)
	op.grads.restore(op.inputs[1:])
	if err != nil {
		return err
	}
	if din[0] != nil {
		tensor.Axpy(1, dx.Data, din[0].Data)
	}
	return nil
}

// TableOp records an ItemTable's Lookup on a tape. A TapeTable's module is
// recorded on that tape directly, op by op (nothing is kept between calls,
// and one TableOp may be applied any number of times). Any other table is
// recorded as one user-defined op whose Backward runs the table's Backward
// with the parameters' gradients going into din (see gradRedirect); such a
// table remembers its last Lookup, so the TableOp is applied once per tape
// step. A TableOp is not safe for concurrent use.
type TableOp struct {
	// Items is the wrapped table.
	Items  ItemTable
	params []*autograd.Value
	grads  gradRedirect
	ids    []int
}

// NewTableOp wraps items.
func NewTableOp(items ItemTable) *TableOp {
	op := &TableOp{Items: items}
	for _, p := range items.Params() {
		op.params = append(op.params, p.Value)
	}
	return op
}

// Apply looks up ids (1..NumItems, or 0 for the zero padding row) and
// returns their vectors, [len(ids), Dim]. ids must stay unchanged until
// Backward. An id out of range is an error wrapping ErrItemOutOfRange.
func (op *TableOp) Apply(t *autograd.Tape, ids []int) (*autograd.Value, error) {
	n := op.Items.NumItems()
	for _, id := range ids {
		if id < 0 || id > n {
			return nil, fmt.Errorf("backbone: %w: item id %d outside 0..%d", ErrItemOutOfRange, id, n)
		}
	}
	if tt, ok := op.Items.(*TapeTable); ok {
		return tt.record(t, ids), nil
	}
	op.ids = ids
	return t.Apply(op, op.params...)
}

// Forward implements autograd.Function.
func (op *TableOp) Forward(c *autograd.FuncContext, _ []*tensor.Tensor) (*tensor.Tensor, error) {
	return op.Items.Lookup(c.Tensor(len(op.ids), op.Items.Dim()), op.ids), nil
}

// Backward implements autograd.Function: din[i] += the gradient of the i-th
// parameter.
func (op *TableOp) Backward(_ *autograd.FuncContext, dv *tensor.Tensor, din []*tensor.Tensor) error {
	op.grads.point(op.params, din)
	err := op.Items.Backward(dv)
	op.grads.restore(op.params)
	return err
}

// gradRedirect lets a hand-written Backward, which adds parameter gradients
// into each parameter's Grad (Encoder.Backward, ItemTable.Backward), honour
// autograd.Function's contract, which wants them added into din. For a
// parameter recorded as a tape input din[i] is the parameter's own Grad
// (the tape accumulates parameters there), so nothing moves; when the tape
// hands another buffer, the parameter's Grad points at it for the call and
// is restored after. Either way no gradient is copied: an item table's
// gradient is as large as the table, and a copy per step would cost what
// the sparse update saves. A nil din[i] (input i needs no gradient) leaves
// the Grad as it is; the built-in kernels skip frozen parameters.
type gradRedirect struct {
	saved []*tensor.Tensor
}

// point makes params[i].Grad be din[i] (non-nil entries), remembering the
// Grads it replaces.
func (r *gradRedirect) point(params []*autograd.Value, din []*tensor.Tensor) {
	r.saved = r.saved[:0]
	for i, p := range params {
		r.saved = append(r.saved, p.Grad)
		if din[i] != nil {
			p.Grad = din[i]
		}
	}
}

// restore puts back the Grads that point replaced.
func (r *gradRedirect) restore(params []*autograd.Value) {
	for i, p := range params {
		p.Grad = r.saved[i]
	}
	clear(r.saved)
}
