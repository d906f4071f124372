package recpca

import (
	"errors"

	"github.com/llmrec/llmrec/tensor"
)

// Errors a caller can tell apart with errors.Is. Every error this package
// returns wraps one of them (cancellation returns the context's error),
// and a NaN or infinite entry wraps ErrNonFinite beside ErrBadInput. They
// are this package's own values (recpca sits beside data and below nn, so
// it cannot share their ErrBadInput and ErrBadConfig); the names say which
// argument is wrong: the data (ErrBadInput) or an Options, GraphOptions or
// AccumulatorOptions value (ErrBadOptions).
var (
	// ErrBadInput is wrapped when the data given cannot be used: an item
	// matrix, graph or row of the wrong shape, a NaN or infinite entry, an
	// item id outside 1..NumItems, an edge weight or degree that is
	// negative or not finite, an empty accumulator, or item rows without
	// variance (in total or along the graph).
	ErrBadInput = errors.New("bad input")
	// ErrBadOptions is wrapped when options cannot work: Dim outside
	// 1..min(D, NumItems), a penalty handle out of range, an accumulator's
	// dimension or Laplacian kind out of range, or FitStats options that
	// contradict the accumulator (normalization, Laplacian, the ℓ1
	// penalty).
	ErrBadOptions = errors.New("bad options")
	// ErrNotConverged is wrapped when an eigensolver fails (LAPACK or a
	// Rayleigh–Ritz step) or no λ brings the retained variance down to
	// TargetVariance. A different Solver, Dim or TargetVariance may
	// succeed where the input is fine.
	ErrNotConverged = errors.New("did not converge")
	// ErrNonFinite is tensor.ErrNonFinite: an item row, neighbour sum or
	// score holds NaN or Inf. It is wrapped together with ErrBadInput.
	ErrNonFinite = tensor.ErrNonFinite
)
