package main

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// Known answer on a tiny matrix: row i is multiplied by exp(σ·z_i) with z_i
// the i-th standard-normal draw of PCG(seed, "skew"); row 0 is untouched,
// σ = 0 changes nothing, and log(factor)/σ is the same z for every σ.
func TestNormSkewKnownAnswer(t *testing.T) {
	orig := []float32{0, 0, 1, 2, -3, 0.5, 0.25, -4}
	mk := func() *tensor.Tensor {
		return &tensor.Tensor{Shape: []int{4, 2}, Data: append([]float32(nil), orig...)}
	}
	rng := rand.New(rand.NewPCG(3, 0x736b6577))
	z := []float64{0, rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}

	for _, sigma := range []float64{0, 0.5, 2} {
		x := mk()
		f, err := normSkew(x, sigma, 3)
		require.NoError(t, err)
		require.Len(t, f, 4)
		assert.Equal(t, []float32{0, 0}, x.Data[:2], "padding row untouched")
		assert.Equal(t, 1.0, f[0])
		for i := 1; i < 4; i++ {
			want := math.Exp(sigma * z[i])
			assert.InDelta(t, want, f[i], 1e-12*want, "σ %v row %d", sigma, i)
			for j := 0; j < 2; j++ {
				assert.InDelta(t, float64(orig[2*i+j])*want, float64(x.Data[2*i+j]), 1e-6*math.Abs(float64(orig[2*i+j])*want)+1e-7,
					"σ %v row %d col %d", sigma, i, j)
			}
			if sigma > 0 {
				assert.InDelta(t, z[i], math.Log(f[i])/sigma, 1e-12)
			}
		}
		if sigma == 0 {
			assert.Equal(t, orig, x.Data)
		}
	}
	for _, bad := range []float64{-0.1, math.NaN(), math.Inf(1)} {
		_, err := normSkew(mk(), bad, 1)
		assert.Error(t, err, "σ %v", bad)
	}
	_, err := normSkew(&tensor.Tensor{Shape: []int{4}, Data: make([]float32, 4)}, 1, 1)
	assert.Error(t, err, "1-D")
}

// On many rows of equal norm the norms after the skew are log-normal: log
// norms have mean 0 and std σ, p99/p1 = exp(2·2.3263·σ) (≈ 10 at σ = 0.5,
// ≈ 100 at σ = 1, as the issue says) and CV = sqrt(exp(σ²) − 1). Directions
// (so the mean cosine) are unchanged.
func TestNormSkewStatistics(t *testing.T) {
	const n, d = 20000, 8
	rng := rand.New(rand.NewPCG(11, 11))
	base := tensor.New(n+1, d)
	for i := 1; i <= n; i++ {
		s := 0.0
		row := base.Data[i*d : (i+1)*d]
		for j := range row {
			v := rng.NormFloat64() + 0.5 // a common direction gives a positive mean cosine
			row[j] = float32(v)
			s += v * v
		}
		for j := range row {
			row[j] /= float32(math.Sqrt(s))
		}
	}
	st0, err := computeInputStats(base)
	require.NoError(t, err)
	assert.InDelta(t, 1, st0.MaxMin, 1e-5)
	for _, c := range []struct{ sigma, p99p1 float64 }{{0.5, 10.2}, {1, 104}} {
		x := base.Clone()
		_, err := normSkew(x, c.sigma, 5)
		require.NoError(t, err)
		var sum, ss float64
		for i := 1; i <= n; i++ {
			l := math.Log(math.Sqrt(sumSq(x.Data[i*d : (i+1)*d])))
			sum += l
			ss += l * l
		}
		m := sum / n
		sd := math.Sqrt(ss/n - m*m)
		assert.InDelta(t, 0, m, 0.02, "σ %v mean log norm", c.sigma)
		assert.InDelta(t, c.sigma, sd, 0.02*c.sigma, "σ %v std log norm", c.sigma)
		st, err := computeInputStats(x)
		require.NoError(t, err)
		assert.InEpsilon(t, c.p99p1, st.P99P1, 0.15, "σ %v p99/p1", c.sigma)
		assert.InEpsilon(t, math.Sqrt(math.Exp(c.sigma*c.sigma)-1), st.CV, 0.06, "σ %v CV", c.sigma)
		assert.InDelta(t, st0.MeanCos, st.MeanCos, 1e-6, "directions unchanged")
		assert.Greater(t, st.MaxMin, st.P99P1)
	}
}

func sumSq(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

// Mean cosine and norm ratios on a matrix small enough to do by hand: rows
// (1,0), (0,2), (3,3) and a zero row; pairwise cosines 0, 1/√2, 1/√2.
func TestInputStatsKnownAnswer(t *testing.T) {
	x := &tensor.Tensor{Shape: []int{5, 2}, Data: []float32{0, 0, 1, 0, 0, 2, 0, 0, 3, 3}}
	st, err := computeInputStats(x)
	require.NoError(t, err)
	assert.InDelta(t, math.Sqrt2/3, st.MeanCos, 1e-12)
	assert.InDelta(t, math.Sqrt(18), st.MaxMin, 1e-6)
	assert.InDelta(t, 1, st.Min, 1e-7)
	assert.Equal(t, 1, st.Zero)
	_, err = computeInputStats(&tensor.Tensor{Shape: []int{2, 2}, Data: []float32{0, 0, 0, 0}})
	assert.Error(t, err, "no non-zero item row")
}

// Per-row rescaling is undone by input normalization: Rec-PCA of the skewed
// rows with NormalizeInput gives the same reduced rows as without the skew
// (up to float rounding), while PCA of the raw rows (LLMInit) changes.
func TestNormSkewUndoneByInputNormalization(t *testing.T) {
	const n, D, d = 40, 10, 4
	rng := rand.New(rand.NewPCG(2, 9))
	x := tensor.New(n+1, D)
	for i := D; i < len(x.Data); i++ {
		x.Data[i] = float32(rng.NormFloat64())
	}
	var seqs [][]int
	for range 60 {
		seqs = append(seqs, []int{1 + rng.IntN(n), 1 + rng.IntN(n), 1 + rng.IntN(n)})
	}
	g, err := recpca.BuildGraph(seqs, n, recpca.GraphOptions{})
	require.NoError(t, err)
	xs := x.Clone()
	_, err = normSkew(xs, 1.5, 1)
	require.NoError(t, err)
	for _, lambda := range []float64{0, 0.5} {
		cfg := reduceConfig{Dim: d, Graph: g, Lambda: lambda, NormalizeInput: true, Seed: 1}
		a, err := reduce(context.Background(), x, cfg)
		require.NoError(t, err)
		b, err := reduce(context.Background(), xs, cfg)
		require.NoError(t, err)
		assert.Less(t, maxRowGap(a.Z, b.Z), 1e-4, "λ %v", lambda)
	}
	a, err := reduce(context.Background(), x, reduceConfig{Dim: d, Seed: 1})
	require.NoError(t, err)
	b, err := reduce(context.Background(), xs, reduceConfig{Dim: d, Seed: 1})
	require.NoError(t, err)
	assert.Greater(t, maxRowGap(a.Z, b.Z), 0.1, "raw PCA sees the skew")
}

// maxRowGap is the largest distance between matching rows of a and b up to
// the sign of each column (eigenvectors are defined up to sign).
func maxRowGap(a, b *tensor.Tensor) float64 {
	rows, w := a.Shape[0], a.Shape[1]
	sign := make([]float64, w)
	for j := range w {
		dot := 0.0
		for i := 0; i < rows; i++ {
			dot += float64(a.Data[i*w+j]) * float64(b.Data[i*w+j])
		}
		sign[j] = 1
		if dot < 0 {
			sign[j] = -1
		}
	}
	worst := 0.0
	for i := 0; i < rows; i++ {
		s := 0.0
		for j := range w {
			v := float64(a.Data[i*w+j]) - sign[j]*float64(b.Data[i*w+j])
			s += v * v
		}
		worst = math.Max(worst, math.Sqrt(s))
	}
	return worst
}
