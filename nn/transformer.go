package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
)

// BlockStyle selects where a TransformerBlock puts its layer norms.
type BlockStyle int

const (
	// StyleTF is the SASRec authors' TensorFlow block: q = LN1(x);
	// x = q + Attn(query=q, key=value=x); y = LN2(x); x = y + FFN(y).
	StyleTF BlockStyle = iota
	// StylePreLN is x = x + Attn(LN1(x)); x = x + FFN(LN2(x)) (the SASRec
	// paper's formula).
	StylePreLN
	// StylePostLN is x = LN1(x + Attn(x)); x = LN2(x + FFN(x)) (the original
	// Transformer; PAD and pmixer's SASRec.pytorch).
	StylePostLN
)

// String returns "tf", "preln" or "postln".
func (s BlockStyle) String() string {
	switch s {
	case StyleTF:
		return "tf"
	case StylePreLN:
		return "preln"
	case StylePostLN:
		return "postln"
	}
	return fmt.Sprintf("BlockStyle(%d)", int(s))
}

// ParseBlockStyle parses "tf", "preln" or "postln".
func ParseBlockStyle(s string) (BlockStyle, error) {
	switch s {
	case "tf":
		return StyleTF, nil
	case "preln", "pre-ln":
		return StylePreLN, nil
	case "postln", "post-ln":
		return StylePostLN, nil
	}
	return 0, fmt.Errorf("nn: %w: unknown block style %q (want tf, preln or postln)", ErrBadConfig, s)
}

// BlockConfig configures NewTransformerBlock.
type BlockConfig struct {
	// D is the model width and Heads the number of attention heads.
	D, Heads int
	// Inner is the feed-forward inner size (0 means D, as SASRec).
	Inner int
	// Act is the feed-forward activation.
	Act Activation
	// Dropout is used on the attention weights, inside the feed-forward
	// network and on its output (SASRec's setting).
	Dropout float32
	// Style places the layer norms.
	Style BlockStyle
	// OutProj adds an attention output projection.
	OutProj bool
	// Eps is the layer-norm epsilon (0 means 1e-8, as the SASRec reference).
	Eps float32
	// DropAttnOut also applies Dropout to the attention output before the
	// residual sum (off in the SASRec reference; on in standard post-LN
	// Transformers).
	DropAttnOut bool
}

// TransformerBlock is one self-attention block with a feed-forward network,
// in one of three layer-norm styles. Parameter names: "ln1.*", "attn.*",
// "ln2.*", "ffn.*".
//
// Safe for concurrent Forward calls on different tapes (with different rngs)
// as long as nobody updates its parameters.
type TransformerBlock struct {
	// Style places the layer norms.
	Style BlockStyle
	// LN1 goes with attention, LN2 with the feed-forward network.
	LN1, LN2 *LayerNorm
	// Attn is the self-attention sublayer.
	Attn *MultiHeadSelfAttention
	// FFN is the position-wise feed-forward sublayer.
	FFN *FeedForward
	// Dropout is applied to the feed-forward output (and to the attention
	// output when DropAttnOut) before the residual sum.
	Dropout float32
	// DropAttnOut enables the dropout on the attention output.
	DropAttnOut bool
	// ZeroPadded multiplies the block's output by the timeline mask (rows of
	// padded positions set to 0) when the mask has KeyPad, as SASRec does
	// after every block.
	ZeroPadded bool
}

// NewTransformerBlock builds a block from cfg with ZeroPadded set.
func NewTransformerBlock(rng *rand.Rand, cfg BlockConfig) (*TransformerBlock, error) {
	if cfg.Inner == 0 {
		cfg.Inner = cfg.D
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if !cfg.Style.Valid() {
		return nil, fmt.Errorf("nn: %w: unknown block style %d", ErrBadConfig, int(cfg.Style))
	}
	if !cfg.Act.Valid() {
		return nil, fmt.Errorf("nn: %w: unknown activation %d", ErrBadConfig, int(cfg.Act))
	}
	attn, err := NewMultiHeadSelfAttention(rng, cfg.D, cfg.Heads, cfg.OutProj, cfg.Dropout)
	if err != nil {
		return nil, err
	}
	return &TransformerBlock{
		Style: cfg.Style,
		LN1:   NewLayerNorm(cfg.D, cfg.Eps), LN2: NewLayerNorm(cfg.D, cfg.Eps),
		Attn: attn, FFN: NewFeedForward(rng, cfg.D, cfg.Inner, cfg.Act, cfg.Dropout),
		Dropout: cfg.Dropout, DropAttnOut: cfg.DropAttnOut, ZeroPadded: true,
	}, nil
}

// Forward applies the block to x [B, T, d].
func (b *TransformerBlock) Forward(t *autograd.Tape, x *autograd.Value, mask AttnMask, train bool, rng *rand.Rand) *autograd.Value {
	attnOut := func(q, kv *autograd.Value) *autograd.Value {
		a := b.Attn.ForwardQKV(t, q, kv, mask, train, rng)
		if b.DropAttnOut {
			a = t.Dropout(a, b.Dropout, train, rng)
		}
		return a
	}
	ffnOut := func(x *autograd.Value) *autograd.Value {
		return t.Dropout(b.FFN.Forward(t, x, train, rng), b.Dropout, train, rng)
	}
	switch b.Style {
	case StyleTF:
		q := b.LN1.Forward(t, x)
		x = t.Add(q, attnOut(q, x))
		y := b.LN2.Forward(t, x)
		x = t.Add(y, ffnOut(y))
	case StylePreLN:
		y := b.LN1.Forward(t, x)
		x = t.Add(x, attnOut(y, y))
		x = t.Add(x, ffnOut(b.LN2.Forward(t, x)))
	default:
		x = b.LN1.Forward(t, t.Add(x, attnOut(x, x)))
		x = b.LN2.Forward(t, t.Add(x, ffnOut(x)))
	}
	if b.ZeroPadded && mask.KeyPad != nil {
		x = t.Mul(x, TimelineMask(t, mask.KeyPad, x.Data.Shape[0], x.Data.Shape[1]))
	}
	return x
}

// TimelineMask returns a constant [B, T, 1] on the tape holding 0 at padded
// positions (keyPad true) and 1 elsewhere, to multiply [B, T, d] states by.
func TimelineMask(t *autograd.Tape, keyPad []bool, B, T int) *autograd.Value {
	if len(keyPad) != B*T {
		panic(fmt.Errorf("nn: timeline mask of %d entries for B=%d T=%d", len(keyPad), B, T))
	}
	m := t.Scratch(B, T, 1)
	for i, p := range keyPad {
		if !p {
			m.Data[i] = 1
		}
	}
	return t.Const(m)
}

// Params returns the block's parameters under "ln1", "attn", "ln2", "ffn".
func (b *TransformerBlock) Params() []Param {
	ps := append(Prefix("ln1", b.LN1.Params()), Prefix("attn", b.Attn.Params())...)
	ps = append(ps, Prefix("ln2", b.LN2.Params())...)
	return append(ps, Prefix("ffn", b.FFN.Params())...)
}
