package recpca

import (
	"math"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

func TestStandardizeColumns(t *testing.T) {
	// rows 1..4: column 0 = 1,2,3,4 (mean 2.5, population sd √1.25),
	// column 1 constant; row 0 (padding) holds junk and must come out zero.
	x := tensor.New(5, 2)
	copy(x.Data, []float32{9, 9, 1, 7, 2, 7, 3, 7, 4, 7})
	sd := math.Sqrt(1.25)
	want := []float64{0, 0, -1.5 / sd, 0, -0.5 / sd, 0, 0.5 / sd, 0, 1.5 / sd, 0}
	out := StandardizeColumns(nil, x)
	for i, w := range want {
		require.InDelta(t, w, float64(out.Data[i]), 1e-6, "entry %d", i)
	}
	require.Equal(t, float32(1), x.Data[2], "x untouched when dst is another tensor")
	StandardizeColumns(x, x) // in place
	require.Equal(t, out.Data, x.Data)
	require.Panics(t, func() { StandardizeColumns(nil, tensor.New(3)) })
}
