package plot

import (
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decode reads a PNG and returns it with the number of distinct colours.
func decode(t *testing.T, path string) (image.Image, int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	colors := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bb, a := img.At(x, y).RGBA()
			colors[[4]uint32{r, g, bb, a}] = true
		}
	}
	return img, len(colors)
}

func noTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		assert.NotContains(t, e.Name(), ".tmp", "temporary file left behind")
	}
}

func TestLossAndMetricCurves(t *testing.T) {
	dir := t.TempDir()
	loss := filepath.Join(dir, "loss.png")
	require.NoError(t, LossCurves(loss, "loss", map[string][]float64{
		"a": {1.2, 0.9, 0.7, 0.6},
		"b": {1.0, 0.8, 0.65, 0.5},
	}))
	img, ncol := decode(t, loss)
	// 8 x 5 inches at vgimg's default 96 dpi.
	assert.Equal(t, 768, img.Bounds().Dx())
	assert.Equal(t, 480, img.Bounds().Dy())
	assert.Greater(t, ncol, 3, "figure looks blank")

	met := filepath.Join(dir, "metric.png")
	require.NoError(t, MetricCurves(met, "valid", "NDCG@10", map[string][]float64{"only": {0.1}}))
	_, ncol = decode(t, met)
	assert.Greater(t, ncol, 3)
	noTemp(t, dir)
}

func TestCurvesOverwriteIsAtomicRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	require.NoError(t, LossCurves(p, "t", map[string][]float64{"s": {3, 2, 1}}))
	_, n := decode(t, p) // the old bytes would not decode
	assert.Greater(t, n, 3)
	noTemp(t, dir)
}

func TestCurvesErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "e.png")
	err := LossCurves(p, "t", nil)
	assert.True(t, errors.Is(err, ErrNoData), "%v", err)
	err = LossCurves(p, "t", map[string][]float64{"s": {}})
	assert.True(t, errors.Is(err, ErrNoData), "%v", err)
	err = MetricCurves(p, "t", "m", map[string][]float64{"s": {1, math.NaN()}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"s" epoch 2`)
	err = LossCurves(filepath.Join(dir, "missing", "e.png"), "t", map[string][]float64{"s": {1}})
	require.Error(t, err)
	_, statErr := os.Stat(p)
	assert.True(t, os.IsNotExist(statErr), "no file on error")
	noTemp(t, dir)
}

func TestNormHistogram(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "norms.png")
	before := []float64{0.5, 1, 2, 4, 8, 16}
	after := []float64{1, 1, 1, 1, 1, 1} // constant: must still draw
	require.NoError(t, NormHistogram(p, before, after))
	img, ncol := decode(t, p)
	assert.Equal(t, 2*768, img.Bounds().Dx())
	assert.Greater(t, ncol, 3)
	noTemp(t, dir)

	assert.True(t, errors.Is(NormHistogram(p, nil, after), ErrNoData))
	assert.True(t, errors.Is(NormHistogram(p, before, nil), ErrNoData))
	assert.Error(t, NormHistogram(p, []float64{1, -1}, after))
	assert.Error(t, NormHistogram(p, before, []float64{math.Inf(1)}))
}

func TestHistBins(t *testing.T) {
	xs := []float64{0, 0.1, 0.26, 0.5, 0.74, 0.99, 1}
	bins := histBins(xs, 0, 1, 4) // [0,.25) [.25,.5) [.5,.75) [.75,1]
	require.Len(t, bins, 4)
	want := []float64{2, 1, 2, 2}
	total := 0.0
	for i, b := range bins {
		assert.InDelta(t, 0.25*float64(i), b.Min, 1e-12)
		assert.InDelta(t, 0.25*float64(i+1), b.Max, 1e-12)
		assert.Equal(t, want[i], b.Weight, "bin %d", i)
		total += b.Weight
	}
	assert.Equal(t, float64(len(xs)), total)

	// A constant sample: the range is widened around it and all counts land
	// in the middle bin.
	bins = histBins([]float64{2, 2, 2}, 2, 2, 5)
	assert.InDelta(t, 1.9, bins[0].Min, 1e-12)
	assert.InDelta(t, 2.1, bins[4].Max, 1e-12)
	assert.Equal(t, 3.0, bins[2].Weight)

	// float32 rounding noise around 1 counts as constant.
	bins = histBins([]float64{1 - 6e-8, 1, 1 + 1.2e-7}, 1-6e-8, 1+1.2e-7, 5)
	assert.InDelta(t, 0.95, bins[0].Min, 1e-6)
	assert.InDelta(t, 1.05, bins[4].Max, 1e-6)
	assert.Equal(t, 3.0, bins[2].Weight)
}

func TestNorms(t *testing.T) {
	// Rows: padding zero row, (3,4) -> 5, (1,0) -> 1, (0,-2) -> 2.
	got := Norms([]float32{0, 0, 3, 4, 1, 0, 0, -2}, 2)
	assert.Equal(t, []float64{5, 1, 2}, got)
	assert.Nil(t, Norms([]float32{1}, 0))
}

func TestXYCurves(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "xy.png")
	require.NoError(t, XYCurves(p, "NDCG@10 against σ", "σ", "NDCG@10", map[string][]XY{
		"a": {{0, 0.33}, {0.5, 0.32}, {1, 0.26}},
		"b": {{0, 0.33}, {1.5, 0.33}},
	}))
	img, ncol := decode(t, p)
	assert.Equal(t, 768, img.Bounds().Dx())
	assert.Greater(t, ncol, 3)
	err := XYCurves(p, "t", "σ", "y", map[string][]XY{"s": {{0, 1}, {math.Inf(1), 2}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"s" σ 2`)
	assert.True(t, errors.Is(XYCurves(p, "t", "σ", "y", nil), ErrNoData))
	noTemp(t, dir)
}

func TestLabeledPoints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.png")
	require.NoError(t, LabeledPoints(path, "t", "x", "y", map[string]XY{"a": {1, 2}, "b": {3, 1}}))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))
	require.ErrorIs(t, LabeledPoints(path, "t", "x", "y", nil), ErrNoData)
	require.Error(t, LabeledPoints(path, "t", "x", "y", map[string]XY{"a": {math.NaN(), 1}}))
}
