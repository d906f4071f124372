package recpca

import (
	"slices"

	"gonum.org/v1/gonum/blas"
	lapackgonum "gonum.org/v1/gonum/lapack/gonum"
)

// topEigDsytrd is topEig as it was before the blocked reduction of eig.go:
// gonum's Dsytrd for the tridiagonal form and Dormqr for the back-transform,
// around the same Dsterf, inverse iteration and Rayleigh–Ritz check. It is
// kept for the side-by-side benchmark and as a second reference in tests.
func topEigDsytrd(a []float64, n, d int) (vals, w []float64, ok bool) {
	if n < 3 || d > n/2 {
		return topEigFull(a, n, d)
	}
	impl := lapackgonum.Implementation{}
	diag := make([]float64, n)
	for i := range n {
		diag[i] = a[i*n+i]
	}
	restore := func() {
		for i := range n {
			a[i*n+i] = diag[i]
			for j := i + 1; j < n; j++ {
				a[j*n+i] = a[i*n+j]
			}
		}
	}
	td := make([]float64, n)
	te := make([]float64, n-1)
	tau := make([]float64, n-1)
	work := []float64{0}
	impl.Dsytrd(blas.Lower, n, a, n, td, te, tau, work, -1)
	work = make([]float64, max(int(work[0]), 1))
	impl.Dsytrd(blas.Lower, n, a, n, td, te, tau, work, len(work))
	ev := slices.Clone(td)
	if !impl.Dsterf(n, ev, slices.Clone(te)) {
		restore()
		return topEigFull(a, n, d)
	}
	norm := tridiagNorm(td, te)
	if norm == 0 {
		restore()
		return topEigFull(a, n, d)
	}
	z := make([]float64, n*d)
	tridiagInverseIteration(td, te, ev, norm, z, n, d)
	work = []float64{0}
	impl.Dormqr(blas.Left, blas.NoTrans, n-1, d, n-1, a[n:], n, tau, z[d:], d, work, -1)
	work = make([]float64, max(int(work[0]), 1))
	impl.Dormqr(blas.Left, blas.NoTrans, n-1, d, n-1, a[n:], n, tau, z[d:], d, work, len(work))
	restore()
	if vals, w, ok = ritzChecked(a, z, ev, norm, n, d); !ok {
		return topEigFull(a, n, d)
	}
	return vals, w, true
}
