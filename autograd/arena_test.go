package autograd

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// A model whose batch shapes change every step (packed batches, trimmed
// padding) must not grow the tape's arena without bound.
func TestArenaBoundedUnderChangingShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w := NewParam(tensor.New(16, 16))
	tp := NewTape()
	held := func() int {
		n := 0
		for _, l := range tp.free {
			for _, b := range l {
				n += cap(b)
			}
		}
		return n
	}
	maxRows := 200
	for step := 0; step < 300; step++ {
		rows := 50 + rng.IntN(maxRows-50)
		x := tp.Const(tensor.New(rows, 16))
		y := tp.MatMul(x, w, false, false)
		loss := tp.Sum(tp.Square(y))
		require.NoError(t, tp.Backward(loss))
		tp.Reset()
	}
	// One step holds a handful of [rows,16] buffers; with size classes the
	// free lists hold about that many, whatever the sequence of shapes.
	bound := 20 * maxRows * 16 * 5 / 4
	require.Less(t, held(), bound, "arena holds %d floats after 300 steps of changing shapes", held())
}

func TestSizeClass(t *testing.T) {
	for n := 1; n < 5000; n++ {
		c := sizeClass(n)
		require.GreaterOrEqual(t, c, n)
		require.LessOrEqual(t, c, n+n/4+1, "n=%d class %d", n, c)
		require.Equal(t, c, sizeClass(c), "a class capacity is its own class (n=%d)", n)
	}
}
