package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/recpca"
	"github.com/llmrec/llmrec/tensor"
)

// This file wires recpca into backbone's item tables (issue 5, part 2).
// None of it is specific to the command line: the lead may move it into a
// library package (see the package doc).

// reduceConfig says how LLM item embeddings are reduced before a table uses
// them.
type reduceConfig struct {
	// Dim is the reduced width d.
	Dim int
	// Graph is the co-occurrence graph of the training sequences; nil for
	// plain PCA.
	Graph *recpca.Graph
	// Lambda is the scale-free graph penalty, used when TargetVar is 0.
	Lambda float64
	// TargetVar, in (0, 1], chooses λ so that this fraction of PCA's
	// retained variance is kept.
	TargetVar float64
	// Laplacian and TV select the penalty's form.
	Laplacian recpca.LaplacianKind
	TV        recpca.TVKind
	// NormalizeInput L2-normalizes the LLM rows before centring
	// (TF-LLMER); NormalizeOutput L2-normalizes the reduced rows.
	NormalizeInput, NormalizeOutput bool
	// Seed seeds the randomized eigensolver.
	Seed uint64
}

// reduction is a fitted (Rec-)PCA and the reduced item matrix.
type reduction struct {
	Proj *recpca.Projection
	// Z is [NumItems+1, Dim], row 0 zero.
	Z *tensor.Tensor
}

// reduce fits PCA (cfg.Graph nil or no penalty) or Rec-PCA on x
// ([NumItems+1, D]) and returns the projection and the reduced matrix.
func reduce(ctx context.Context, x *tensor.Tensor, cfg reduceConfig) (*reduction, error) {
	opt := recpca.Options{Dim: cfg.Dim, NormalizeInput: cfg.NormalizeInput, Laplacian: cfg.Laplacian,
		TV: cfg.TV, Seed: cfg.Seed}
	g := cfg.Graph
	switch {
	case g == nil:
	case cfg.TargetVar > 0 && cfg.TargetVar < 1:
		opt.TargetVariance = cfg.TargetVar
	case cfg.TargetVar == 0 && cfg.Lambda > 0:
		opt.Lambda = cfg.Lambda
	default: // λ = 0 or target 1: plain PCA, but keep the graph for its statistics.
	}
	p, err := recpca.FitContext(ctx, x, g, opt)
	if err != nil {
		return nil, err
	}
	return &reduction{Proj: p, Z: p.Transform(nil, x, cfg.NormalizeOutput)}, nil
}

// recPCAIDTable is TF-LLMER's init mode: a trainable ID table initialized
// from the reduced LLM embeddings r.Z, wrapped in a NormalizedTable (row
// norm scale, learnable with learn) when normalize is set.
func recPCAIDTable(r *reduction, normalize bool, scale float64, learn bool) (backbone.ItemTable, error) {
	id, err := backbone.NewIDTableFrom(r.Z)
	if err != nil {
		return nil, err
	}
	if !normalize {
		return id, nil
	}
	return backbone.NewNormalizedTable(id, scale, learn), nil
}

// adapterTable is the frozen mode: the frozen LLM matrix llm (raw, or a
// (Rec-)PCA reduction of it) behind a trainable Linear adapter to dim,
// normalized after the adapter when normalize is set (methods.md §1.3: the
// curvature argument is about the vectors the backbone scores with).
func adapterTable(llm *tensor.Tensor, dim int, normalize bool, scale float64, learn bool, rng *rand.Rand) (backbone.ItemTable, error) {
	a, err := backbone.NewAdapterTable(rng, llm, dim, nil, nn.Identity)
	if err != nil {
		return nil, err
	}
	if !normalize {
		return a, nil
	}
	return backbone.NewNormalizedTable(a, scale, learn), nil
}

// dualViewTable is the dual-view mode (LLM-ESR-like): an ID view
// initialized from Rec-PCA (r.Z, width dim/2) concatenated with an adapted
// frozen LLM view (width dim − dim/2), each view normalized on its own.
func dualViewTable(r *reduction, llm *tensor.Tensor, dim int, scale float64, learn bool, rng *rand.Rand) (backbone.ItemTable, error) {
	if r.Z.Shape[1] != dim/2 {
		return nil, fmt.Errorf("tfllmer: dual view: ID view width %d, want %d", r.Z.Shape[1], dim/2)
	}
	idView, err := recPCAIDTable(r, true, scale, learn)
	if err != nil {
		return nil, err
	}
	llmView, err := adapterTable(llm, dim-dim/2, true, scale, learn, rng)
	if err != nil {
		return nil, err
	}
	return backbone.NewConcatTable(idView, llmView)
}

// curvature measures the condition number of the full-softmax loss Hessian
// with respect to the sequence representations (recpca.Curvature, the
// batch-average Cov_p(e)) on the hidden states of every position of the
// training sequences seqs, scored against the model's current item table.
func curvature(m *backbone.SeqModel, seqs [][]int) (recpca.Spectrum, error) {
	table := m.Items.Materialize(&tensor.Tensor{})
	h, err := m.HiddenStates(seqs)
	if err != nil {
		return recpca.Spectrum{}, fmt.Errorf("tfllmer: curvature: %w", err)
	}
	if h.Shape[0] == 0 {
		return recpca.Spectrum{}, fmt.Errorf("tfllmer: curvature: empty batch")
	}
	st, err := recpca.Curvature(h, table, recpca.CurvatureOptions{})
	if err != nil {
		return recpca.Spectrum{}, err
	}
	return st.Mean, nil
}

// finite maps ±Inf and NaN to nil so that a value can be written as JSON
// (null = a flat direction: infinite condition number).
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}
