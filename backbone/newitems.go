package backbone

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/tensor"
)

// TextItemTable is an ItemTable that computes the vectors of new items from
// their raw LLM embeddings itself (as AdapterTable does); NewItemEncoder
// uses it instead of a ridge map. NewItemVectors must be safe for
// concurrent use and return an n x Dim tensor for n rows of llm.
type TextItemTable interface {
	ItemTable
	NewItemVectors(llm *tensor.Tensor) (*tensor.Tensor, error)
}

// ItemEncoder gives item vectors to items a table has never seen, from their
// raw LLM embedding. It is immutable and safe for concurrent use.
type ItemEncoder interface {
	// LLMDim is the width of the raw LLM embeddings Encode takes.
	LLMDim() int
	// Dim is the width of the item vectors (the table's Dim).
	Dim() int
	// Encode returns the item vectors (n x Dim) of n items with raw LLM
	// embeddings llm (n x LLMDim). It returns an error wrapping
	// ErrNonFinite for a non-finite input or output and ErrBadConfig for a
	// wrong width.
	Encode(llm *tensor.Tensor) (*tensor.Tensor, error)
}

// ItemEncoderOptions configures NewItemEncoder.
type ItemEncoderOptions struct {
	// LLM holds the raw LLM embeddings of the table's own items
	// ((NumItems+1) x LLMDim, row 0 ignored): what the ridge maps are fit
	// on. Required.
	LLM *tensor.Tensor
	// Reduce, when non-nil, maps raw LLM rows (n x LLMDim) to the features
	// the table was built from (e.g. a fitted recpca.Projection's
	// Transform): the ridge maps use them, and an adapter whose input width
	// is theirs gets them. It must not keep its arguments.
	Reduce func(x *tensor.Tensor) (*tensor.Tensor, error)
	// Ridge is the scale-free ridge penalty (λ = Ridge · mean eigenvalue of
	// X̄ᵀX̄); 0 means 1e-2.
	Ridge float64
	// FitItems, when non-nil, lists the item ids the ridge maps are fit on
	// (e.g. the items seen in training); nil means 1..NumItems.
	FitItems []int
	// MatchDispersion rescales the ridge maps' predicted deviations from
	// the mean row, (x − x̄)W, by one factor per map so that their mean
	// squared norm over the fit items equals that of the trained rows'
	// deviations. A ridge (any regression) pulls predictions toward the
	// mean row: when the text explains little of the trained rows, every
	// new item gets nearly the mean row, and in a normalized table nearly
	// the same vector. Off by default.
	MatchDispersion bool
}

// NewItemEncoder returns the ItemEncoder of table: it gives the vectors of
// items the trained table never saw from their raw LLM embedding alone,
// without retraining.
//
// Every table kind has a way:
//
//   - AdapterTable (frozen LLM + trainable adapter): run the adapter on the
//     new rows; exactly what the table would give had the item been there.
//   - IDTable (trained free vectors, typically initialized from a
//     (Rec-)PCA of the LLM embeddings): a closed-form ridge regression from
//     the item's (reduced) LLM embedding to its trained row, fit on the
//     table's existing items: W = (X̄ᵀX̄ + λI)⁻¹X̄ᵀȲ on centred X and Y, and
//     y = (x − x̄)W + ȳ. λ = Ridge · tr(X̄ᵀX̄)/p is scale-free.
//   - NormalizedTable: its inner table's way, then the same s·x/‖x‖.
//   - ConcatTable (dual view): every part's way, concatenated.
//   - a TextItemTable: its own NewItemVectors.
//   - any other table (a user's, or PAD's align tables): the ridge map to
//     its materialized rows, as for an ID table.
//
// For a model loaded from a file, pass the table of the Recommender's
// SeqModel (LoadRecommender, then rec.SeqModel().Items): Recommender.Model
// is the packed scorer, not the model.
func NewItemEncoder(table ItemTable, opt ItemEncoderOptions) (ItemEncoder, error) {
	if opt.LLM == nil || opt.LLM.Dims() != 2 || opt.LLM.Shape[0] != table.NumItems()+1 {
		var shape []int
		if opt.LLM != nil {
			shape = opt.LLM.Shape
		}
		return nil, fmt.Errorf("backbone: NewItemEncoder: LLM embeddings of shape %v, want [%d llm_dim]: %w", shape, table.NumItems()+1, ErrBadConfig)
	}
	if err := checkFinite("LLM embeddings", opt.LLM.Data); err != nil {
		return nil, err
	}
	if opt.Ridge == 0 {
		opt.Ridge = 1e-2
	}
	if opt.Ridge < 0 || math.IsNaN(opt.Ridge) || math.IsInf(opt.Ridge, 0) {
		return nil, fmt.Errorf("backbone: NewItemEncoder: ridge %v: %w", opt.Ridge, ErrBadConfig)
	}
	if opt.FitItems == nil {
		opt.FitItems = make([]int, table.NumItems())
		for i := range opt.FitItems {
			opt.FitItems[i] = i + 1
		}
	}
	for _, it := range opt.FitItems {
		if it < 1 || it > table.NumItems() {
			return nil, fmt.Errorf("backbone: NewItemEncoder: fit item %d outside 1..%d: %w", it, table.NumItems(), ErrItemOutOfRange)
		}
	}
	b := &encoderBuilder{opt: opt}
	enc, err := b.build(table)
	if err != nil {
		return nil, err
	}
	return &checkedEncoder{inner: enc, llmDim: opt.LLM.Shape[1]}, nil
}

// encoderBuilder builds the encoders of a table and its parts, sharing the
// (reduced) features of the existing items.
type encoderBuilder struct {
	opt     ItemEncoderOptions
	reduced *tensor.Tensor
}

// features returns the ridge features of the table's items (the reduced
// LLM rows when Reduce is set).
func (b *encoderBuilder) features() (*tensor.Tensor, error) {
	if b.opt.Reduce == nil {
		return b.opt.LLM, nil
	}
	if b.reduced == nil {
		z, err := b.opt.Reduce(b.opt.LLM)
		if err != nil {
			return nil, fmt.Errorf("backbone: NewItemEncoder: reduce: %w", err)
		}
		if z.Dims() != 2 || z.Shape[0] != b.opt.LLM.Shape[0] {
			return nil, fmt.Errorf("backbone: NewItemEncoder: reduce gave shape %v for %d rows: %w", z.Shape, b.opt.LLM.Shape[0], ErrBadConfig)
		}
		b.reduced = z
	}
	return b.reduced, nil
}

func (b *encoderBuilder) build(table ItemTable) (itemMap, error) {
	switch t := table.(type) {
	case TextItemTable:
		return textMap{t}, nil
	case *AdapterTable:
		llmDim := b.opt.LLM.Shape[1]
		if t.spec.LLMDim == llmDim {
			return &adapterMap{t: t}, nil
		}
		if b.opt.Reduce != nil {
			z, err := b.features()
			if err != nil {
				return nil, err
			}
			if z.Shape[1] == t.spec.LLMDim {
				return &adapterMap{t: t, reduce: b.opt.Reduce}, nil
			}
		}
		return nil, fmt.Errorf("backbone: NewItemEncoder: adapter takes %d-wide embeddings, got %d-wide LLM rows and no matching Reduce: %w",
			t.spec.LLMDim, llmDim, ErrBadConfig)
	case *NormalizedTable:
		inner, err := b.build(t.inner)
		if err != nil {
			return nil, err
		}
		return &normalizedMap{inner: inner, scale: t.scale.Data.Data[0]}, nil
	case *ConcatTable:
		var parts []itemMap
		for _, p := range t.parts {
			m, err := b.build(p)
			if err != nil {
				return nil, err
			}
			parts = append(parts, m)
		}
		return &concatMap{parts: parts, width: t.dim}, nil
	}
	// an ID table, or any table we cannot run: ridge to its rows
	x, err := b.features()
	if err != nil {
		return nil, err
	}
	rows := table.Materialize(&tensor.Tensor{})
	return fitRidge(x, rows, b.opt.FitItems, b.opt.Ridge, b.opt.Reduce, b.opt.MatchDispersion)
}

// itemMap maps raw LLM rows to (part of) item vectors.
type itemMap interface {
	dim() int
	apply(llm *tensor.Tensor) (*tensor.Tensor, error)
}

// checkedEncoder is the ItemEncoder: it checks the input and the output.
type checkedEncoder struct {
	inner  itemMap
	llmDim int
}

func (e *checkedEncoder) LLMDim() int { return e.llmDim }
func (e *checkedEncoder) Dim() int    { return e.inner.dim() }

func (e *checkedEncoder) Encode(llm *tensor.Tensor) (*tensor.Tensor, error) {
	if llm == nil || llm.Dims() != 2 || llm.Shape[1] != e.llmDim {
		var shape []int
		if llm != nil {
			shape = llm.Shape
		}
		return nil, fmt.Errorf("backbone: encode new items: embeddings of shape %v, want [n %d]: %w", shape, e.llmDim, ErrBadConfig)
	}
	if err := checkFinite("new item embeddings", llm.Data); err != nil {
		return nil, err
	}
	if llm.Shape[0] == 0 {
		return tensor.New(0, e.Dim()), nil
	}
	out, err := e.inner.apply(llm)
	if err != nil {
		return nil, err
	}
	if err := checkFinite("new item vectors", out.Data); err != nil {
		return nil, err
	}
	return out, nil
}

// checkFinite returns an error wrapping ErrNonFinite naming the first
// non-finite value's index.
func checkFinite(what string, v []float32) error {
	if allFinite(v) {
		return nil
	}
	for i, x := range v {
		if !finite(x) {
			return fmt.Errorf("backbone: %s: value %d is %v: %w", what, i, x, ErrNonFinite)
		}
	}
	return nil
}

// adapterMap runs an AdapterTable's layers on new rows.
type adapterMap struct {
	t      *AdapterTable
	reduce func(*tensor.Tensor) (*tensor.Tensor, error)
}

func (m *adapterMap) dim() int { return m.t.spec.Dim }

func (m *adapterMap) apply(llm *tensor.Tensor) (*tensor.Tensor, error) {
	x := llm
	if m.reduce != nil {
		var err error
		if x, err = m.reduce(llm); err != nil {
			return nil, fmt.Errorf("backbone: encode new items: reduce: %w", err)
		}
	}
	return m.t.apply(x), nil
}

// textMap asks a TextItemTable.
type textMap struct{ t TextItemTable }

func (m textMap) dim() int { return m.t.Dim() }

func (m textMap) apply(llm *tensor.Tensor) (*tensor.Tensor, error) {
	v, err := m.t.NewItemVectors(llm)
	if err != nil {
		return nil, err
	}
	if v.Dims() != 2 || v.Shape[0] != llm.Rows() || v.Shape[1] != m.t.Dim() {
		return nil, fmt.Errorf("backbone: encode new items: table gave shape %v for %d rows: %w", v.Shape, llm.Rows(), ErrBadConfig)
	}
	return v, nil
}

// normalizedMap normalizes its inner map's rows to the table's scale.
type normalizedMap struct {
	inner itemMap
	scale float32
}

func (m *normalizedMap) dim() int { return m.inner.dim() }

func (m *normalizedMap) apply(llm *tensor.Tensor) (*tensor.Tensor, error) {
	raw, err := m.inner.apply(llm)
	if err != nil {
		return nil, err
	}
	out := tensor.New(raw.Rows(), raw.Cols())
	normalizeRows(out, raw, m.scale, nil)
	return out, nil
}

// concatMap concatenates its parts' rows.
type concatMap struct {
	parts []itemMap
	width int
}

func (m *concatMap) dim() int { return m.width }

func (m *concatMap) apply(llm *tensor.Tensor) (*tensor.Tensor, error) {
	n := llm.Rows()
	out := tensor.New(n, m.width)
	off := 0
	for _, p := range m.parts {
		v, err := p.apply(llm)
		if err != nil {
			return nil, err
		}
		w := p.dim()
		for r := range n {
			copy(out.Data[r*m.width+off:r*m.width+off+w], v.Data[r*w:(r+1)*w])
		}
		off += w
	}
	return out, nil
}

// ridgeMap is y = (x − mx)·W + my on (reduced) LLM features.
type ridgeMap struct {
	w      []float64 // p x d
	mx, my []float64
	p, d   int
	reduce func(*tensor.Tensor) (*tensor.Tensor, error)
}

// errSingular is returned when the ridge system cannot be solved.
var errSingular = errors.New("ridge system is not positive definite")

// fitRidge fits the ridge map from the rows fit of x (features) to the same
// rows of y (item vectors).
func fitRidge(x, y *tensor.Tensor, fit []int, ridge float64, reduce func(*tensor.Tensor) (*tensor.Tensor, error), match bool) (*ridgeMap, error) {
	p, d, n := x.Cols(), y.Cols(), len(fit)
	if n < 2 {
		return nil, fmt.Errorf("backbone: NewItemEncoder: %d items to fit a ridge map on, need 2: %w", n, ErrBadConfig)
	}
	m := &ridgeMap{w: make([]float64, p*d), mx: make([]float64, p), my: make([]float64, d), p: p, d: d, reduce: reduce}
	for _, it := range fit {
		for j, v := range x.Row(it) {
			m.mx[j] += float64(v)
		}
		for j, v := range y.Row(it) {
			m.my[j] += float64(v)
		}
	}
	for j := range m.mx {
		m.mx[j] /= float64(n)
	}
	for j := range m.my {
		m.my[j] /= float64(n)
	}
	xc := mat.NewDense(n, p, nil)
	yc := mat.NewDense(n, d, nil)
	for r, it := range fit {
		for j, v := range x.Row(it) {
			xc.Set(r, j, float64(v)-m.mx[j])
		}
		for j, v := range y.Row(it) {
			yc.Set(r, j, float64(v)-m.my[j])
		}
	}
	var a mat.SymDense
	a.SymOuterK(1, xc.T())
	tr := 0.0
	for j := range p {
		tr += a.At(j, j)
	}
	lambda := ridge * max(tr/float64(p), 1e-12)
	for j := range p {
		a.SetSym(j, j, a.At(j, j)+lambda)
	}
	var ch mat.Cholesky
	if !ch.Factorize(&a) {
		return nil, fmt.Errorf("backbone: NewItemEncoder: %w", errSingular)
	}
	var xty, w mat.Dense
	xty.Mul(xc.T(), yc)
	if err := ch.SolveTo(&w, &xty); err != nil {
		return nil, fmt.Errorf("backbone: NewItemEncoder: ridge solve: %w", err)
	}
	c := 1.0
	if match {
		// mean squared norms of the trained and predicted deviations
		var pred mat.Dense
		pred.Mul(xc, &w)
		ty, py := mat.Norm(yc, 2), mat.Norm(&pred, 2) // Frobenius
		if py > 0 {
			c = ty / py
		}
	}
	for i := range p {
		for j := range d {
			m.w[i*d+j] = c * w.At(i, j)
		}
	}
	return m, nil
}

func (m *ridgeMap) dim() int { return m.d }

func (m *ridgeMap) apply(llm *tensor.Tensor) (*tensor.Tensor, error) {
	x := llm
	if m.reduce != nil {
		var err error
		if x, err = m.reduce(llm); err != nil {
			return nil, fmt.Errorf("backbone: encode new items: reduce: %w", err)
		}
	}
	if x.Cols() != m.p {
		return nil, fmt.Errorf("backbone: encode new items: %d features, the ridge map takes %d: %w", x.Cols(), m.p, ErrBadConfig)
	}
	n := x.Rows()
	out := tensor.New(n, m.d)
	row := make([]float64, m.d)
	for r := range n {
		copy(row, m.my)
		for i, v := range x.Row(r) {
			c := float64(v) - m.mx[i]
			wi := m.w[i*m.d : (i+1)*m.d]
			for j := range row {
				row[j] += c * wi[j]
			}
		}
		for j, v := range row {
			out.Data[r*m.d+j] = float32(v)
		}
	}
	return out, nil
}
