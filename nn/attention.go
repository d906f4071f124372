package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/autograd"
)

// AttnMask says which keys each query may attend to in self-attention over
// [B, T] sequences.
type AttnMask struct {
	// Causal blocks keys after the query (position j > i).
	Causal bool
	// KeyPad, when not nil, has B·T entries; KeyPad[b·T+j] true marks
	// position j of sequence b as padding: it is excluded as a key, except
	// that a query may always attend to itself, so rows of padded queries stay
	// finite (callers zero them afterwards, see TransformerBlock.ZeroPadded).
	KeyPad []bool
}

func (m AttnMask) empty() bool { return !m.Causal && m.KeyPad == nil }

// keep fills a [B, T, T] keep mask from m on the tape's scratch memory.
func (m AttnMask) keep(t *autograd.Tape, B, T int) []bool {
	if m.KeyPad != nil && len(m.KeyPad) != B*T {
		panic(fmt.Errorf("nn: attention KeyPad has %d entries for B=%d T=%d", len(m.KeyPad), B, T))
	}
	k := t.ScratchBools(B * T * T)
	for b := 0; b < B; b++ {
		for i := 0; i < T; i++ {
			row := k[(b*T+i)*T : (b*T+i+1)*T]
			for j := range row {
				ok := !m.Causal || j <= i
				if ok && m.KeyPad != nil && m.KeyPad[b*T+j] && j != i {
					ok = false
				}
				row[j] = ok
			}
		}
	}
	return k
}

// MultiHeadSelfAttention is scaled dot-product attention with Heads heads of
// size d/Heads, linear Q/K/V projections with bias, dropout on the attention
// weights and an optional output projection (the SASRec paper has none;
// nn.MultiheadAttention ports have one). Parameter names: "q.weight",
// "q.bias", "k.*", "v.*" and, with an output projection, "o.*".
//
// Safe for concurrent Forward calls on different tapes (with different rngs)
// as long as nobody updates its parameters.
type MultiHeadSelfAttention struct {
	// Q, K and V are the d x d query, key and value projections.
	Q, K, V *Linear
	// O is the output projection, or nil for none.
	O *Linear
	// Heads is the number of heads; each has size d/Heads.
	Heads int
	// Dropout is the probability applied to the attention weights.
	Dropout float32
}

// NewMultiHeadSelfAttention returns attention over d features with the given
// number of heads (d must be divisible by heads).
func NewMultiHeadSelfAttention(rng *rand.Rand, d, heads int, outProj bool, dropout float32) (*MultiHeadSelfAttention, error) {
	if heads <= 0 || d%heads != 0 {
		return nil, fmt.Errorf("nn: attention: hidden size %d is not divisible by %d heads", d, heads)
	}
	a := &MultiHeadSelfAttention{
		Q: NewLinear(rng, d, d, true), K: NewLinear(rng, d, d, true), V: NewLinear(rng, d, d, true),
		Heads: heads, Dropout: dropout,
	}
	if outProj {
		a.O = NewLinear(rng, d, d, true)
	}
	return a, nil
}

// Forward is self-attention of x [B, T, d] on itself.
func (a *MultiHeadSelfAttention) Forward(t *autograd.Tape, x *autograd.Value, mask AttnMask, train bool, rng *rand.Rand) *autograd.Value {
	return a.ForwardQKV(t, x, x, mask, train, rng)
}

// ForwardQKV attends from queries computed from q [B, T, d] to keys and
// values computed from kv [B, T, d] (the SASRec TF-style block uses q = LN(x)
// and kv = x). It returns [B, T, d].
func (a *MultiHeadSelfAttention) ForwardQKV(t *autograd.Tape, q, kv *autograd.Value, mask AttnMask, train bool, rng *rand.Rand) *autograd.Value {
	s := q.Data.Shape
	if len(s) != 3 || len(kv.Data.Shape) != 3 || kv.Data.Shape[0] != s[0] || kv.Data.Shape[1] != s[1] || kv.Data.Shape[2] != s[2] {
		panic(fmt.Errorf("nn: attention needs q and kv of the same [B,T,d] shape, got %v and %v", s, kv.Data.Shape))
	}
	B, T, d := s[0], s[1], s[2]
	H := a.Heads
	dh := d / H
	// [B,T,d] -> [B,T,H,dh] -> [H,B,T,dh]: heads lead, so a [B,T,T] mask
	// repeats over them as a suffix.
	split := func(x *autograd.Value) *autograd.Value {
		return t.Permute(t.Reshape(x, B, T, H, dh), 2, 0, 1, 3)
	}
	Q := split(a.Q.Forward(t, q))
	K := split(a.K.Forward(t, kv))
	V := split(a.V.Forward(t, kv))
	scores := t.Scale(t.MatMul(Q, K, false, true), float32(1/math.Sqrt(float64(dh))))
	var att *autograd.Value
	if mask.empty() {
		att = t.Softmax(scores, nil)
	} else {
		att = t.SoftmaxKeep(scores, mask.keep(t, B, T))
	}
	att = t.Dropout(att, a.Dropout, train, rng)
	out := t.MatMul(att, V, false, false)                // [H,B,T,dh]
	out = t.Reshape(t.Permute(out, 1, 2, 0, 3), B, T, d) // [B,T,d]
	if a.O != nil {
		out = a.O.Forward(t, out)
	}
	return out
}

// Params returns the projections' parameters under "q", "k", "v" (and "o").
func (a *MultiHeadSelfAttention) Params() []Param {
	ps := append(Prefix("q", a.Q.Params()), Prefix("k", a.K.Params())...)
	ps = append(ps, Prefix("v", a.V.Params())...)
	if a.O != nil {
		ps = append(ps, Prefix("o", a.O.Params())...)
	}
	return ps
}
