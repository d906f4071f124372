package recpca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/llmrec/llmrec/tensor"
)

// TV holds the graph total variation of an item matrix Z:
// Quadratic = TV₂(Z) = ½ Σ_ij A_ij ||z_i − z_j||² (= tr(Zᵀ(D−A)Z)) and
// L1 = TV₁(Z) = ½ Σ_ij A_ij ||z_i − z_j||. It is a plain value.
type TV struct {
	Quadratic, L1 float64
}

// GraphTV returns the total variation of the rows of z ([NumItems+1, d], row
// 0 ignored since node 0 is isolated) over g, in float64. It returns an error
// when the row count does not match the graph.
func GraphTV(g *Graph, z *tensor.Tensor) (TV, error) {
	if z.Dims() != 2 || z.Rows() != g.N {
		return TV{}, fmt.Errorf("recpca: graph TV: matrix shape %v, graph has %d nodes: %w", z.Shape, g.N, ErrBadInput)
	}
	d := z.Cols()
	zz := make([]float64, len(z.Data))
	for i, v := range z.Data {
		zz[i] = float64(v)
	}
	q, l := tvRows(g, zz, d, 0)
	return TV{Quadratic: q, L1: l}, nil
}

// AlignmentStats measures semantic–collaborative alignment: whether items
// that co-occur in training sequences are closer in angle than random pairs.
// It is a plain value.
type AlignmentStats struct {
	// EdgeCos is the mean cosine over graph edges (each undirected edge once).
	EdgeCos float64
	// EdgeCosWeighted weights each edge by A_ij.
	EdgeCosWeighted float64
	// RandomCos is the mean cosine over uniformly drawn pairs of distinct items.
	RandomCos float64
	// Gap is EdgeCos − RandomCos: > 0 means the geometry agrees with the
	// collaborative signal.
	Gap float64
	// Edges and RandomPairs are the numbers of pairs averaged (pairs with a
	// zero row are skipped).
	Edges, RandomPairs int
}

// Alignment computes AlignmentStats for the item matrix e ([NumItems+1, d])
// over graph g, with randomPairs random pairs drawn from rng. It returns an
// error on a row-count mismatch, a graph without edges, or when no pair has
// two non-zero rows.
func Alignment(g *Graph, e *tensor.Tensor, randomPairs int, rng *rand.Rand) (AlignmentStats, error) {
	if e.Dims() != 2 || e.Rows() != g.N {
		return AlignmentStats{}, fmt.Errorf("recpca: alignment: matrix shape %v, graph has %d nodes: %w", e.Shape, g.N, ErrBadInput)
	}
	if g.NumEdges() == 0 {
		return AlignmentStats{}, fmt.Errorf("recpca: alignment: %w", ErrEmptyGraph)
	}
	inv := make([]float64, g.N)
	for i := 1; i < g.N; i++ {
		if s := sumSq32(e.Row(i)); s > 0 {
			inv[i] = 1 / math.Sqrt(s)
		}
	}
	cos := func(i, j int) float64 {
		a, b := e.Row(i), e.Row(j)
		var s float64
		for c, v := range a {
			s += float64(v) * float64(b[c])
		}
		return s * inv[i] * inv[j]
	}
	var st AlignmentStats
	var sum, wsum, wtot float64
	for i := 1; i < g.N; i++ {
		if inv[i] == 0 {
			continue
		}
		for t := g.RowPtr[i]; t < g.RowPtr[i+1]; t++ {
			j := int(g.Col[t])
			if j <= i || inv[j] == 0 {
				continue
			}
			c := cos(i, j)
			sum += c
			wsum += g.Val[t] * c
			wtot += g.Val[t]
			st.Edges++
		}
	}
	if st.Edges == 0 {
		return st, fmt.Errorf("recpca: alignment: no edge joins two non-zero rows: %w", ErrBadInput)
	}
	st.EdgeCos = sum / float64(st.Edges)
	st.EdgeCosWeighted = wsum / wtot
	if g.N > 2 && randomPairs > 0 {
		var rs float64
		for k := 0; k < 4*randomPairs && st.RandomPairs < randomPairs; k++ {
			i, j := 1+rng.IntN(g.N-1), 1+rng.IntN(g.N-1)
			if i == j || inv[i] == 0 || inv[j] == 0 {
				continue
			}
			rs += cos(i, j)
			st.RandomPairs++
		}
		if st.RandomPairs > 0 {
			st.RandomCos = rs / float64(st.RandomPairs)
		}
	}
	st.Gap = st.EdgeCos - st.RandomCos
	return st, nil
}

// CurvatureOptions configures Curvature.
type CurvatureOptions struct {
	// PerSequence also computes the spectrum of each sequence's Hessian:
	// one n x d x d float32 GEMM per sequence, B·n·d² multiply-adds (6.3e9
	// at B = 128, n = 12,101, d = 64, B times the batch average's); otherwise
	// only the batch-average Hessian, the default because it is the cheap
	// one.
	PerSequence bool
	// K selects the robust condition number λmax/λ_K (K-th largest
	// eigenvalue, 1-based); 0 means ⌈d/2⌉.
	K int
	// RelTiny: eigenvalues ≤ RelTiny·λmax count as zero; when λmin is zero
	// in that sense Cond is +Inf (default 1e-12).
	RelTiny float64
}

// Spectrum describes one d x d Hessian. It is a plain value.
type Spectrum struct {
	// Eigenvalues in descending order.
	Eigenvalues []float64
	// Max and Min are λmax and λmin.
	Max, Min float64
	// Cond is λmax/λmin, +Inf when λmin ≤ RelTiny·λmax (a flat direction).
	Cond float64
	// CondK is λmax/λ_K, the condition number restricted to the K leading
	// directions (+Inf under the same rule).
	CondK float64
	// K is the index used for CondK.
	K int
	// Rank counts eigenvalues above RelTiny·λmax.
	Rank int
}

// CurvatureStats reports the softmax cross-entropy curvature with respect to
// the sequence representations. It is a plain value.
type CurvatureStats struct {
	// Mean is the spectrum of the batch-average Hessian (1/B) Σ_b Cov_{p_b}(e).
	Mean Spectrum
	// PerSequence holds each h's spectrum (only with PerSequence).
	PerSequence []Spectrum
	// MedianCond and MedianCondK are medians over PerSequence (0 without it).
	MedianCond, MedianCondK float64
}

// Curvature returns the spectrum of the Hessian of the full-softmax
// cross-entropy −log p_t with respect to the sequence representation h. With
// logits z_i = ⟨h, e_i⟩ over the real items i = 1..NumItems and p =
// softmax(z), that Hessian is Cov_{i~p}(e_i) = Σ_i p_i (e_i − μ)(e_i − μ)ᵀ
// with μ = Σ_i p_i e_i (the package doc says why it matters); it does not
// depend on the target.
// h is [B, d], e is the item table [NumItems+1, d] the model scores with
// (row 0, padding, excluded). Covariances are accumulated in float64 for the
// batch average and in float32 (through tensor.Gemm) per sequence. It returns
// an error on shape mismatch or NaN/Inf scores.
func Curvature(h, e *tensor.Tensor, opt CurvatureOptions) (CurvatureStats, error) {
	if h.Dims() != 2 || e.Dims() != 2 || h.Cols() != e.Cols() || e.Rows() < 2 || h.Rows() < 1 {
		return CurvatureStats{}, fmt.Errorf("recpca: curvature: need h [B, d] and e [NumItems+1, d], got %v and %v: %w", h.Shape, e.Shape, ErrBadInput)
	}
	B, d, n := h.Rows(), h.Cols(), e.Rows()-1
	if opt.K <= 0 {
		opt.K = (d + 1) / 2
	}
	opt.K = min(opt.K, d)
	if opt.RelTiny <= 0 {
		opt.RelTiny = 1e-12
	}
	e64 := make([]float64, n*d)
	for i, v := range e.Data[d:] {
		e64[i] = float64(v)
	}
	h64 := make([]float64, B*d)
	for i, v := range h.Data {
		h64[i] = float64(v)
	}
	p, err := softmaxScores(h64, e64, B, n, d)
	if err != nil {
		return CurvatureStats{}, err
	}
	mu := make([]float64, B*d)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(p, B, n), gen(e64, n, d), 0, gen(mu, B, d))
	var st CurvatureStats
	if st.Mean, err = spectrum(meanHessian(p, mu, e64, B, n, d), d, opt); err != nil {
		return st, err
	}
	if !opt.PerSequence {
		return st, nil
	}
	st.PerSequence, err = sequenceSpectra(p, mu, e64, B, n, d, opt)
	if err != nil {
		return st, err
	}
	cs := make([]float64, B)
	ck := make([]float64, B)
	for b, s := range st.PerSequence {
		cs[b], ck[b] = s.Cond, s.CondK
	}
	st.MedianCond, st.MedianCondK = median(cs), median(ck)
	return st, nil
}

// softmaxScores returns p (B x n), the softmax over the n items of the
// logits h·eᵀ of every sequence, in float64; a NaN or Inf logit is an
// error naming the sequence.
func softmaxScores(h64, e64 []float64, B, n, d int) ([]float64, error) {
	p := make([]float64, B*n)
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, gen(h64, B, d), gen(e64, n, d), 0, gen(p, B, n))
	for b := range B {
		row := p[b*n : (b+1)*n]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		if math.IsNaN(mx) || math.IsInf(mx, 0) {
			return nil, fmt.Errorf("recpca: curvature: sequence %d has a NaN or Inf score: %w (%w)", b, ErrBadInput, ErrNonFinite)
		}
		var s float64
		for i, v := range row {
			row[i] = math.Exp(v - mx)
			s += row[i]
		}
		for i := range row {
			row[i] /= s
		}
	}
	return p, nil
}

// meanHessian returns the batch-average Hessian (d x d, both triangles) for
// the softmax rows p (B x n) with means mu (B x d) of the item rows e64
// (n x d): Σ_i p̄_i e_i e_iᵀ − (1/B) Σ_b μ_b μ_bᵀ, with e centred by the mean
// μ̄ first to limit cancellation (the identity holds for any shift: Cov is
// shift-invariant, and so is the average).
func meanHessian(p, mu, e64 []float64, B, n, d int) []float64 {
	mbar := make([]float64, d)
	for b := range B {
		for j := range d {
			mbar[j] += mu[b*d+j] / float64(B)
		}
	}
	pbar := make([]float64, n)
	for b := range B {
		for i, v := range p[b*n : (b+1)*n] {
			pbar[i] += v / float64(B)
		}
	}
	sc := make([]float64, n*d)
	for i := range n {
		w := math.Sqrt(pbar[i])
		for j := range d {
			sc[i*d+j] = w * (e64[i*d+j] - mbar[j])
		}
	}
	hm := make([]float64, d*d)
	blas64.Syrk(blas.Trans, 1, gen(sc, n, d), 0, blas64.Symmetric{N: d, Stride: d, Data: hm, Uplo: blas.Upper})
	dm := make([]float64, B*d)
	for b := range B {
		for j := range d {
			dm[b*d+j] = (mu[b*d+j] - mbar[j]) / math.Sqrt(float64(B))
		}
	}
	blas64.Syrk(blas.Trans, -1, gen(dm, B, d), 1, blas64.Symmetric{N: d, Stride: d, Data: hm, Uplo: blas.Upper})
	mirrorUpper(hm, d)
	return hm
}

// sequenceSpectra returns the spectrum of every sequence's Hessian
// Cov_{p_b}(e), one float32 GEMM each, the sequences shared round-robin
// among GOMAXPROCS goroutines; with an error the slice is returned as far
// as it was filled.
func sequenceSpectra(p, mu, e64 []float64, B, n, d int, opt CurvatureOptions) ([]Spectrum, error) {
	out := make([]Spectrum, B)
	procs := max(1, runtime.GOMAXPROCS(0))
	errs := make([]error, B)
	var wg sync.WaitGroup
	for w := range procs {
		wg.Go(func() {
			ec := make([]float32, n*d)
			ep := make([]float32, n*d)
			c32 := make([]float32, d*d)
			c64 := make([]float64, d*d)
			for b := w; b < B; b += procs {
				mb := mu[b*d : (b+1)*d]
				pb := p[b*n : (b+1)*n]
				for i := range n {
					for j := range d {
						v := e64[i*d+j] - mb[j]
						ec[i*d+j] = float32(v)
						ep[i*d+j] = float32(pb[i] * v)
					}
				}
				// The calls run one per goroutine; tensor.Gemm may split
				// further internally.
				tensor.Gemm(true, false, d, d, n, 1, ec, d, ep, d, 0, c32, d)
				for k, v := range c32 {
					c64[k] = float64(v)
				}
				symmetrize(c64, d)
				out[b], errs[b] = spectrum(c64, d, opt)
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return out, e
		}
	}
	return out, nil
}

func gen(a []float64, r, c int) blas64.General {
	return blas64.General{Rows: r, Cols: c, Stride: c, Data: a}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	if math.IsInf(s[m], 1) {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// spectrum decomposes the symmetric d x d matrix a (overwritten).
func spectrum(a []float64, d int, opt CurvatureOptions) (Spectrum, error) {
	vals, ok := symEigValues(a, d)
	if !ok {
		return Spectrum{}, fmt.Errorf("recpca: curvature: eigensolver: %w", ErrNotConverged)
	}
	slices.Reverse(vals)
	s := Spectrum{Eigenvalues: vals, Max: vals[0], Min: vals[d-1], K: opt.K}
	tiny := opt.RelTiny * math.Abs(s.Max)
	for _, v := range vals {
		if v > tiny {
			s.Rank++
		}
	}
	s.Cond = math.Inf(1)
	if s.Min > tiny {
		s.Cond = s.Max / s.Min
	}
	s.CondK = math.Inf(1)
	if vk := vals[opt.K-1]; vk > tiny {
		s.CondK = s.Max / vk
	}
	return s, nil
}
