package align

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// Table kinds of the PAD item tables, as written in a backbone.TableSpec.
const (
	// KindTextProjection is the Kind of a TextProjection's spec.
	KindTextProjection = "pad_text"
	// KindFused is the Kind of a FusedTable's spec.
	KindFused = "pad_fused"
)

// TextProjection is PAD's text projection f_t as an item table: frozen LLM
// item embeddings x_i (D wide) mapped by
//
//	f_t(x) = L_n(...L_1(GELU(W_0 x + b_0)))   with  L_k(a) = GELU(W_k · Dropout(a) + b_k)
//
// (W_0: D→d, then n layers d→d; PAD: n = 4, dropout 0.1). It is a
// backbone.AdapterTable (GELU after every layer, dropout before every layer
// but the first, zero initial biases) under PAD's parameter names: the LLM
// embeddings are a frozen parameter named "llm", the layers "fc.<k>.weight"
// and "fc.<k>.bias". Dropout is drawn from Rng in Lookup (the training path)
// when Rng is set and Dropout > 0; Materialize never drops.
//
// Lookup and Backward keep the last lookup in the table: one training
// goroutine at a time. Materialize only reads the parameters and may run
// concurrently with other Materialize calls (not with training).
type TextProjection struct {
	// AdapterTable computes f_t; its Dropout and Rng fields are f_t's.
	*backbone.AdapterTable
	extra int
}

// NewTextProjection returns f_t over llm ((NumItems+1) x D, kept, not
// copied, frozen) with output width dim, extra d→d layers and dropout,
// weights xavier_normal and zero biases drawn from rng. PAD: extra 4,
// dropout 0.1.
func NewTextProjection(rng *rand.Rand, llm *tensor.Tensor, dim, extra int, dropout float64) (*TextProjection, error) {
	return textProjection(llm, dim, extra, dropout, func(llm *tensor.Tensor, cfg backbone.AdapterConfig) (*backbone.AdapterTable, error) {
		return backbone.NewAdapter(rng, llm, dim, cfg)
	})
}

func newTextProjection(llm *tensor.Tensor, dim, extra int, dropout float64) (*TextProjection, error) {
	return textProjection(llm, dim, extra, dropout, func(llm *tensor.Tensor, cfg backbone.AdapterConfig) (*backbone.AdapterTable, error) {
		return backbone.NewAdapter(rand.New(rand.NewPCG(0, 0)), llm, dim, cfg) // weights are loaded next
	})
}

func textProjection(llm *tensor.Tensor, dim, extra int, dropout float64,
	build func(*tensor.Tensor, backbone.AdapterConfig) (*backbone.AdapterTable, error)) (*TextProjection, error) {
	if llm == nil || llm.Dims() != 2 || llm.Shape[0] < 2 {
		return nil, fmt.Errorf("align: TextProjection: %w: LLM embeddings must be (items+1) x D", ErrBadConfig)
	}
	if dim < 1 || extra < 0 || dropout < 0 || dropout >= 1 {
		return nil, fmt.Errorf("align: TextProjection: %w: bad settings dim %d, extra layers %d, dropout %g", ErrBadConfig, dim, extra, dropout)
	}
	hidden := make([]int, extra)
	for i := range hidden {
		hidden[i] = dim
	}
	a, err := build(llm, backbone.AdapterConfig{Hidden: hidden, Activation: new(nn.GELU), OutAct: true, Dropout: dropout, ZeroBias: true})
	if err != nil {
		return nil, fmt.Errorf("align: TextProjection: %w", err)
	}
	return &TextProjection{AdapterTable: a, extra: extra}, nil
}

// Params returns "llm" (frozen) and "fc.<k>.weight", "fc.<k>.bias".
func (t *TextProjection) Params() []nn.Param {
	ps := t.AdapterTable.Params()
	for i := range ps {
		ps[i].Name = strings.Replace(ps[i].Name, "adapter.", "fc.", 1)
	}
	return ps
}

// Spec describes the table: Kind KindTextProjection, LLMDim D, Hidden one
// entry d per extra layer, Activation nn.GELU. Dropout is not part of it.
func (t *TextProjection) Spec() backbone.TableSpec {
	s := t.AdapterTable.Spec()
	s.Kind = KindTextProjection
	return s
}

// FusedTable is PAD's aligned item embedding
//
//	e^A_i = GELU(W_c · Dropout([ID[i] ; Text[i]]) + b_c)
//
// (CAT in PAD's code, W_c: (d_id + d_text) → d). ID is typically the
// alignment tower's copy of the ID table and Text a TextProjection.
// Parameters are "id.<...>", "text.<...>" and "fuse.weight", "fuse.bias".
// Dropout is drawn from Rng in Lookup when Rng is set; Materialize never
// drops.
//
// A FusedTable made by IDView has no text part: its text half is zero and it
// shares ID and W_c with its source (the ID-only view of the aligned tower).
//
// Lookup and Backward keep the last lookup: one training goroutine at a
// time. Materialize may run concurrently with other Materialize calls.
type FusedTable struct {
	// Dropout is the dropout probability on the concatenation.
	Dropout float64
	// Rng draws dropout masks in Lookup; nil disables dropout.
	Rng *rand.Rand

	id, text backbone.ItemTable
	textDim  int
	fuse     *nn.Linear
	// caches
	a, b, cat, mask, pre tensor.Tensor
	dcat, dpre, da, db   tensor.Tensor
}

// NewFusedTable returns the fusion of id and text (same NumItems) into
// width dim, W_c xavier_normal and b_c zero drawn from rng.
func NewFusedTable(rng *rand.Rand, id, text backbone.ItemTable, dim int, dropout float64) (*FusedTable, error) {
	if id == nil || text == nil {
		return nil, fmt.Errorf("align: NewFusedTable: nil part")
	}
	if id.NumItems() != text.NumItems() {
		return nil, fmt.Errorf("align: NewFusedTable: ID table has %d items, text table %d", id.NumItems(), text.NumItems())
	}
	if dim < 1 || dropout < 0 || dropout >= 1 {
		return nil, fmt.Errorf("align: NewFusedTable: bad width %d or dropout %g", dim, dropout)
	}
	f := &FusedTable{Dropout: dropout, id: id, text: text, textDim: text.Dim(), fuse: nn.ZeroLinear(id.Dim()+text.Dim(), dim, true)}
	if rng != nil {
		nn.XavierNormal(rng, f.fuse.Weight.Data)
	}
	return f, nil
}

// ID returns the ID part.
func (f *FusedTable) ID() backbone.ItemTable { return f.id }

// Text returns the text part (nil for an IDView).
func (f *FusedTable) Text() backbone.ItemTable { return f.text }

// IDView returns the table with the text half of the concatenation set to
// zero, sharing the ID part and W_c: GELU(W_c·[ID[i]; 0] + b_c). It is the
// ID-only scorer of an aligned tower (used to measure forgetting).
func (f *FusedTable) IDView() *FusedTable {
	return &FusedTable{id: f.id, textDim: f.textDim, fuse: f.fuse}
}

// Params returns "id.*", "text.*" (not for an IDView) and "fuse.weight",
// "fuse.bias".
func (f *FusedTable) Params() []nn.Param {
	ps := nn.Prefix("id", f.id.Params())
	if f.text != nil {
		ps = append(ps, nn.Prefix("text", f.text.Params())...)
	}
	return append(ps, nn.Prefix("fuse", f.fuse.Params())...)
}

// NumItems returns the number of items.
func (f *FusedTable) NumItems() int { return f.id.NumItems() }

// Dim returns the fused width.
func (f *FusedTable) Dim() int { return f.fuse.Out() }

// Spec describes the table: Kind KindFused, Parts [ID, Text].
func (f *FusedTable) Spec() backbone.TableSpec {
	parts := []backbone.TableSpec{f.id.Spec()}
	if f.text != nil {
		parts = append(parts, f.text.Spec())
	}
	return backbone.TableSpec{Kind: KindFused, NumItems: f.NumItems(), Dim: f.Dim(), Parts: parts}
}

// concat writes [a ; b] (b absent: zeros of width textDim) into dst.
func (f *FusedTable) concat(dst, a, b *tensor.Tensor, n int) {
	da, w := f.id.Dim(), f.id.Dim()+f.textDim
	resize(dst, n, w)
	for r := range n {
		row := dst.Data[r*w : (r+1)*w]
		copy(row[:da], a.Data[r*da:(r+1)*da])
		if b != nil {
			copy(row[da:], b.Data[r*f.textDim:(r+1)*f.textDim])
		} else {
			clear(row[da:])
		}
	}
}

// Lookup fuses the parts' vectors of ids (with dropout when Rng is set).
func (f *FusedTable) Lookup(dst *tensor.Tensor, ids []int) *tensor.Tensor {
	n := len(ids)
	a := f.id.Lookup(&f.a, ids)
	var b *tensor.Tensor
	if f.text != nil {
		b = f.text.Lookup(&f.b, ids)
	}
	f.concat(&f.cat, a, b, n)
	m := resize(&f.mask, n, f.cat.Cols())
	if f.Rng != nil && f.Dropout > 0 {
		tensor.DropoutMask(f.Rng, m.Data, f.Dropout)
		tensor.Mul(&f.cat, &f.cat, m)
	} else {
		m.Fill(1)
	}
	pre := f.fuse.Apply(&f.pre, &f.cat)
	resize(dst, n, f.Dim())
	return tensor.GELU(dst, pre)
}

// Backward propagates dOut to W_c, b_c and both parts.
func (f *FusedTable) Backward(dOut *tensor.Tensor) error {
	n := dOut.Rows()
	dpre := resize(&f.dpre, n, f.Dim())
	tensor.GELUBackward(dpre, dOut, &f.pre)
	f.fuse.Backprop(&f.dcat, dpre, &f.cat, false)
	tensor.Mul(&f.dcat, &f.dcat, &f.mask)
	da, w := f.id.Dim(), f.id.Dim()+f.textDim
	ga := resize(&f.da, n, da)
	gb := resize(&f.db, n, f.textDim)
	for r := range n {
		row := f.dcat.Data[r*w : (r+1)*w]
		copy(ga.Data[r*da:(r+1)*da], row[:da])
		copy(gb.Data[r*f.textDim:(r+1)*f.textDim], row[da:])
	}
	if err := f.id.Backward(ga); err != nil {
		return err
	}
	if f.text != nil {
		return f.text.Backward(gb)
	}
	return nil
}

// Materialize fuses every item's vectors (no dropout); row 0 is zero.
func (f *FusedTable) Materialize(dst *tensor.Tensor) *tensor.Tensor {
	a := f.id.Materialize(&tensor.Tensor{})
	var b *tensor.Tensor
	if f.text != nil {
		b = f.text.Materialize(&tensor.Tensor{})
	}
	n := a.Rows()
	var cat, pre tensor.Tensor
	f.concat(&cat, a, b, n)
	f.fuse.Apply(&pre, &cat)
	resize(dst, n, f.Dim())
	tensor.GELU(dst, &pre)
	clear(dst.Row(0))
	return dst
}

// BuildTable returns a table with the structure of spec and zeroed weights
// (to be filled from a checkpoint): the PAD kinds KindTextProjection and
// KindFused, and every kind backbone.BuildTable knows. The LLM embeddings of
// a text projection are zero until loaded.
func BuildTable(spec backbone.TableSpec) (backbone.ItemTable, error) {
	switch spec.Kind {
	case KindTextProjection:
		if spec.NumItems < 1 || spec.LLMDim < 1 {
			return nil, fmt.Errorf("align: text projection: bad sizes items %d llm %d", spec.NumItems, spec.LLMDim)
		}
		return newTextProjection(tensor.New(spec.NumItems+1, spec.LLMDim), spec.Dim, len(spec.Hidden), 0)
	case KindFused:
		if len(spec.Parts) != 1 && len(spec.Parts) != 2 {
			return nil, fmt.Errorf("align: fused table needs 1 or 2 parts, got %d", len(spec.Parts))
		}
		parts := make([]backbone.ItemTable, len(spec.Parts))
		for i, p := range spec.Parts {
			t, err := BuildTable(p)
			if err != nil {
				return nil, err
			}
			parts[i] = t
		}
		if len(parts) == 1 {
			return nil, fmt.Errorf("align: fused table without its text part cannot be rebuilt (an IDView is not saved)")
		}
		return NewFusedTable(nil, parts[0], parts[1], spec.Dim, 0)
	}
	return backbone.BuildTable(spec)
}

// CopyTower returns an independent deep copy of m (encoder, item table and
// model config): PAD's freeze(), which starts the alignment tower from the
// pre-trained ID tower. Training the copy leaves m untouched. The table
// kinds of BuildTable are supported; dropout settings of PAD tables and any
// Rng are not copied.
func CopyTower(m *backbone.SeqModel) (*backbone.SeqModel, error) {
	enc, err := backbone.NewEncoder(rand.New(rand.NewPCG(0, 0)), m.Enc.Config())
	if err != nil {
		return nil, fmt.Errorf("align: CopyTower: %w", err)
	}
	items, err := BuildTable(m.Items.Spec())
	if err != nil {
		return nil, fmt.Errorf("align: CopyTower: %w", err)
	}
	c, err := backbone.NewSeqModel(enc, items, m.Cfg)
	if err != nil {
		return nil, fmt.Errorf("align: CopyTower: %w", err)
	}
	if err := CopyParams(c.Params(), m.Params()); err != nil {
		return nil, fmt.Errorf("align: CopyTower: %w", err)
	}
	return c, nil
}

// CopyParams copies the values of src into dst, matched by name; both must
// list the same names with the same shapes.
func CopyParams(dst, src []nn.Param) error {
	byName := make(map[string]*autograd.Value, len(src))
	for _, p := range src {
		byName[p.Name] = p.Value
	}
	if len(dst) != len(src) {
		return fmt.Errorf("align: %d parameters to fill from %d", len(dst), len(src))
	}
	for _, p := range dst {
		s, ok := byName[p.Name]
		if !ok {
			return fmt.Errorf("align: no source parameter %q", p.Name)
		}
		if !tensor.SameShape(s.Data.Shape, p.Value.Data.Shape) {
			return fmt.Errorf("align: parameter %q: shape %v, source %v", p.Name, p.Value.Data.Shape, s.Data.Shape)
		}
		copy(p.Value.Data.Data, s.Data.Data)
		p.Value.SetRequiresGrad(s.RequiresGrad())
	}
	return nil
}

// resize is tensor.Resize: t becomes rows x cols, contents unspecified.
func resize(t *tensor.Tensor, rows, cols int) *tensor.Tensor { return tensor.Resize(t, rows, cols) }
