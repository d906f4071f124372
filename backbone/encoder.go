package backbone

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// Encoder maps a packed batch of item sequences to one hidden state per
// token: the state at a token summarizes the sequence up to it (causal
// encoders) or the whole sequence (bidirectional ones) and is scored
// against item vectors by a dot product.
//
// The encoder's parameters are read-only during Forward with train=false,
// and all per-call memory lives in a Scratch, so inference may run from many
// goroutines, each with its own Scratch. Training (Forward with train=true,
// then Backward, on the same Scratch) is one goroutine at a time.
type Encoder interface {
	nn.Module
	// Dim is the width of the input item vectors and of the hidden states.
	Dim() int
	// MaxLen is the window width (the longest sequence the encoder sees).
	MaxLen() int
	// NewScratch returns per-goroutine working memory for Forward/Backward.
	NewScratch() Scratch
	// Forward encodes b, whose token item vectors are the rows of x
	// (b.NumTokens() x Dim). It returns the hidden states (b.NumTokens() x
	// Dim), owned by s and valid until its next use. With train, dropout is
	// applied (drawn from rng) and what Backward needs is kept in s.
	Forward(s Scratch, b *Batch, x *tensor.Tensor, train bool, rng *rand.Rand) *tensor.Tensor
	// Backward takes the gradient with respect to Forward's result, adds the
	// parameter gradients into their Grad, and returns the gradient with
	// respect to x (owned by s). An error (for instance from a tape-built
	// encoder's backward pass, see TapeEncoder) stops the training step.
	Backward(s Scratch, dh *tensor.Tensor) (*tensor.Tensor, error)
	// Config returns the encoder's configuration, for saving.
	Config() EncoderConfig
}

// Scratch is an encoder's per-goroutine working memory (opaque). A Scratch
// must not be used by two goroutines at once.
type Scratch interface{}

// EncoderConfig configures every encoder of this package; fields that do
// not apply to a kind are ignored. It is JSON-encoded in a saved model's
// config. DefaultEncoderConfig gives the SASRec reference's settings. It is
// a plain value, safe for concurrent reads.
type EncoderConfig struct {
	// Kind is KindSASRec, KindBERT4Rec, KindGRU4Rec or the kind of a
	// user-defined encoder (see TapeEncoder).
	Kind EncoderKind `json:"kind"`
	// Dim is the hidden width d.
	Dim int `json:"dim"`
	// MaxLen is the input window: the last MaxLen items of a sequence.
	MaxLen int `json:"max_len"`
	// Blocks is the number of transformer blocks (GRU layers are always 1).
	Blocks int `json:"blocks"`
	// Heads is the number of attention heads; Dim must be divisible by it.
	Heads int `json:"heads"`
	// Inner is the FFN hidden width (0 = Dim, as in SASRec's 1x1 convolutions).
	Inner int `json:"inner"`
	// Dropout is applied to the input embeddings, attention weights and
	// twice in the FFN (as in the SASRec reference).
	Dropout float64 `json:"dropout"`
	// Style is the block layout: nn.StyleTF ("tf", the SASRec authors' code:
	// LN'd query, raw keys), nn.StylePreLN ("preln", x + f(LN(x))) or
	// nn.StylePostLN ("postln", LN(x + f(x)), PAD). JSON holds the name.
	Style nn.BlockStyle `json:"style"`
	// NoCausal drops the causal mask: attention is bidirectional over the
	// real items (LLM-ESR's code passes no mask; there, padded keys are also
	// visible, which packed batches cannot reproduce). BERT4Rec is always
	// bidirectional.
	NoCausal bool `json:"no_causal,omitempty"`
	// OutProj adds an attention output projection (nn.MultiheadAttention ports, PAD).
	OutProj bool `json:"out_proj,omitempty"`
	// Activation of the FFN: nn.ReLU (default, "relu" in JSON) or nn.GELU
	// ("gelu").
	Activation nn.Activation `json:"activation"`
	// EmbLayerNorm applies a LayerNorm to item+position before the input
	// dropout (PAD's encoder: LN(item+pos), then dropout).
	EmbLayerNorm bool `json:"emb_ln,omitempty"`
	// NoEmbScale drops the sqrt(d) scaling of the input item vectors
	// (SASRec scales them; PAD's encoder does not).
	NoEmbScale bool `json:"no_emb_scale,omitempty"`
	// LNEps is the LayerNorm epsilon (default 1e-8, as the reference).
	LNEps float64 `json:"ln_eps"`
	// Custom holds the settings of a registered kind (RegisterEncoder) that
	// the fields above do not cover, as raw JSON; built-in kinds leave it
	// empty.
	Custom json.RawMessage `json:"custom,omitempty"`
	// Threads bounds the goroutines used for attention (0 = 2).
	Threads int `json:"-"`
}

// EncoderKind names an encoder architecture. The built-in kinds are
// KindSASRec, KindBERT4Rec and KindGRU4Rec; a user-defined encoder has its
// own kind (the name it is registered under for loading). It marshals as
// its string, so saved configurations read as before.
type EncoderKind string

// The built-in encoder kinds.
const (
	// KindSASRec is the causal self-attentive encoder (SASRec).
	KindSASRec EncoderKind = "sasrec"
	// KindBERT4Rec is the bidirectional self-attentive encoder with a mask
	// vector (BERT4Rec).
	KindBERT4Rec EncoderKind = "bert4rec"
	// KindGRU4Rec is the one-layer GRU encoder (GRU4Rec).
	KindGRU4Rec EncoderKind = "gru4rec"
)

// BuiltIn reports whether k is one of this package's encoder kinds.
func (k EncoderKind) BuiltIn() bool {
	return k == KindSASRec || k == KindBERT4Rec || k == KindGRU4Rec
}

// ParseEncoderKind returns the built-in kind named s, or an error wrapping
// ErrUnknownKind and ErrBadConfig.
func ParseEncoderKind(s string) (EncoderKind, error) {
	k := EncoderKind(s)
	if !k.BuiltIn() {
		return "", fmt.Errorf("backbone: %w: %w: encoder kind %q (want sasrec, bert4rec or gru4rec)", ErrBadConfig, ErrUnknownKind, s)
	}
	return k, nil
}

// Task is what a SeqModel is trained to predict. It marshals as its string.
type Task string

// The tasks of a SeqModel.
const (
	// TaskNext predicts the next item at every position (SASRec, GRU4Rec).
	TaskNext Task = "next"
	// TaskMasked predicts masked items (BERT4Rec).
	TaskMasked Task = "masked"
)

// DefaultEncoderConfig returns the SASRec reference's configuration for a
// built-in kind: d 64, maxlen 50, 2 blocks, 1 head, dropout 0.5, block style
// tf (BERT4Rec: postln, GELU, bidirectional, dropout 0.2; GRU4Rec: dropout
// 0.2), LN eps 1e-8. Any other kind is an error wrapping ErrUnknownKind and
// ErrBadConfig.
func DefaultEncoderConfig(kind EncoderKind) (EncoderConfig, error) {
	if _, err := ParseEncoderKind(string(kind)); err != nil {
		return EncoderConfig{}, err
	}
	c := EncoderConfig{Kind: kind, Dim: 64, MaxLen: 50, Blocks: 2, Heads: 1, Dropout: 0.5, Style: nn.StyleTF,
		Activation: nn.ReLU, LNEps: 1e-8}
	switch kind {
	case KindBERT4Rec:
		c.Style, c.Activation, c.NoCausal = nn.StylePostLN, nn.GELU, true
		c.Dropout = 0.2
	case KindGRU4Rec:
		c.Blocks, c.Heads = 1, 1
		c.Dropout = 0.2
	}
	return c, nil
}

// validateEnums checks the typed fields of c (style must be a declared
// value, activation ReLU or GELU: the encoders have no Identity FFN).
func (c EncoderConfig) validateEnums() error {
	if !c.Style.Valid() {
		return fmt.Errorf("backbone: %w: block style %d", ErrBadConfig, int(c.Style))
	}
	if c.Activation != nn.ReLU && c.Activation != nn.GELU {
		return fmt.Errorf("backbone: %w: encoder activation %v (want nn.ReLU or nn.GELU)", ErrBadConfig, c.Activation)
	}
	return nil
}
