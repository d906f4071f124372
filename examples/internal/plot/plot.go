package plot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Width and Height are the size of every figure (at 96 dpi: 768 x 480
// pixels for the curves; NormHistogram is twice as wide).
const (
	Width  = 8 * vg.Inch
	Height = 5 * vg.Inch
)

// ErrNoData is returned (wrapped) when a figure would have nothing to draw.
var ErrNoData = errors.New("plot: no data")

// LossCurves writes to path a PNG of one training-loss curve per series
// (name -> one value per epoch, epoch 1 first), with the x axis in epochs.
// It returns an error wrapping ErrNoData when series is empty or a series has
// no value, an error for a NaN or infinite value (naming the series and
// epoch), and any error from writing the file.
func LossCurves(path, title string, series map[string][]float64) error {
	return curves(path, title, "epoch", "loss", true, byEpoch(series))
}

// MetricCurves writes to path a PNG of one validation-metric curve per
// series (name -> one value per evaluation, epoch 1 first); metric labels the
// y axis (e.g. "valid NDCG@10"). Errors are those of LossCurves.
func MetricCurves(path, title, metric string, series map[string][]float64) error {
	return curves(path, title, "epoch", metric, false, byEpoch(series))
}

// XY is one point of an XYCurves series.
type XY struct{ X, Y float64 }

// XYCurves writes to path a PNG of one curve per series (name -> points,
// drawn in the given order) against an x axis labelled xlabel, e.g. a
// metric against a stress parameter. Errors are those of LossCurves (a bad
// value is named by its point's index, from 1). The legend goes top left.
func XYCurves(path, title, xlabel, ylabel string, series map[string][]XY) error {
	xy := make(map[string]plotter.XYs, len(series))
	for name, pts := range series {
		p := make(plotter.XYs, len(pts))
		for i, q := range pts {
			p[i] = plotter.XY{X: q.X, Y: q.Y}
		}
		xy[name] = p
	}
	return curves(path, title, xlabel, ylabel, true, xy)
}

// byEpoch puts epoch numbers 1, 2, ... on the x axis of one-value-per-epoch
// series.
func byEpoch(series map[string][]float64) map[string]plotter.XYs {
	xy := make(map[string]plotter.XYs, len(series))
	for name, ys := range series {
		p := make(plotter.XYs, len(ys))
		for i, y := range ys {
			p[i] = plotter.XY{X: float64(i + 1), Y: y}
		}
		xy[name] = p
	}
	return xy
}

// curves draws the series; the legend goes top right for falling curves
// (losses) and bottom right for rising ones (metrics), away from their ends.
func curves(path, title, xlabel, ylabel string, legendTop bool, series map[string]plotter.XYs) error {
	if len(series) == 0 {
		return fmt.Errorf("%w: %s: no series", ErrNoData, filepath.Base(path))
	}
	names := make([]string, 0, len(series))
	for name := range series {
		names = append(names, name)
	}
	sort.Strings(names)
	p := gridPlot(title, xlabel, ylabel)
	p.Legend.Top = legendTop
	p.Legend.Left = xlabel != "epoch"
	p.Legend.XOffs = -vg.Millimeter * 3
	if p.Legend.Left {
		p.Legend.XOffs = vg.Millimeter * 3
	}
	p.Legend.YOffs = vg.Millimeter * 2
	if legendTop {
		p.Legend.YOffs = -p.Legend.YOffs
	}
	for k, name := range names {
		pts := series[name]
		if len(pts) == 0 {
			return fmt.Errorf("%w: %s: series %q is empty", ErrNoData, filepath.Base(path), name)
		}
		for i, q := range pts {
			if bad(q.X) || bad(q.Y) {
				return fmt.Errorf("plot: %s: series %q %s %d: value (%v, %v)", filepath.Base(path), name, xlabel, i+1, q.X, q.Y)
			}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot: %s: series %q: %w", filepath.Base(path), name, err)
		}
		line.Color = plotutil.Color(k)
		line.Width = vg.Points(2)
		line.Dashes = plotutil.Dashes(k)
		dots, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("plot: %s: series %q: %w", filepath.Base(path), name, err)
		}
		dots.Color = plotutil.Color(k)
		dots.Shape = plotutil.Shape(k)
		dots.Radius = vg.Points(2.5)
		p.Add(line, dots)
		p.Legend.Add(name, line, dots)
	}
	if xlabel == "epoch" && len(series[names[0]]) < 12 {
		p.X.Tick.Marker = integerTicks{}
	}
	c := vgimg.New(Width, Height)
	p.Draw(draw.New(c))
	return writePNG(path, c)
}

// NormHistogram writes to path a PNG with two histograms side by side: the
// L2 norms of the item vectors before normalization (e.g. raw LLM
// embeddings) and after it (the vectors the model actually scores with).
// Each panel's title gives the min, max and their ratio, the norm disparity
// that normalization removes. Zero norms (the padding row) should be left out
// by the caller. It returns an error wrapping ErrNoData when either slice is
// empty, an error for a NaN, infinite or negative norm, and any error from
// writing the file.
func NormHistogram(path string, before, after []float64) error {
	left, err := histPlot(path, "before normalization", before, plotutil.Color(0))
	if err != nil {
		return err
	}
	right, err := histPlot(path, "after normalization", after, plotutil.Color(1))
	if err != nil {
		return err
	}
	c := vgimg.New(2*Width, Height)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	plots := [][]*gplot.Plot{{left, right}}
	canvases := gplot.Align(plots, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	return writePNG(path, c)
}

// histPlot builds one norm histogram. Bins are computed here rather than by
// plotter.NewHist so that a constant sample (every norm 1 after
// normalization) still gets a visible bar of sensible width.
func histPlot(path, label string, norms []float64, fill color.Color) (*gplot.Plot, error) {
	if len(norms) == 0 {
		return nil, fmt.Errorf("%w: %s: no norms %s", ErrNoData, filepath.Base(path), label)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range norms {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("plot: %s: norm %d %s: %v", filepath.Base(path), i, label, v)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	bins := histBins(norms, lo, hi, 41) // odd: a constant sample sits in the middle bin
	h := &plotter.Histogram{Bins: bins, Width: bins[0].Max - bins[0].Min, FillColor: fill}
	h.LineStyle = plotter.DefaultLineStyle
	h.LineStyle.Width = vg.Points(0.5)
	p := gplot.New()
	ratio := math.Inf(1)
	if lo > 0 {
		ratio = hi / lo
	}
	p.Title.Text = fmt.Sprintf("item norms %s\nn=%d  min %.3g  max %.3g  max/min %.3g", label, len(norms), lo, hi, ratio)
	p.X.Label.Text = "L2 norm"
	p.Y.Label.Text = "items"
	p.Add(plotter.NewGrid(), h)
	return p, nil
}

// histBins splits [lo, hi] into n equal bins and counts xs in them (the last
// bin is closed). A range narrower than 0.1% of its magnitude (every norm 1
// up to float32 rounding, after normalization) is replaced by ±5% around its
// middle (or ±0.5 around 0), so the sample shows as one bar in the centre
// instead of rounding noise spread over the whole axis.
func histBins(xs []float64, lo, hi float64, n int) []plotter.HistogramBin {
	if hi-lo <= 1e-3*max(math.Abs(lo), math.Abs(hi)) {
		mid := (lo + hi) / 2
		pad := 0.05 * math.Abs(mid)
		if pad == 0 {
			pad = 0.5
		}
		lo, hi = mid-pad, mid+pad
	}
	w := (hi - lo) / float64(n)
	bins := make([]plotter.HistogramBin, n)
	for i := range bins {
		bins[i].Min = lo + float64(i)*w
		bins[i].Max = lo + float64(i+1)*w
	}
	for _, x := range xs {
		i := int((x - lo) / w)
		i = min(max(i, 0), n-1)
		bins[i].Weight++
	}
	return bins
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// integerTicks labels every epoch on short runs (the default ticks would
// show 2.5).
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []gplot.Tick {
	var ts []gplot.Tick
	for v := math.Ceil(lo); v <= hi; v++ {
		ts = append(ts, gplot.Tick{Value: v, Label: fmt.Sprintf("%d", int(v))})
	}
	return ts
}

// writePNG encodes c as PNG into path atomically: a temporary file in the
// same directory, synced, then renamed over path.
func writePNG(path string, c *vgimg.Canvas) error {
	return writeAtomic(path, vgimg.PngCanvas{Canvas: c})
}

func writeAtomic(path string, w io.WriterTo) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = w.WriteTo(f); err != nil {
		return fmt.Errorf("plot: writing %s: %w", filepath.Base(path), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("plot: writing %s: %w", filepath.Base(path), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("plot: writing %s: %w", filepath.Base(path), err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// Norms returns the L2 norm of every row of the row-major matrix data with
// cols columns, skipping all-zero rows (such as the padding row 0). It is a
// convenience for NormHistogram; norms are accumulated in float64.
func Norms(data []float32, cols int) []float64 {
	if cols <= 0 {
		return nil
	}
	out := make([]float64, 0, len(data)/cols)
	for row := range slices.Chunk(data, cols) {
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s > 0 {
			out = append(out, math.Sqrt(s))
		}
	}
	return out
}

// gridPlot returns an empty plot with its title, axis labels and a grid.
func gridPlot(title, xlabel, ylabel string) *gplot.Plot {
	p := gplot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	return p
}

// LabeledPoints writes to path a PNG of named points, each drawn with its
// name beside it (no legend to cover them), on axes padded by a tenth of
// their range so that no point sits on the frame: a frontier of methods by
// cost and quality, say. It returns an error wrapping ErrNoData for no
// points and an error for a NaN or infinite coordinate.
func LabeledPoints(path, title, xlabel, ylabel string, points map[string]XY) error {
	if len(points) == 0 {
		return fmt.Errorf("%w: %s: no points", ErrNoData, filepath.Base(path))
	}
	names := make([]string, 0, len(points))
	for name, q := range points {
		if bad(q.X) || bad(q.Y) {
			return fmt.Errorf("plot: %s: point %q: value (%v, %v)", filepath.Base(path), name, q.X, q.Y)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	p := gridPlot(title, xlabel, ylabel)
	xs, ys := make([]float64, len(names)), make([]float64, len(names))
	for k, name := range names {
		q := points[name]
		xs[k], ys[k] = q.X, q.Y
		dots, err := plotter.NewScatter(plotter.XYs{{X: q.X, Y: q.Y}})
		if err != nil {
			return fmt.Errorf("plot: %s: point %q: %w", filepath.Base(path), name, err)
		}
		dots.Color = plotutil.Color(k)
		dots.Shape = plotutil.Shape(k)
		dots.Radius = vg.Points(4)
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: q.X, Y: q.Y}}, Labels: []string{"  " + name}})
		if err != nil {
			return fmt.Errorf("plot: %s: point %q: %w", filepath.Base(path), name, err)
		}
		p.Add(dots, labels)
	}
	pad := func(v []float64) (float64, float64) {
		lo, hi := slices.Min(v), slices.Max(v)
		m := (hi - lo) / 10
		if m == 0 {
			m = math.Max(math.Abs(lo)/10, 1e-9)
		}
		return lo - m, hi + 3*m // room on the right and top for the labels
	}
	p.X.Min, p.X.Max = pad(xs)
	p.Y.Min, p.Y.Max = pad(ys)
	c := vgimg.New(Width, Height)
	p.Draw(draw.New(c))
	return writePNG(path, c)
}
