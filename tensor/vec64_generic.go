//go:build !amd64 || purego

package tensor

// This build has no assembly (another architecture, or the purego tag): the
// float64 vector kernels are the portable loops.

func dot64(x, y []float64) float64                            { return dot64Go(x, y) }
func axpy64(alpha float64, x, y []float64)                    { axpy64Go(alpha, x, y) }
func dotAxpy64(alpha float64, x, y, z []float64) float64      { return dotAxpy64Go(alpha, x, y, z) }
func symvUpper64(n int, a []float64, lda int, x, y []float64) { symvUpper64Go(n, a, lda, x, y) }

// vec64Impls lists the implementations this build can run.
func vec64Impls() []vec64Impl { return []vec64Impl{vec64Go} }
