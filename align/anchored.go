package align

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
)

// Anchored is PAD's recommendation-anchored alignment (phase 2) as a
// backbone.Model:
//
//	L = L_rec(Rec) + Weight · Loss(X[B], Y[B])
//
// Rec is the alignment tower: a copy of the pre-trained ID tower (encoder
// and ID table) whose item table also reads the text side (in PAD, the
// concatenation of the ID-table copy and the text projection, fused by a
// layer). X and Y are the two item tables to align, typically the text
// projection and the ID-table copy, usually parts of Rec.Items, with the
// same width. B is the items of the batch: every item in the users'
// training windows (the last MaxLen+1 items), at most MaxRows of them drawn
// at random when there are more. The original ID tower is not part of the
// model, so it keeps its pre-trained values: that is the anchor that
// protects collaborative knowledge.
//
// LossGrad keeps working memory in the model: one training goroutine at a
// time; an Anchored is not safe for concurrent use.
type Anchored struct {
	// Rec is the alignment tower trained with its own BCE loss.
	Rec *backbone.SeqModel
	// X and Y are the item tables whose vectors Loss aligns.
	X, Y backbone.ItemTable
	// Loss is the alignment loss (PAD: MKMMD{Estimator: UnbiasedOffset}).
	Loss Loss
	// Weight is γ (PAD: 0.2).
	Weight float64
	// MaxRows bounds the number of aligned rows per batch (0 means 1024).
	MaxRows int
	// AlignOnly drops L_rec: only Weight · Loss is trained, so nothing
	// anchors the tables to the recommendation task. It is the control that
	// shows what the anchor protects (Rec's encoder gets no gradient).
	AlignOnly bool

	tape     *autograd.Tape
	xop, yop *backbone.TableOp
	ids      []int
	// LastAlign is the alignment loss (before Weight) of the last LossGrad.
	LastAlign float64
}

// NewAnchored checks that x and y have the same width and number of items as
// rec's table, that loss's configuration works (Validator) and that weight is
// finite and non-negative, and returns the model. A bad loss or weight is an
// error wrapping ErrBadConfig.
func NewAnchored(rec *backbone.SeqModel, x, y backbone.ItemTable, loss Loss, weight float64) (*Anchored, error) {
	if loss == nil {
		return nil, fmt.Errorf("align: NewAnchored: %w: nil loss", ErrBadConfig)
	}
	if v, ok := loss.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("align: NewAnchored: %w", err)
		}
	}
	if math.IsNaN(weight) || math.IsInf(weight, 0) || weight < 0 {
		return nil, fmt.Errorf("align: NewAnchored: %w: weight %v is not a finite non-negative number", ErrBadConfig, weight)
	}
	if x.Dim() != y.Dim() {
		return nil, fmt.Errorf("align: NewAnchored: tables of widths %d and %d cannot be aligned", x.Dim(), y.Dim())
	}
	if n := rec.NumItems(); x.NumItems() != n || y.NumItems() != n {
		return nil, fmt.Errorf("align: NewAnchored: tables have %d and %d items, the model %d", x.NumItems(), y.NumItems(), n)
	}
	return &Anchored{Rec: rec, X: x, Y: y, Loss: loss, Weight: weight, tape: autograd.NewTape()}, nil
}

// Params returns the alignment tower's parameters (which include X's and
// Y's when they are parts of its table) plus those of X and Y that are not,
// under "align_x." and "align_y.".
func (a *Anchored) Params() []nn.Param {
	out := a.Rec.Params()
	seen := map[*autograd.Value]bool{}
	for _, p := range out {
		seen[p.Value] = true
	}
	for _, p := range append(nn.Prefix("align_x", a.X.Params()), nn.Prefix("align_y", a.Y.Params())...) {
		if !seen[p.Value] {
			seen[p.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// LossGrad computes L for seqs and adds its gradient into every trainable
// parameter. See backbone.Model.
func (a *Anchored) LossGrad(seqs [][]int, rng *rand.Rand) (float64, error) {
	var lrec float64
	if !a.AlignOnly {
		var err error
		if lrec, err = a.Rec.LossGrad(seqs, rng); err != nil {
			return lrec, err
		}
	}
	win := a.Rec.Enc.MaxLen() + 1
	a.ids = a.ids[:0]
	for _, s := range seqs {
		if len(s) > win {
			s = s[len(s)-win:]
		}
		a.ids = append(a.ids, s...)
	}
	maxRows := a.MaxRows
	if maxRows <= 0 {
		maxRows = 1024
	}
	if len(a.ids) > maxRows {
		rng.Shuffle(len(a.ids), func(i, j int) { a.ids[i], a.ids[j] = a.ids[j], a.ids[i] })
		a.ids = a.ids[:maxRows]
	}
	if len(a.ids) < 2 || a.Weight == 0 {
		a.LastAlign = 0
		return lrec, nil
	}
	// X and Y are recorded on the tape as ops (backbone.TableOp): the tape's
	// Backward runs their own backward passes. One tape serves every batch
	// shape.
	if a.tape == nil {
		a.tape = autograd.NewTape()
	}
	if a.xop == nil || a.xop.Items != a.X {
		a.xop = backbone.NewTableOp(a.X)
	}
	if a.yop == nil || a.yop.Items != a.Y {
		a.yop = backbone.NewTableOp(a.Y)
	}
	t := a.tape
	t.Reset()
	vx, err := a.xop.Apply(t, a.ids)
	if err != nil {
		return lrec, fmt.Errorf("align: anchored alignment: %w", err)
	}
	vy, err := a.yop.Apply(t, a.ids)
	if err != nil {
		return lrec, fmt.Errorf("align: anchored alignment: %w", err)
	}
	l := a.Loss.Loss(t, vx, vy)
	a.LastAlign = float64(l.Data.Data[0])
	if l.RequiresGrad() {
		if err := t.Backward(t.Scale(l, float32(a.Weight))); err != nil {
			return lrec, fmt.Errorf("align: anchored alignment loss: %w", err)
		}
	}
	return lrec + a.Weight*a.LastAlign, nil
}
