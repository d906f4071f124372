package recpca

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	lapackgonum "gonum.org/v1/gonum/lapack/gonum"
)

// topEig returns the d largest eigenvalues (descending) of the symmetric
// n x n matrix a (full storage; destroyed) and their orthonormal eigenvectors
// as the columns of the n x d row-major matrix w.
//
// Only d of the n eigenvectors are wanted, so instead of LAPACK's dsyev (whose
// implicit QL sweeps rotate all n eigenvectors, O(n³) with a large constant:
// 0.6 s at n = 512) it reduces a to tridiagonal form T = QᵀAQ (dsytrd), takes
// all eigenvalues of T (dsterf, O(n²)), finds the top d eigenvectors of T by
// inverse iteration (O(n) per solve, Gram–Schmidt inside clusters of close
// eigenvalues), maps them back with Q (dormqr, O(n²·d)) and finishes with one
// Rayleigh–Ritz step on a itself. The result is then checked: every residual
// ||a·w_j − θ_j·w_j|| must be below topEigTol·||a|| and every θ_j must equal
// the j-th eigenvalue from dsterf to the same tolerance; otherwise (never
// seen in practice) the full dsyev path runs instead, so the answer is always
// the dense solver's to float64 accuracy.
func topEig(a []float64, n, d int) (vals, w []float64, ok bool) {
	if n < 3 || d > n/2 {
		return topEigFull(a, n, d)
	}
	impl := lapackgonum.Implementation{}
	// Keep the diagonal: dsytrd(Lower) overwrites it and the lower triangle,
	// the strict upper triangle still holds a.
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
	// ev is ascending; the wanted shifts are its top d, descending.
	var norm float64
	for i := range n {
		s := math.Abs(td[i])
		if i > 0 {
			s += math.Abs(te[i-1])
		}
		if i < n-1 {
			s += math.Abs(te[i])
		}
		norm = math.Max(norm, s)
	}
	if norm == 0 {
		restore()
		return topEigFull(a, n, d)
	}
	z := make([]float64, n*d) // n x d eigenvectors of T
	tridiagInverseIteration(td, te, ev, norm, z, n, d)

	// w = Q·z with Q = diag(1, Q₁), Q₁ the product of the n−1 reflectors
	// stored below the subdiagonal (a QR-style factor of a[1:, 0:n−1]).
	work = []float64{0}
	impl.Dormqr(blas.Left, blas.NoTrans, n-1, d, n-1, a[n:], n, tau, z[d:], d, work, -1)
	work = make([]float64, max(int(work[0]), 1))
	impl.Dormqr(blas.Left, blas.NoTrans, n-1, d, n-1, a[n:], n, tau, z[d:], d, work, len(work))
	restore()

	vals, w, ok = rayleighRitz(a, z, n, d)
	if ok {
		for j := range d {
			if math.Abs(vals[j]-ev[n-1-j]) > topEigTol*norm {
				ok = false
				break
			}
		}
	}
	if !ok {
		return topEigFull(a, n, d)
	}
	return vals, w, true
}

// topEigTol bounds topEig's residuals and eigenvalue errors, relative to
// ||a||₁; the inverse-iteration path measures ~1e-14 on Beauty.
const topEigTol = 1e-10

// topEigFull is topEig by a full dsyev.
func topEigFull(a []float64, n, d int) (vals, w []float64, ok bool) {
	all, ok := symEig(a, n)
	if !ok {
		return nil, nil, false
	}
	vals = make([]float64, d)
	w = make([]float64, n*d)
	for j := range d {
		src := n - 1 - j
		vals[j] = all[src]
		for i := range n {
			w[i*d+j] = a[i*n+src]
		}
	}
	return vals, w, true
}

// rayleighRitz orthonormalizes the n x d block v, rotates it to the
// eigenvectors of vᵀAv (A symmetric n x n, full storage) and checks the
// residuals against topEigTol·||A||₁ (||A||₁ = max column sum). It returns
// the Ritz values (descending) and vectors.
func rayleighRitz(a, v []float64, n, d int) (vals, w []float64, ok bool) {
	orthonormalize(v, n, d)
	gen := func(x []float64, r, c int) blas64.General {
		return blas64.General{Rows: r, Cols: c, Stride: c, Data: x}
	}
	av := make([]float64, n*d)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(a, n, n), gen(v, n, d), 0, gen(av, n, d))
	h := make([]float64, d*d)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, gen(v, n, d), gen(av, n, d), 0, gen(h, d, d))
	for i := range d {
		for j := i + 1; j < d; j++ {
			s := (h[i*d+j] + h[j*d+i]) / 2
			h[i*d+j], h[j*d+i] = s, s
		}
	}
	theta, good := symEig(h, d)
	if !good {
		return nil, nil, false
	}
	slices.Reverse(theta)
	for i := range d {
		slices.Reverse(h[i*d : (i+1)*d])
	}
	w = make([]float64, n*d)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(v, n, d), gen(h, d, d), 0, gen(w, n, d))
	aw := make([]float64, n*d)
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, gen(av, n, d), gen(h, d, d), 0, gen(aw, n, d))
	var anorm float64
	for j := range n {
		var s float64
		for i := range n {
			s += math.Abs(a[i*n+j])
		}
		anorm = math.Max(anorm, s)
	}
	for j := range d {
		var r float64
		for i := range n {
			e := aw[i*d+j] - theta[j]*w[i*d+j]
			r += e * e
		}
		if !(math.Sqrt(r) <= topEigTol*anorm) {
			return nil, nil, false
		}
	}
	return theta, w, true
}

// tridiagInverseIteration writes into z (n x d, row-major) the eigenvectors
// of the symmetric tridiagonal T (diagonal td, off-diagonal te) for its d
// largest eigenvalues, taken from ev (all eigenvalues, ascending); norm is
// ||T||₁. Eigenvalues closer than 1e-3·norm form a cluster whose vectors are
// orthogonalized against each other at every step (modified Gram–Schmidt,
// twice); equal eigenvalues are first pulled apart by a few ulps of norm so
// that the shifted solves differ.
func tridiagInverseIteration(td, te, ev []float64, norm float64, z []float64, n, d int) {
	const eps = 0x1p-52
	ortol := 1e-3 * norm
	pertol := 10 * eps * norm
	// A fixed local generator: the start vectors only need to be generic.
	r := rand.New(rand.NewPCG(0x5eed, uint64(n)))
	f := newTridiagLU(n)
	x := make([]float64, n)
	vecs := make([][]float64, d)
	start := 0
	var prev float64
	for j := range d {
		sigma := ev[n-1-j]
		if j > 0 {
			if ev[n-j]-sigma > ortol {
				start = j
			}
			if sigma > prev-pertol {
				sigma = prev - pertol
			}
		}
		prev = sigma
		f.factor(td, te, sigma, eps*norm)
		for i := range x {
			x[i] = r.Float64()*2 - 1
		}
		// With a shift this close to the eigenvalue one solve nearly
		// suffices; the Rayleigh–Ritz check in topEig catches any failure.
		for range 4 {
			scale(x, 1/math.Sqrt(sumSq(x)))
			f.solve(x)
			for range 2 {
				for _, q := range vecs[start:j] {
					axpy(-dot(q, x), q, x)
				}
			}
		}
		scale(x, 1/math.Sqrt(sumSq(x)))
		vecs[j] = slices.Clone(x)
		for i := range n {
			z[i*d+j] = x[i]
		}
	}
}

func scale(x []float64, s float64) {
	for i := range x {
		x[i] *= s
	}
}

func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

// tridiagLU is the LU factorization with partial pivoting of T − σI for a
// symmetric tridiagonal T: U has three diagonals u0, u1, u2 and L the
// multipliers mult with the row swaps swap.
type tridiagLU struct {
	u0, u1, u2, mult []float64
	swap             []bool
}

func newTridiagLU(n int) *tridiagLU {
	return &tridiagLU{
		u0: make([]float64, n), u1: make([]float64, n), u2: make([]float64, n),
		mult: make([]float64, n), swap: make([]bool, n),
	}
}

// factor factors T − σI; pivots smaller than tiny in magnitude are replaced
// by ±tiny, so that the solve of a (nearly) singular system stays finite.
func (f *tridiagLU) factor(td, te []float64, sigma, tiny float64) {
	n := len(td)
	piv := func(v float64) float64 {
		if math.Abs(v) < tiny {
			if v < 0 {
				return -tiny
			}
			return tiny
		}
		return v
	}
	// Active row (columns i, i+1) against the next row (columns i, i+1, i+2).
	r0, r1 := td[0]-sigma, 0.0
	if n > 1 {
		r1 = te[0]
	}
	for i := 0; i < n-1; i++ {
		s0, s1, s2 := te[i], td[i+1]-sigma, 0.0
		if i+1 < n-1 {
			s2 = te[i+1]
		}
		if math.Abs(r0) >= math.Abs(s0) {
			p := piv(r0)
			m := s0 / p
			f.u0[i], f.u1[i], f.u2[i], f.mult[i], f.swap[i] = p, r1, 0, m, false
			r0, r1 = s1-m*r1, s2
		} else {
			m := r0 / s0
			f.u0[i], f.u1[i], f.u2[i], f.mult[i], f.swap[i] = s0, s1, s2, m, true
			r0, r1 = r1-m*s1, -m*s2
		}
	}
	f.u0[n-1] = piv(r0)
}

// solve overwrites y with (T − σI)⁻¹y.
func (f *tridiagLU) solve(y []float64) {
	n := len(y)
	for i := 0; i < n-1; i++ {
		if f.swap[i] {
			y[i], y[i+1] = y[i+1], y[i]
		}
		y[i+1] -= f.mult[i] * y[i]
	}
	y[n-1] /= f.u0[n-1]
	if n > 1 {
		y[n-2] = (y[n-2] - f.u1[n-2]*y[n-1]) / f.u0[n-2]
	}
	for i := n - 3; i >= 0; i-- {
		y[i] = (y[i] - f.u1[i]*y[i+1] - f.u2[i]*y[i+2]) / f.u0[i]
	}
}
