package stats

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMeanStd(t *testing.T) {
	// 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, so the
	// sample variance is 32/7.
	v := []float64{2, 4, 4, 4, 5, 5, 7, 9}
	require.Equal(t, 5.0, Mean(v))
	require.InDelta(t, math.Sqrt(32.0/7), Std(v), 1e-15)
	require.Equal(t, 0.25, Mean([]float64{0.25}))
	require.Equal(t, 0.0, Std([]float64{0.25}))
	require.True(t, math.IsNaN(Mean(nil)))
	require.True(t, math.IsNaN(Std(nil)))
}

func TestPM(t *testing.T) {
	require.Equal(t, "5.0000 ± 2.1381", PM([]float64{2, 4, 4, 4, 5, 5, 7, 9}, 4))
	require.Equal(t, "0.12 ± 0.00", PM([]float64{0.123}, 2))
	require.Equal(t, "NaN ± NaN", PM(nil, 4))
}

func ExamplePM() {
	ndcg := []float64{0.0201, 0.0212, 0.0208} // one value per seed
	fmt.Println(PM(ndcg, 4))
	// Output: 0.0207 ± 0.0006
}
