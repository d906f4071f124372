package recpca

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/tensor"
)

// Rec-PCA on Beauty, 12,101 x 512 -> 64, λ = 0.9, graph construction
// included (auto solver = exact at D = 512: float64 Gram matrices C and G in
// one pass, top-d eigenvectors).
func BenchmarkFitBeauty(b *testing.B) {
	d := loadBeauty(b)
	for b.Loop() {
		g, err := BuildGraph(d.seqs, d.x.Rows()-1, GraphOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Fit(d.x, g, Options{Dim: 64, Lambda: 0.9}); err != nil {
			b.Fatal(err)
		}
	}
}

// The exact solver's eigen-solve paths side by side on Beauty (λ = 0.9,
// graph included): "dsyev" decomposes M fully (the previous path), "topeig"
// is Fit's (top-d eigenvectors by tridiagonal inverse iteration).
func BenchmarkFitBeautyPaths(b *testing.B) {
	d := loadBeauty(b)
	opt := Options{Dim: 64, Lambda: 0.9, Solver: SolverExact}
	for _, c := range []struct {
		name  string
		paths fitPaths
	}{
		{"dsyev", fitPaths{fullEig: true}},
		{"topeig", fitPaths{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				g, err := BuildGraph(d.seqs, d.x.Rows()-1, GraphOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := fit(context.Background(), d.x, g, opt, c.paths); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The same with the float32-operator solver, side by side.
func BenchmarkFitBeautyRandomized32(b *testing.B) {
	d := loadBeauty(b)
	for b.Loop() {
		g, err := BuildGraph(d.seqs, d.x.Rows()-1, GraphOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Fit(d.x, g, Options{Dim: 64, Lambda: 0.9, Solver: SolverRandomized32}); err != nil {
			b.Fatal(err)
		}
	}
}

// The same with the float64 randomized solver, side by side.
func BenchmarkFitBeautyRandomized(b *testing.B) {
	d := loadBeauty(b)
	for b.Loop() {
		g, err := BuildGraph(d.seqs, d.x.Rows()-1, GraphOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Fit(d.x, g, Options{Dim: 64, Lambda: 0.9, Solver: SolverRandomized}); err != nil {
			b.Fatal(err)
		}
	}
}

// Synthetic 50,000 x 4,096 (decaying spectrum) with a random sparse graph
// (8 edges per item) -> 64, the two float32-operator solvers side by side at
// Tol 1e-5 (no float64 polish). Needs ~1.5 GB; skipped with -short.
func BenchmarkFitSynthetic50k(b *testing.B) {
	if testing.Short() {
		b.Skip("large")
	}
	const n, D = 50000, 4096
	r := rand.New(rand.NewPCG(3, 4))
	x := tensor.New(n+1, D)
	for i := 1; i <= n; i++ {
		row := x.Row(i)
		for j := range row {
			row[j] = float32(r.NormFloat64() / (1 + float64(j)/32))
		}
	}
	edges := make([]Edge, 0, n*8)
	for i := 1; i <= n; i++ {
		for range 8 {
			edges = append(edges, Edge{I: i, J: 1 + r.IntN(n), W: 1})
		}
	}
	g, err := NewGraph(n, edges)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []Solver{SolverRandomized32, SolverKrylov32} {
		b.Run(s.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := Fit(x, g, Options{Dim: 64, Lambda: 0.3, Solver: s, Tol: 1e-5}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Curvature on a model-sized batch: B = 128, n = 12,101, d = 64.
func BenchmarkCurvature(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	e := tensor.New(12102, 64)
	for i := 64; i < len(e.Data); i++ {
		e.Data[i] = float32(r.NormFloat64() / 8)
	}
	h := tensor.New(128, 64)
	for i := range h.Data {
		h.Data[i] = float32(r.NormFloat64())
	}
	for _, per := range []bool{false, true} {
		name := "batch-mean"
		if per {
			name = "per-sequence"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Curvature(h, e, CurvatureOptions{PerSequence: per}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
