package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path"
	"reflect"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
	"gonum.org/v1/gonum/mat"
)

// RecPCAConfig configures the Rec-PCA pipeline.
type RecPCAConfig struct {
	// Seqs is a glob of sequence files ("user item item ..."), the
	// interactions the co-occurrence graph is counted from.
	Seqs string
	// Emb is a glob of .npy shards of the item embedding matrix: their rows,
	// concatenated in file-name order, are rows 0..NumItems (row 0 is the
	// padding id and is ignored), as in ../shared/data's files.
	Emb string
	// Out is the output folder: projection.npy (W, D x d), mean.npy (1 x D),
	// fit.json (the fit's report) and items-SSSSS.npy, the reduced rows of
	// embedding shard SSSSS (same rows; row 0 of the table is zeros).
	Out string
	// Holdout drops the last Holdout items of every sequence before counting
	// (2: the training part of a leave-one-out split, as data.LeaveOneOut
	// keeps it for sequences of at least 3 items).
	Holdout int
	// Window and Decay are recpca.GraphOptions' (TopK needs the whole
	// graph and is not offered).
	Window int
	Decay  bool
	// Fit holds the recpca.Options that apply to a fit from statistics.
	Fit FitSettings
	// UnitRows L2-normalizes the reduced rows (the item table TF-LLMER
	// initializes a recommender with).
	UnitRows bool
}

// FitSettings are the recpca.Options a pipeline passes to recpca.FitStats
// (plain fields, so that they travel with the DoFn to the workers).
type FitSettings struct {
	Dim            int     `json:"dim"`
	Lambda         float64 `json:"lambda"`
	TargetVariance float64 `json:"targetVariance"`
	NormalizeInput bool    `json:"normalizeInput"`
	Standardize    bool    `json:"standardize"`
	Whiten         bool    `json:"whiten"`
	Combinatorial  bool    `json:"combinatorial"`
}

// Options returns the recpca.Options of s.
func (s FitSettings) Options() recpca.Options {
	o := recpca.Options{Dim: s.Dim, Lambda: s.Lambda, TargetVariance: s.TargetVariance,
		NormalizeInput: s.NormalizeInput, Standardize: s.Standardize, Whiten: s.Whiten}
	if s.Combinatorial {
		o.Laplacian = recpca.Combinatorial
	}
	return o
}

func (s FitSettings) accOptions() recpca.AccumulatorOptions {
	o := s.Options()
	return recpca.AccumulatorOptions{NormalizeInput: o.NormalizeInput, Laplacian: o.Laplacian}
}

type recPCAFlags struct {
	emb                      *string
	dim, window              *int
	lambda, target           *float64
	normalize, standardize   *bool
	whiten, comb, decay, raw *bool
}

func (f *recPCAFlags) register(fs *flag.FlagSet) {
	f.emb = fs.String("emb", "", "recpca: glob of .npy embedding shards (rows concatenated in name order; row 0 is padding)")
	f.dim = fs.Int("dim", 64, "recpca: reduced dimension d")
	f.lambda = fs.Float64("lambda", 0, "recpca: graph penalty λ (0: PCA unless -target-variance)")
	f.target = fs.Float64("target-variance", 0, "recpca: choose λ so that the retained variance is this fraction of PCA's")
	f.normalize = fs.Bool("normalize", true, "recpca: L2-normalize item rows before centring")
	f.standardize = fs.Bool("standardize", false, "recpca: z-score every column before the fit")
	f.whiten = fs.Bool("whiten", false, "recpca: whiten the output coordinates")
	f.comb = fs.Bool("combinatorial", false, "recpca: combinatorial Laplacian D−A (default: symmetric normalized)")
	f.window = fs.Int("window", 1, "recpca: co-occurrence window (-1: every pair of a sequence)")
	f.decay = fs.Bool("decay", false, "recpca: weight a pair at distance δ by 1/δ")
	f.raw = fs.Bool("raw-rows", false, "recpca: do not L2-normalize the reduced rows")
}

func (f *recPCAFlags) config(seqs, out string, holdout int) (RecPCAConfig, error) {
	if seqs == "" || *f.emb == "" || out == "" || holdout < 0 {
		return RecPCAConfig{}, errors.New("recpca needs -seqs, -emb, -out and -holdout >= 0")
	}
	return RecPCAConfig{
		Seqs: seqs, Emb: *f.emb, Out: out, Holdout: holdout, Window: *f.window, Decay: *f.decay,
		Fit: FitSettings{Dim: *f.dim, Lambda: *f.lambda, TargetVariance: *f.target, NormalizeInput: *f.normalize,
			Standardize: *f.standardize, Whiten: *f.whiten, Combinatorial: *f.comb},
		UnitRows: !*f.raw,
	}, nil
}

// EmbShard is one embedding shard: its rows are global rows First ..
// First+Rows-1.
type EmbShard struct {
	Index int    `json:"index"`
	Path  string `json:"path"`
	First int    `json:"first"`
	Rows  int    `json:"rows"`
	Cols  int    `json:"cols"`
}

// ScanShards lists the embedding shards of glob and reads their headers
// (the launcher does this before the job starts, so a missing file or a
// width mismatch fails at once). It returns the shards and the item count
// (total rows − 1).
func ScanShards(ctx context.Context, glob string) ([]EmbShard, int, error) {
	files, err := listGlob(ctx, glob)
	if err != nil {
		return nil, 0, err
	}
	var shards []EmbShard
	first := 0
	for i, f := range files {
		r, err := openRead(ctx, f)
		if err != nil {
			return nil, 0, err
		}
		st, err := data.NewNPYStream(r, path.Base(f))
		r.Close()
		if err != nil {
			return nil, 0, err
		}
		if i > 0 && st.Cols() != shards[0].Cols {
			return nil, 0, fmt.Errorf("%s has %d columns, %s has %d", f, st.Cols(), shards[0].Path, shards[0].Cols)
		}
		shards = append(shards, EmbShard{Index: i, Path: f, First: first, Rows: st.Rows(), Cols: st.Cols()})
		first += st.Rows()
	}
	if first < 2 || shards[0].Cols < 1 {
		return nil, 0, fmt.Errorf("%s: %d rows of %d columns: need the padding row and at least one item", glob, first, shards[0].Cols)
	}
	return shards, first - 1, nil
}

// Rows travel between stages as Row: the raw little-endian float32 bytes,
// which Beam encodes as one byte string (a []float32 would go through a
// coder call per value).
type Row = []byte

// rowBytes encodes a row.
func rowBytes(x []float32) Row {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// rowFloats decodes a row into dst (grown as needed).
func rowFloats(dst []float32, b Row) []float32 {
	n := len(b) / 4
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst
}

// StatIn is one input of the statistics CombineFn: an item row (Edge false)
// or an edge with both end rows, its weight and its ends' degrees.
type StatIn struct {
	Edge bool    `json:"edge"`
	X    Row     `json:"x"`
	Y    Row     `json:"y"`
	W    float64 `json:"w"`
	DegI float64 `json:"degI"`
	DegJ float64 `json:"degJ"`
}

// HalfEdge is an edge seen from one end: the other end and the weight.
type HalfEdge struct {
	Other int     `json:"other"`
	W     float64 `json:"w"`
}

// EdgeWithRow is an edge keyed by its second end, carrying the first end's
// row and degree.
type EdgeWithRow struct {
	X    Row     `json:"x"`
	W    float64 `json:"w"`
	DegI float64 `json:"degI"`
}

// BuildRecPCA adds the Rec-PCA pipeline to s. It reads the embedding shards'
// headers first (ScanShards), then:
//
//	seqs --co-occurrences per sequence--> SumPerKey(pair) = edges
//	edges --both ends--> SumPerKey(item) = degrees
//	shards --stream rows--> rows (item -> vector)
//	edges ⋈ rows ⋈ degrees on i, then on j --> edge inputs
//	rows --> item inputs;  Combine(statsFn) = one recpca.Accumulator
//	--FitStats--> projection.npy, mean.npy, fit.json
//	shards + projection (side input) --Transform--> items-SSSSS.npy
func BuildRecPCA(s beam.Scope, c RecPCAConfig) error {
	ctx := context.Background()
	shards, numItems, err := ScanShards(ctx, c.Emb)
	if err != nil {
		return err
	}
	if d := c.Fit.Dim; d < 1 || d > shards[0].Cols || d > numItems {
		return fmt.Errorf("-dim %d outside 1..min(D=%d, items=%d)", d, shards[0].Cols, numItems)
	}
	s = s.Scope("recpca")

	// the co-occurrence graph, counted by key
	lines := textio.Read(s, c.Seqs)
	pairs := beam.ParDo(s, &pairsFn{NumItems: numItems, Holdout: c.Holdout, Window: c.Window, Decay: c.Decay}, lines)
	edges := beam.CombinePerKey(s, sumFloat, pairs)
	degrees := beam.CombinePerKey(s, sumFloat, beam.ParDo(s, edgeEnds, edges))

	// the item rows, streamed from the shards
	tasks := beam.CreateList(s, shards)
	rows := beam.ParDo(s, &readRowsFn{}, tasks)

	// join each edge with its two end rows and degrees
	byI := beam.ParDo(s, keyByFirst, edges)
	withI := beam.ParDo(s, joinFirst, beam.CoGroupByKey(s, byI, rows, degrees))
	edgeIns := beam.ParDo(s, joinSecond, beam.CoGroupByKey(s, withI, rows, degrees))
	itemIns := beam.ParDo(s, itemInput, rows)

	acc := beam.Combine(s, &statsFn{Settings: c.Fit}, beam.Flatten(s, itemIns, edgeIns))
	proj := beam.ParDo(s, &fitFn{Settings: c.Fit, Out: c.Out, NumItems: numItems}, acc)
	beam.ParDo0(s, &transformFn{Out: c.Out, UnitRows: c.UnitRows}, tasks, beam.SideInput{Input: proj})
	return nil
}

func init() {
	beam.RegisterType(reflect.TypeOf((*EmbShard)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*StatIn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*HalfEdge)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*EdgeWithRow)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*statsAcc)(nil)), encodeAcc, decodeAcc)

	register.DoFn2x1[string, func(int64, float64), error](&pairsFn{})
	register.Emitter2[int64, float64]()
	register.Function2x1(sumFloat)
	register.Function3x0(edgeEnds)
	register.Emitter2[int, float64]()
	register.DoFn3x1[context.Context, EmbShard, func(int, Row), error](&readRowsFn{})
	register.Emitter2[int, Row]()
	register.Function3x0(keyByFirst)
	register.Emitter2[int, HalfEdge]()
	register.Function5x1(joinFirst)
	register.Iter1[HalfEdge]()
	register.Iter1[Row]()
	register.Iter1[float64]()
	register.Emitter2[int, EdgeWithRow]()
	register.Function5x1(joinSecond)
	register.Iter1[EdgeWithRow]()
	register.Function3x0(itemInput)
	register.Emitter1[StatIn]()
	register.Combiner3[*statsAcc, StatIn, []byte](&statsFn{})
	register.DoFn3x1[context.Context, []byte, func([]byte), error](&fitFn{})
	register.Emitter1[[]byte]()
	register.DoFn3x1[context.Context, EmbShard, []byte, error](&transformFn{})
}

// pairsFn emits the co-occurring pairs of one sequence line, keyed by
// i<<32 | j (i < j), with their weights, as recpca.BuildGraph counts them.
type pairsFn struct {
	NumItems int  `json:"numItems"`
	Holdout  int  `json:"holdout"`
	Window   int  `json:"window"`
	Decay    bool `json:"decay"`
}

func (f *pairsFn) ProcessElement(line string, emit func(int64, float64)) error {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	user, seq, err := parseSeqLine(line, f.NumItems)
	if err != nil {
		return err
	}
	seq = holdOut(seq, f.Holdout)
	err = recpca.CoOccurrences(seq, f.NumItems, recpca.GraphOptions{Window: f.Window, Decay: f.Decay}, func(i, j int, w float64) {
		emit(int64(i)<<32|int64(j), w)
	})
	if err != nil {
		return fmt.Errorf("user %s: %w", user, err)
	}
	return nil
}

func sumFloat(a, b float64) float64 { return a + b }

// edgeEnds emits an edge's weight to both of its ends (for the degrees).
func edgeEnds(key int64, w float64, emit func(int, float64)) {
	emit(int(key>>32), w)
	emit(int(key&0xffffffff), w)
}

// keyByFirst keys an edge by its first end.
func keyByFirst(key int64, w float64, emit func(int, HalfEdge)) {
	emit(int(key>>32), HalfEdge{Other: int(key & 0xffffffff), W: w})
}

// one returns the single value of a join side, or an error when there are
// none or several.
func one[T any](iter func(*T) bool, what string, item int) (T, error) {
	var v, extra T
	if !iter(&v) {
		return v, fmt.Errorf("item %d has edges but no %s (an item id beyond the embedding rows?)", item, what)
	}
	if iter(&extra) {
		return v, fmt.Errorf("item %d has several %ss (overlapping embedding shards?)", item, what)
	}
	return v, nil
}

// joinEnd calls fn for each edge arriving at item id with the item's row
// and degree (read once, when the first edge arrives).
func joinEnd[E any](id int, edges func(*E) bool, rows func(*Row) bool, degs func(*float64) bool, fn func(e E, x Row, deg float64)) error {
	var e E
	var x Row
	var deg float64
	for first := true; edges(&e); first = false {
		if first {
			var err error
			if x, err = one(rows, "embedding row", id); err != nil {
				return err
			}
			if deg, err = one(degs, "degree", id); err != nil {
				return err
			}
		}
		fn(e, x, deg)
	}
	return nil
}

// joinFirst attaches item i's row and degree to each edge whose first end
// is i and re-keys the edge by its second end.
func joinFirst(i int, edges func(*HalfEdge) bool, rows func(*Row) bool, degs func(*float64) bool, emit func(int, EdgeWithRow)) error {
	return joinEnd(i, edges, rows, degs, func(e HalfEdge, x Row, deg float64) {
		emit(e.Other, EdgeWithRow{X: x, W: e.W, DegI: deg})
	})
}

// joinSecond completes each edge keyed by its second end j with j's row and
// degree.
func joinSecond(j int, edges func(*EdgeWithRow) bool, rows func(*Row) bool, degs func(*float64) bool, emit func(StatIn)) error {
	return joinEnd(j, edges, rows, degs, func(e EdgeWithRow, y Row, deg float64) {
		emit(StatIn{Edge: true, X: e.X, Y: y, W: e.W, DegI: e.DegI, DegJ: deg})
	})
}

func itemInput(_ int, x Row, emit func(StatIn)) { emit(StatIn{X: x}) }

// readRowsFn streams one embedding shard and emits its rows keyed by global
// item id (row 0, the padding id, is skipped).
type readRowsFn struct{}

func (f *readRowsFn) ProcessElement(ctx context.Context, sh EmbShard, emit func(int, Row)) error {
	return streamShard(ctx, sh, func(first, n int, chunk []float32) error {
		for r := 0; r < n; r++ {
			if id := first + r; id > 0 {
				emit(id, rowBytes(chunk[r*sh.Cols:(r+1)*sh.Cols]))
			}
		}
		return nil
	})
}

// streamShard reads sh in chunks of up to 1,024 rows and calls fn with the
// global id of each chunk's first row.
func streamShard(ctx context.Context, sh EmbShard, fn func(first, n int, chunk []float32) error) error {
	r, err := openRead(ctx, sh.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := data.NewNPYStream(r, path.Base(sh.Path))
	if err != nil {
		return err
	}
	if st.Rows() != sh.Rows || st.Cols() != sh.Cols {
		return fmt.Errorf("%s changed: %d x %d, was %d x %d", sh.Path, st.Rows(), st.Cols(), sh.Rows, sh.Cols)
	}
	chunk := make([]float32, min(1024, max(sh.Rows, 1))*sh.Cols)
	for {
		at := st.Row()
		n, err := st.Next(chunk)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(sh.First+at, n, chunk); err != nil {
			return err
		}
	}
}

// statsAcc is the CombineFn accumulator: a recpca.Accumulator, created
// lazily (the row width comes with the first input).
type statsAcc struct {
	A    *recpca.Accumulator
	x, y []float32 // decoding scratch
}

func encodeAcc(a *statsAcc) ([]byte, error) {
	if a.A == nil {
		return nil, nil
	}
	return a.A.MarshalBinary()
}

func decodeAcc(b []byte) (*statsAcc, error) {
	if len(b) == 0 {
		return &statsAcc{}, nil
	}
	a, err := recpca.NewAccumulator(1, recpca.AccumulatorOptions{})
	if err != nil {
		return nil, err
	}
	if err := a.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return &statsAcc{A: a}, nil
}

// statsFn combines item rows and edges into one recpca.Accumulator.
type statsFn struct {
	Settings FitSettings `json:"settings"`
}

func (f *statsFn) CreateAccumulator() *statsAcc { return &statsAcc{} }

func (f *statsFn) AddInput(a *statsAcc, in StatIn) (*statsAcc, error) {
	if a.A == nil {
		acc, err := recpca.NewAccumulator(len(in.X)/4, f.Settings.accOptions())
		if err != nil {
			return nil, err
		}
		a.A = acc
	}
	a.x = rowFloats(a.x, in.X)
	if in.Edge {
		a.y = rowFloats(a.y, in.Y)
		return a, a.A.AddEdge(a.x, a.y, in.W, in.DegI, in.DegJ)
	}
	return a, a.A.AddItem(a.x)
}

func (f *statsFn) MergeAccumulators(a, b *statsAcc) (*statsAcc, error) {
	switch {
	case b.A == nil:
		return a, nil
	case a.A == nil:
		return b, nil
	}
	return a, a.A.Merge(b.A)
}

func (f *statsFn) ExtractOutput(a *statsAcc) ([]byte, error) { return encodeAcc(a) }

// ProjectionMsg carries a fitted projection to the workers (side input).
type ProjectionMsg struct {
	D, Dim         int
	Mean, W        []float64
	NormalizeInput bool
}

func (m *ProjectionMsg) projection() *recpca.Projection {
	return &recpca.Projection{Mean: m.Mean, W: mat.NewDense(m.D, m.Dim, m.W), NormalizeInput: m.NormalizeInput}
}

// FitReport is written to fit.json.
type FitReport struct {
	Settings            FitSettings `json:"settings"`
	Items               int         `json:"items"`
	Edges               int         `json:"edges"`
	Lambda              float64     `json:"lambda"`
	RetainedVariance    float64     `json:"retained_variance"`
	PCARetainedVariance float64     `json:"pca_retained_variance"`
	NonPositive         int         `json:"nonpositive_eigenvalues"`
	Eigenvalues         []float64   `json:"eigenvalues"`
}

// fitFn solves the D x D problem on one worker and writes the projection.
type fitFn struct {
	Settings FitSettings `json:"settings"`
	Out      string      `json:"out"`
	NumItems int         `json:"numItems"`
}

func (f *fitFn) ProcessElement(ctx context.Context, b []byte, emit func([]byte)) error {
	acc, err := decodeAcc(b)
	if err != nil {
		return err
	}
	if acc.A == nil || acc.A.NumItems() != f.NumItems {
		got := 0
		if acc.A != nil {
			got = acc.A.NumItems()
		}
		return fmt.Errorf("statistics hold %d items, the embedding shards %d", got, f.NumItems)
	}
	p, err := recpca.FitStatsContext(ctx, acc.A, f.Settings.Options())
	if err != nil {
		return err
	}
	D, d := p.W.Dims()
	w := make([]float32, D*d)
	w64 := make([]float64, D*d)
	for i := range D {
		for j := range d {
			w64[i*d+j] = p.W.At(i, j)
			w[i*d+j] = float32(w64[i*d+j])
		}
	}
	mean := make([]float32, D)
	for i, v := range p.Mean {
		mean[i] = float32(v)
	}
	rep := FitReport{Settings: f.Settings, Items: acc.A.NumItems(), Edges: acc.A.NumEdges(), Lambda: p.Stats.Lambda,
		RetainedVariance: p.Stats.RetainedVariance, PCARetainedVariance: p.Stats.PCARetainedVariance,
		NonPositive: p.Stats.NonPositive, Eigenvalues: p.Eigenvalues}
	for name, t := range map[string]*tensor.Tensor{"projection.npy": tensor.FromSlice(w, D, d), "mean.npy": tensor.FromSlice(mean, 1, D)} {
		if err := writeAtomic(ctx, joinPath(f.Out, name), func(w io.Writer) error { return data.EncodeNPY(w, t) }); err != nil {
			return err
		}
	}
	err = writeAtomic(ctx, joinPath(f.Out, "fit.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(&rep)
	})
	if err != nil {
		return err
	}
	msg, err := json.Marshal(&ProjectionMsg{D: D, Dim: d, Mean: p.Mean, W: w64, NormalizeInput: p.NormalizeInput})
	if err != nil {
		return err
	}
	emit(msg)
	return nil
}

// transformFn writes the reduced rows of one embedding shard.
type transformFn struct {
	Out      string `json:"out"`
	UnitRows bool   `json:"unitRows"`
}

func (f *transformFn) ProcessElement(ctx context.Context, sh EmbShard, projMsg []byte) error {
	var m ProjectionMsg
	if err := json.Unmarshal(projMsg, &m); err != nil {
		return err
	}
	p := m.projection()
	name := joinPath(f.Out, fmt.Sprintf("items-%05d.npy", sh.Index))
	return writeAtomic(ctx, name, func(w io.Writer) error {
		nw, err := data.NewNPYWriter(w, sh.Rows, m.Dim)
		if err != nil {
			return err
		}
		// Transform keeps its row 0 at zero (padding): give it a leading
		// zero row, then drop it.
		var in, out *tensor.Tensor
		err = streamShard(ctx, sh, func(first, n int, chunk []float32) error {
			if in == nil || in.Rows() != n+1 {
				in = tensor.New(n+1, sh.Cols)
				out = tensor.New(n+1, m.Dim)
			}
			copy(in.Data[sh.Cols:], chunk[:n*sh.Cols])
			p.Transform(out, in, f.UnitRows)
			rows := out.Data[m.Dim:]
			if first == 0 {
				clear(rows[:m.Dim]) // the table's padding row
			}
			return nw.Write(rows)
		})
		if err != nil {
			return err
		}
		return nw.Close()
	})
}

// joinPath joins a folder and a file name with "/", which every Beam
// filesystem accepts (local paths included).
func joinPath(dir, name string) string {
	return strings.TrimSuffix(dir, "/") + "/" + name
}
