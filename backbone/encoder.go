package backbone

import (
	"encoding/json"
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
	// respect to x (owned by s).
	Backward(s Scratch, dh *tensor.Tensor) *tensor.Tensor
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
	// Kind is "sasrec", "bert4rec", "gru4rec" or a kind registered with
	// RegisterEncoder.
	Kind string `json:"kind"`
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
	// Style is the block layout: "tf" (the SASRec authors' code: LN'd query,
	// raw keys), "preln" (x + f(LN(x))) or "postln" (LN(x + f(x)), PAD).
	Style string `json:"style"`
	// NoCausal drops the causal mask: attention is bidirectional over the
	// real items (LLM-ESR's code passes no mask; there, padded keys are also
	// visible, which packed batches cannot reproduce). BERT4Rec is always
	// bidirectional.
	NoCausal bool `json:"no_causal,omitempty"`
	// OutProj adds an attention output projection (nn.MultiheadAttention ports, PAD).
	OutProj bool `json:"out_proj,omitempty"`
	// Activation of the FFN: "relu" (default) or "gelu".
	Activation string `json:"activation,omitempty"`
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

// DefaultEncoderConfig returns the SASRec reference's configuration for
// kind ("sasrec", "bert4rec" or "gru4rec"): d 64, maxlen 50, 2 blocks,
// 1 head, dropout 0.5, block style "tf" (BERT4Rec: "postln", GELU), LN eps 1e-8.
func DefaultEncoderConfig(kind string) EncoderConfig {
	c := EncoderConfig{Kind: kind, Dim: 64, MaxLen: 50, Blocks: 2, Heads: 1, Dropout: 0.5, Style: "tf",
		Activation: "relu", LNEps: 1e-8}
	switch kind {
	case "bert4rec":
		c.Style, c.Activation, c.NoCausal = "postln", "gelu", true
		c.Dropout = 0.2
	case "gru4rec":
		c.Blocks, c.Heads = 1, 1
		c.Dropout = 0.2
	}
	return c
}
