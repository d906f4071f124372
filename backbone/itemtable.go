package backbone

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// ItemTable holds the item vectors that a model uses both as its input (the
// items of a sequence) and as its output (a score is the dot product of a
// hidden state with an item's vector). Row 0 is the padding item.
//
// Tables compose: an ID table, a frozen LLM table behind a trainable adapter,
// the concatenation of two tables, and an L2-normalizing wrapper around any
// of them all satisfy ItemTable, so a model is written once against it.
//
// Lookup and Backward are the training path: Lookup remembers what Backward
// needs, so a table is used by one training goroutine at a time. A table
// written with tape ops needs no Backward of its own: NewTapeTable makes it
// an ItemTable (see TapeTable). Materialize
// only reads the parameters and may run concurrently with other
// Materialize calls (not with training).
type ItemTable interface {
	nn.Module
	// NumItems is the number of items; valid ids are 1..NumItems.
	NumItems() int
	// Dim is the width of an item vector.
	Dim() int
	// Lookup writes the vectors of ids into dst (len(ids) x Dim), resizing
	// it, and returns dst.
	Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor
	// Backward adds the gradient of the last Lookup, given the gradient dOut
	// with respect to its result, into the trainable parameters. An error
	// stops the training step.
	Backward(dOut *tensor.Tensor) error
	// Materialize writes every item's vector into dst ((NumItems+1) x Dim,
	// row 0 zero) and returns dst.
	Materialize(dst *tensor.Tensor) *tensor.Tensor
	// Spec describes the table's structure (not its weights) for saving.
	Spec() TableSpec
}

// TableSpec describes an item table's structure, so that a saved model can
// be rebuilt before its weights are loaded. It is JSON-encoded in the
// model's config file. It is a plain value, safe for concurrent reads.
type TableSpec struct {
	// Kind is "id", "adapter", "concat", "normalized" or a kind registered
	// with RegisterTable.
	Kind string `json:"kind"`
	// NumItems is the number of items (the table has NumItems+1 rows).
	NumItems int `json:"num_items"`
	// Dim is the width of an item vector.
	Dim int `json:"dim"`
	// LLMDim is the width of the frozen LLM embeddings (adapter).
	LLMDim int `json:"llm_dim,omitempty"`
	// Hidden lists the adapter's hidden layer widths (empty = one Linear).
	Hidden []int `json:"hidden,omitempty"`
	// Activation between adapter layers: nn.Identity, nn.ReLU or nn.GELU,
	// written as its name ("none", "relu", "gelu"; an unknown name is an
	// error when the JSON is decoded). Nil (absent from the JSON, as for the
	// other kinds) means nn.GELU for an adapter; an adapter's Spec always sets
	// it.
	Activation *nn.Activation `json:"activation,omitempty"`
	// Scale is the normalized table's initial (or fixed) row norm.
	Scale float64 `json:"scale,omitempty"`
	// LearnScale makes the normalized table's scale a trainable parameter.
	LearnScale bool `json:"learn_scale,omitempty"`
	// Parts are the inner tables (concat: two or more; normalized: one).
	Parts []TableSpec `json:"parts,omitempty"`
	// Custom holds the settings of a registered kind (RegisterTable) that
	// the fields above do not cover, as raw JSON; built-in kinds leave it
	// empty.
	Custom json.RawMessage `json:"custom,omitempty"`
}

// buildBuiltinTable builds the kinds of this package (see BuildTable).
func buildBuiltinTable(spec TableSpec) (ItemTable, error) {
	switch spec.Kind {
	case "id":
		if spec.NumItems < 1 || spec.Dim < 1 {
			return nil, fmt.Errorf("backbone: id table: bad size %d x %d", spec.NumItems, spec.Dim)
		}
		return &IDTable{W: param(spec.NumItems+1, spec.Dim)}, nil
	case "adapter":
		if spec.NumItems < 1 || spec.LLMDim < 1 || spec.Dim < 1 {
			return nil, fmt.Errorf("backbone: adapter table: bad sizes items %d llm %d dim %d", spec.NumItems, spec.LLMDim, spec.Dim)
		}
		return newAdapter(tensor.New(spec.NumItems+1, spec.LLMDim), spec.Dim, AdapterConfig{Hidden: spec.Hidden, Activation: spec.Activation})
	case "concat":
		parts := make([]ItemTable, len(spec.Parts))
		for i, p := range spec.Parts {
			t, err := BuildTable(p)
			if err != nil {
				return nil, err
			}
			parts[i] = t
		}
		return NewConcatTable(parts...)
	case "normalized":
		if len(spec.Parts) != 1 {
			return nil, fmt.Errorf("backbone: normalized table needs one inner table, got %d", len(spec.Parts))
		}
		inner, err := BuildTable(spec.Parts[0])
		if err != nil {
			return nil, err
		}
		return NewNormalizedTable(inner, spec.Scale, spec.LearnScale), nil
	}
	return nil, fmt.Errorf("backbone: %w: item table kind %q (%w)", ErrUnknownKind, spec.Kind, ErrBadConfig)
}

// IDTable is a trainable (NumItems+1) x Dim table, one free vector per item
// (torch.nn.Embedding with padding_idx 0: row 0 stays zero and gets no
// gradient). See ItemTable for concurrency.
type IDTable struct {
	// W is the table; its parameter name is "weight".
	W   *autograd.Value
	ids []int
}

// NewIDTable returns an ID table initialized with xavier_normal (as the
// SASRec PyTorch ports do) and a zero padding row.
func NewIDTable(rng *rand.Rand, numItems, dim int) *IDTable {
	t := &IDTable{W: param(numItems+1, dim)}
	nn.XavierNormal(rng, t.W.Data)
	clear(t.W.Data.Row(0))
	return t
}

// NewIDTableFrom returns a trainable ID table initialized from init
// ((NumItems+1) x Dim, copied), e.g. a PCA of LLM item embeddings (LLMInit).
// Row 0 is zeroed.
func NewIDTableFrom(init *tensor.Tensor) (*IDTable, error) {
	if init.Dims() != 2 || init.Shape[0] < 2 || init.Shape[1] < 1 {
		return nil, fmt.Errorf("backbone: id table init has shape %v, want (items+1) x dim", init.Shape)
	}
	for i, v := range init.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("backbone: id table init: non-finite value at row %d", i/init.Shape[1])
		}
	}
	t := &IDTable{W: autograd.NewParam(init.Clone())}
	clear(t.W.Data.Row(0))
	return t, nil
}

// Params returns "weight".
func (t *IDTable) Params() []nn.Param { return []nn.Param{{Name: "weight", Value: t.W}} }

// NumItems returns the number of items.
func (t *IDTable) NumItems() int { return t.W.Data.Shape[0] - 1 }

// Dim returns the vector width.
func (t *IDTable) Dim() int { return t.W.Data.Shape[1] }

// Lookup gathers the rows of ids.
func (t *IDTable) Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor {
	t.ids = ids
	resize(dst, len(ids), t.Dim())
	return tensor.Gather(dst, t.W.Data, ids)
}

// Backward scatters dOut into the rows of the last Lookup (row 0 excluded).
func (t *IDTable) Backward(dOut *tensor.Tensor) error {
	if !t.W.RequiresGrad() {
		return nil
	}
	d, g := t.Dim(), t.W.Grad.Data
	for i, id := range t.ids {
		if id == 0 {
			continue
		}
		src, dst := dOut.Data[i*d:(i+1)*d], g[id*d:(id+1)*d]
		for j, v := range src {
			dst[j] += v
		}
	}
	return nil
}

// Materialize copies the table.
func (t *IDTable) Materialize(dst *tensor.Tensor) *tensor.Tensor {
	resize(dst, t.W.Data.Shape[0], t.Dim())
	copy(dst.Data, t.W.Data.Data)
	return dst
}

// Spec describes the table.
func (t *IDTable) Spec() TableSpec {
	return TableSpec{Kind: "id", NumItems: t.NumItems(), Dim: t.Dim()}
}

// AdapterTable maps frozen LLM item embeddings through a trainable MLP:
// one Linear (LLMDim -> Dim), or layers with the given hidden widths and an
// activation between them (nn.Identity gives LLM-ESR's
// Linear(1536->768)->Linear(768->64)). With AdapterConfig it is also PAD's
// text projection f_t (an activation after the last layer too, dropout
// before every layer but the first, zero initial biases): align's
// TextProjection is this table under PAD's parameter names. The frozen
// embeddings are a non-trainable parameter named "llm", so a saved model
// carries them. See ItemTable for concurrency.
type AdapterTable struct {
	// Dropout is the probability applied to the input of every layer but the
	// first, drawn from Rng in Lookup (the training path) when Rng is set;
	// Materialize never drops.
	Dropout float64
	// Rng draws the dropout masks; nil disables dropout.
	Rng *rand.Rand

	llm    *autograd.Value
	layers []*nn.Linear
	act    nn.Activation
	outAct bool
	spec   TableSpec
	// caches of the last Lookup
	ids  []int
	st   adapterState
	gbuf [2]tensor.Tensor
}

// adapterState holds one run of the layers: the input of every layer (after
// dropout), the pre-activations, the activations and the dropout masks.
type adapterState struct {
	x        tensor.Tensor // gathered LLM rows
	in       []*tensor.Tensor
	pre, act []tensor.Tensor
	dropped  []tensor.Tensor
	mask     []tensor.Tensor
}

func newAdapterState(n int) adapterState {
	return adapterState{in: make([]*tensor.Tensor, n), pre: make([]tensor.Tensor, n), act: make([]tensor.Tensor, n),
		dropped: make([]tensor.Tensor, n), mask: make([]tensor.Tensor, n)}
}

// AdapterConfig configures NewAdapter.
type AdapterConfig struct {
	// Hidden lists the hidden layer widths (empty = one Linear).
	Hidden []int
	// Activation between layers (unused with one layer and no OutAct): nil
	// means nn.GELU, so that a config that does not mention it keeps the
	// adapter's default; set another with e.g. new(nn.Identity) or
	// new(nn.ReLU). An undeclared value is an ErrBadConfig error.
	Activation *nn.Activation
	// OutAct applies the activation after the last layer too (PAD's f_t).
	OutAct bool
	// Dropout before every layer but the first (see AdapterTable.Dropout).
	Dropout float64
	// ZeroBias starts the biases at zero (PAD) instead of PyTorch's
	// U(±1/sqrt(in)).
	ZeroBias bool
}

// NewAdapterTable returns an adapter over llm ((NumItems+1) x LLMDim, not
// copied, frozen), with hidden layer widths hidden (may be empty) and
// activation act between them (nn.Identity, nn.ReLU or nn.GELU; unused
// without hidden layers). Weights use xavier_normal, biases PyTorch's
// default.
func NewAdapterTable(rng *rand.Rand, llm *tensor.Tensor, dim int, hidden []int, act nn.Activation) (*AdapterTable, error) {
	return NewAdapter(rng, llm, dim, AdapterConfig{Hidden: hidden, Activation: &act})
}

// NewAdapter returns an adapter over llm configured by cfg, with
// xavier_normal weights and biases as cfg says, drawn from rng.
func NewAdapter(rng *rand.Rand, llm *tensor.Tensor, dim int, cfg AdapterConfig) (*AdapterTable, error) {
	t, err := newAdapter(llm, dim, cfg)
	if err != nil {
		return nil, err
	}
	for _, l := range t.layers {
		if cfg.ZeroBias {
			nn.XavierNormal(rng, l.Weight.Data)
		} else {
			l.Init(rng)
		}
	}
	return t, nil
}

func newAdapter(llm *tensor.Tensor, dim int, cfg AdapterConfig) (*AdapterTable, error) {
	if llm == nil || llm.Dims() != 2 || llm.Shape[0] < 2 {
		var shape []int
		if llm != nil {
			shape = llm.Shape
		}
		return nil, fmt.Errorf("backbone: %w: LLM embeddings have shape %v, want (items+1) x llm_dim", ErrBadConfig, shape)
	}
	act := nn.GELU
	if cfg.Activation != nil {
		act = *cfg.Activation
	}
	if !act.Valid() {
		return nil, fmt.Errorf("backbone: %w: adapter activation %v (want nn.Identity, nn.ReLU or nn.GELU)", ErrBadConfig, act)
	}
	if dim < 1 || cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return nil, fmt.Errorf("backbone: %w: adapter width %d, dropout %g", ErrBadConfig, dim, cfg.Dropout)
	}
	for i, v := range llm.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("backbone: LLM embeddings: non-finite value at row %d", i/llm.Shape[1])
		}
	}
	v := autograd.NewParam(llm)
	v.SetRequiresGrad(false)
	t := &AdapterTable{llm: v, act: act, outAct: cfg.OutAct, Dropout: cfg.Dropout}
	widths := append(append([]int{llm.Shape[1]}, cfg.Hidden...), dim)
	for i := 0; i+1 < len(widths); i++ {
		if widths[i+1] < 1 {
			return nil, fmt.Errorf("backbone: %w: adapter layer width %d", ErrBadConfig, widths[i+1])
		}
		t.layers = append(t.layers, nn.ZeroLinear(widths[i], widths[i+1], true))
	}
	t.st = newAdapterState(len(t.layers))
	t.spec = TableSpec{Kind: "adapter", NumItems: llm.Shape[0] - 1, Dim: dim, LLMDim: llm.Shape[1],
		Hidden: append([]int(nil), cfg.Hidden...)}
	return t, nil
}

// Params returns "llm" (frozen) and "adapter.<i>.weight/bias".
func (t *AdapterTable) Params() []nn.Param {
	ps := []nn.Param{{Name: "llm", Value: t.llm}}
	for i, l := range t.layers {
		ps = append(ps, nn.Prefix(fmt.Sprintf("adapter.%d", i), l.Params())...)
	}
	return ps
}

// NumItems returns the number of items.
func (t *AdapterTable) NumItems() int { return t.spec.NumItems }

// Dim returns the adapter's output width.
func (t *AdapterTable) Dim() int { return t.spec.Dim }

// Spec describes the table (Activation set, a fresh copy each call).
func (t *AdapterTable) Spec() TableSpec {
	s := t.spec
	s.Activation = new(t.act)
	return s
}

// activated reports whether layer i is followed by the activation.
func (t *AdapterTable) activated(i int) bool { return i < len(t.layers)-1 || t.outAct }

// run applies the layers to the rows of x, writing the output into dst and
// the intermediates into st, with dropout when drop.
func (t *AdapterTable) run(dst, x *tensor.Tensor, st *adapterState, drop bool) *tensor.Tensor {
	in := x
	for i, l := range t.layers {
		if i > 0 && drop {
			m := resize(&st.mask[i], in.Rows(), in.Cols())
			tensor.DropoutMask(t.Rng, m.Data, t.Dropout)
			in = tensor.Mul(resize(&st.dropped[i], in.Rows(), in.Cols()), in, m)
		}
		st.in[i] = in
		last := i == len(t.layers)-1
		if !t.activated(i) {
			return l.Apply(dst, in)
		}
		pre := l.Apply(&st.pre[i], in)
		h := &st.act[i]
		if last {
			h = dst
		}
		t.act.Apply(resize(h, pre.Rows(), pre.Cols()), pre)
		in = h
	}
	return dst
}

// apply runs the adapter (no dropout) on rows of LLM embeddings x.
func (t *AdapterTable) apply(x *tensor.Tensor) *tensor.Tensor {
	st := newAdapterState(len(t.layers))
	return t.run(&tensor.Tensor{}, x, &st, false)
}

// Lookup runs the adapter on the LLM rows of ids (with dropout when Rng is
// set and Dropout > 0).
func (t *AdapterTable) Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor {
	t.ids = ids
	x := resize(&t.st.x, len(ids), t.spec.LLMDim)
	tensor.Gather(x, t.llm.Data, ids)
	return t.run(dst, x, &t.st, t.Rng != nil && t.Dropout > 0)
}

// Backward propagates through the layers of the last Lookup.
func (t *AdapterTable) Backward(dOut *tensor.Tensor) error {
	dy := dOut
	drop := t.Rng != nil && t.Dropout > 0
	for i := len(t.layers) - 1; i >= 0; i-- {
		dpre := dy
		if t.activated(i) && t.act != nn.Identity {
			dpre = t.act.Backprop(resize(&t.gbuf[i%2], dy.Rows(), dy.Cols()), dy, &t.st.pre[i])
		}
		if i == 0 {
			t.layers[0].Backprop(nil, dpre, t.st.in[0], false)
			break
		}
		dx := &t.gbuf[(i+1)%2]
		t.layers[i].Backprop(dx, dpre, t.st.in[i], false)
		if drop {
			tensor.Mul(dx, dx, &t.st.mask[i])
		}
		dy = dx
	}
	return nil
}

// Materialize runs the adapter (no dropout) on every item; row 0 is zero.
func (t *AdapterTable) Materialize(dst *tensor.Tensor) *tensor.Tensor {
	st := newAdapterState(len(t.layers))
	t.run(dst, t.llm.Data, &st, false)
	clear(dst.Row(0))
	return dst
}

// ConcatTable concatenates the vectors of several tables (LLM-ESR's dual
// view: an ID table ⊕ an adapted LLM table). Its Dim is the sum of theirs.
// Parameters are named "<i>.<inner name>". See ItemTable for concurrency.
type ConcatTable struct {
	parts []ItemTable
	outs  []tensor.Tensor
	grads []tensor.Tensor
	dim   int
}

// NewConcatTable returns the concatenation of parts, which must agree on
// NumItems.
func NewConcatTable(parts ...ItemTable) (*ConcatTable, error) {
	if len(parts) < 2 {
		return nil, fmt.Errorf("backbone: concat table needs at least 2 parts, got %d", len(parts))
	}
	t := &ConcatTable{parts: parts, outs: make([]tensor.Tensor, len(parts)), grads: make([]tensor.Tensor, len(parts))}
	for _, p := range parts {
		if p.NumItems() != parts[0].NumItems() {
			return nil, fmt.Errorf("backbone: concat table: parts have %d and %d items", parts[0].NumItems(), p.NumItems())
		}
		t.dim += p.Dim()
	}
	return t, nil
}

// Params returns every part's parameters, prefixed by the part's index.
func (t *ConcatTable) Params() []nn.Param {
	var ps []nn.Param
	for i, p := range t.parts {
		ps = append(ps, nn.Prefix(fmt.Sprint(i), p.Params())...)
	}
	return ps
}

// NumItems returns the number of items.
func (t *ConcatTable) NumItems() int { return t.parts[0].NumItems() }

// Dim returns the summed width.
func (t *ConcatTable) Dim() int { return t.dim }

// Spec describes the table.
func (t *ConcatTable) Spec() TableSpec {
	s := TableSpec{Kind: "concat", NumItems: t.NumItems(), Dim: t.dim}
	for _, p := range t.parts {
		s.Parts = append(s.Parts, p.Spec())
	}
	return s
}

func (t *ConcatTable) interleave(dst *tensor.Tensor, outs []tensor.Tensor, n int) {
	resize(dst, n, t.dim)
	off := 0
	for i, p := range t.parts {
		w := p.Dim()
		for r := 0; r < n; r++ {
			copy(dst.Data[r*t.dim+off:r*t.dim+off+w], outs[i].Data[r*w:(r+1)*w])
		}
		off += w
	}
}

// Lookup concatenates the parts' lookups.
func (t *ConcatTable) Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor {
	for i, p := range t.parts {
		p.Lookup(&t.outs[i], ids)
	}
	t.interleave(dst, t.outs, len(ids))
	return dst
}

// Backward splits dOut by columns and passes each slice to its part.
func (t *ConcatTable) Backward(dOut *tensor.Tensor) error {
	n := dOut.Rows()
	off := 0
	for i, p := range t.parts {
		w := p.Dim()
		g := resize(&t.grads[i], n, w)
		for r := 0; r < n; r++ {
			copy(g.Data[r*w:(r+1)*w], dOut.Data[r*t.dim+off:r*t.dim+off+w])
		}
		if err := p.Backward(g); err != nil {
			return err
		}
		off += w
	}
	return nil
}

// Materialize concatenates the parts' tables.
func (t *ConcatTable) Materialize(dst *tensor.Tensor) *tensor.Tensor {
	outs := make([]tensor.Tensor, len(t.parts))
	for i, p := range t.parts {
		p.Materialize(&outs[i])
	}
	t.interleave(dst, outs, t.NumItems()+1)
	return dst
}

// NormalizedTable divides every row of an inner table by its L2 norm and
// multiplies it by a scale s (TF-LLMER's item-embedding normalization): all
// items get the same norm, so popularity cannot be encoded in the norm and
// the logits are s·cosines (times the user vector's norm). With LearnScale
// the scale is a trainable scalar parameter "scale"; the inner table's
// parameters are named "inner.<name>". See ItemTable for concurrency.
type NormalizedTable struct {
	inner ItemTable
	scale *autograd.Value
	raw   tensor.Tensor
	norms []float32
	grad  tensor.Tensor
}

// NewNormalizedTable wraps inner; scale is the row norm (<= 0 means 1) and
// learn makes it trainable.
func NewNormalizedTable(inner ItemTable, scale float64, learn bool) *NormalizedTable {
	if scale <= 0 {
		scale = 1
	}
	s := param(1)
	s.Data.Data[0] = float32(scale)
	s.SetRequiresGrad(learn)
	return &NormalizedTable{inner: inner, scale: s}
}

// Params returns "scale" (frozen unless learned) and the inner parameters.
func (t *NormalizedTable) Params() []nn.Param {
	return append([]nn.Param{{Name: "scale", Value: t.scale}}, nn.Prefix("inner", t.inner.Params())...)
}

// NumItems returns the number of items.
func (t *NormalizedTable) NumItems() int { return t.inner.NumItems() }

// Dim returns the inner width.
func (t *NormalizedTable) Dim() int { return t.inner.Dim() }

// Spec describes the table.
func (t *NormalizedTable) Spec() TableSpec {
	return TableSpec{Kind: "normalized", NumItems: t.NumItems(), Dim: t.Dim(), Scale: float64(t.scale.Data.Data[0]),
		LearnScale: t.scale.RequiresGrad(), Parts: []TableSpec{t.inner.Spec()}}
}

const normEps = 1e-12

func normalizeRows(dst, src *tensor.Tensor, s float32, norms []float32) {
	d := src.Cols()
	for r := 0; r < src.Rows(); r++ {
		x := src.Data[r*d : (r+1)*d]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		n := float32(math.Sqrt(ss))
		if norms != nil {
			norms[r] = n
		}
		inv := s / max(n, normEps)
		y := dst.Data[r*d : (r+1)*d]
		for j, v := range x {
			y[j] = v * inv
		}
	}
}

// Lookup returns s·x/‖x‖ for the inner rows x.
func (t *NormalizedTable) Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor {
	t.inner.Lookup(&t.raw, ids)
	t.norms = growF(t.norms, len(ids))
	resize(dst, len(ids), t.Dim())
	normalizeRows(dst, &t.raw, t.scale.Data.Data[0], t.norms)
	return dst
}

// Backward: with u = x/‖x‖, d x = s/‖x‖ (g − u (u·g)) and d s = Σ g·u.
func (t *NormalizedTable) Backward(dOut *tensor.Tensor) error {
	d, n := t.Dim(), dOut.Rows()
	s := t.scale.Data.Data[0]
	g := resize(&t.grad, n, d)
	var ds float64
	for r := 0; r < n; r++ {
		x, gy, gx := t.raw.Data[r*d:(r+1)*d], dOut.Data[r*d:(r+1)*d], g.Data[r*d:(r+1)*d]
		nr := max(t.norms[r], normEps)
		var ug float32
		for j, v := range x {
			ug += v / nr * gy[j]
		}
		ds += float64(ug)
		c := s / nr
		for j, v := range x {
			gx[j] = c * (gy[j] - v/nr*ug)
		}
	}
	if t.scale.RequiresGrad() {
		t.scale.Grad.Data[0] += float32(ds)
	}
	return t.inner.Backward(g)
}

// Materialize normalizes every row of the inner table (row 0 stays zero).
func (t *NormalizedTable) Materialize(dst *tensor.Tensor) *tensor.Tensor {
	var raw tensor.Tensor
	t.inner.Materialize(&raw)
	resize(dst, raw.Rows(), raw.Cols())
	normalizeRows(dst, &raw, t.scale.Data.Data[0], nil)
	clear(dst.Row(0))
	return dst
}
