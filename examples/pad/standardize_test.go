package main

import (
	"math"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

func TestStandardizeColumns(t *testing.T) {
	// rows 1..4; column 0 = 1,2,3,4 (mean 2.5, population sd √1.25);
	// column 1 constant; row 0 is padding and must stay zero.
	x := tensor.New(5, 2)
	copy(x.Data, []float32{0, 0, 1, 7, 2, 7, 3, 7, 4, 7})
	standardizeColumns(x)
	sd := math.Sqrt(1.25)
	want := []float64{0, 0, -1.5 / sd, 0, -0.5 / sd, 0, 0.5 / sd, 0, 1.5 / sd, 0}
	for i, w := range want {
		require.InDelta(t, w, float64(x.Data[i]), 1e-6, "entry %d", i)
	}
}
