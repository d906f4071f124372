package recpca

import (
	"math"
	"math/rand/v2"
	"slices"

	lapackgonum "gonum.org/v1/gonum/lapack/gonum"

	"github.com/llmrec/llmrec/tensor"
)

// topEig returns the d largest eigenvalues (descending) of the symmetric
// n x n matrix a (full storage; left unchanged) and their orthonormal
// eigenvectors as the columns of the n x d row-major matrix w.
//
// Only d of the n eigenvectors are wanted, so instead of LAPACK's dsyev (whose
// implicit QL sweeps rotate all n eigenvectors, O(n³) with a large constant:
// 0.6 s at n = 512) it reduces a to tridiagonal form T = QᵀAQ by blocked
// Householder reflections (tridiagonalize: symmetric matrix-vector products
// inside a panel, one matrix product per panel for the rest), takes all
// eigenvalues of T (dsterf, O(n²)), finds the top d eigenvectors of T by
// inverse iteration (O(n) per solve, Gram–Schmidt inside clusters of close
// eigenvalues), maps them back with Q (applyReflectors: blocks of reflectors
// in compact WY form, matrix products again) and finishes with one
// Rayleigh–Ritz step on a itself. The result is then checked: every residual
// ||a·w_j − θ_j·w_j|| must be below topEigTol·||a|| and every θ_j must equal
// the j-th eigenvalue from dsterf to the same tolerance; otherwise (never
// seen in practice) the full dsyev path runs instead, so the answer is always
// the dense solver's to float64 accuracy.
func topEig(a []float64, n, d int) (vals, w []float64, ok bool) {
	if n >= 3 && d <= n/2 {
		if vals, w, ok = topEigTridiag(a, n, d); ok {
			return vals, w, true
		}
	}
	return topEigFull(slices.Clone(a), n, d)
}

// topEigTridiag is topEig without the dsyev fallback: ok is false when a
// step failed or the result did not pass the checks (n >= 3, d <= n/2).
func topEigTridiag(a []float64, n, d int) (vals, w []float64, ok bool) {
	t := slices.Clone(a)
	td := make([]float64, n)
	te := make([]float64, n-1)
	tau := make([]float64, n-1)
	tridiagonalize(t, n, td, te, tau)

	ev := slices.Clone(td)
	if !(lapackgonum.Implementation{}).Dsterf(n, ev, slices.Clone(te)) {
		return nil, nil, false
	}
	// ev is ascending; the wanted shifts are its top d, descending.
	norm := tridiagNorm(td, te)
	if norm == 0 {
		return nil, nil, false
	}
	z := make([]float64, n*d) // n x d eigenvectors of T
	tridiagInverseIteration(td, te, ev, norm, z, n, d)
	applyReflectors(t, n, tau, z, d)

	return ritzChecked(a, z, ev, norm, n, d)
}

// ritzChecked is the last step of topEig: the Rayleigh–Ritz step on a with
// the approximate eigenvectors z (n x d), whose values must also match the
// top d of the tridiagonal eigenvalues ev (ascending) to topEigTol·norm.
func ritzChecked(a, z, ev []float64, norm float64, n, d int) (vals, w []float64, ok bool) {
	vals, w, ok = rayleighRitz(a, z, n, d)
	if !ok {
		return nil, nil, false
	}
	for j := range d {
		if math.Abs(vals[j]-ev[n-1-j]) > topEigTol*norm {
			return nil, nil, false
		}
	}
	return vals, w, true
}

// tridiagNorm returns ||T||₁ of the symmetric tridiagonal matrix with
// diagonal td and off-diagonal te.
func tridiagNorm(td, te []float64) float64 {
	n := len(td)
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
	return norm
}

// eigPanel is the number of Householder reflections tridiagonalize folds into
// one matrix product (16 measured faster than 8, 24, 32 or 64 at n = 512:
// wider panels spend more in the panel's own corrections than they save in
// the update), and wyBlock the number applyReflectors applies as one
// compact WY block.
const (
	eigPanel = 16
	wyBlock  = 32
)

// tridiagonalize reduces the symmetric n x n matrix a (row-major; only its
// upper triangle is read, and all of a is overwritten) to the tridiagonal
// T = QᵀAQ with diagonal td (n) and off-diagonal te (n−1), where
// Q = H₀H₁···H_{n−2}, H_k = I − tau[k]·v_k·v_kᵀ, and v_k is zero in entries
// 0..k, one in entry k+1 and a[k, k+2:] after the call in entries k+2..n−1.
//
// Step k picks H_k to map the entries k+1.. of row k of the current matrix A
// onto a multiple of e_{k+1} (te[k] = that multiple), and then A ← H_k·A·H_k,
// which with p = tau·A·v, w = p − (tau/2)(pᵀv)·v is the rank-2 update
// A − v·wᵀ − w·vᵀ. The updates of eigPanel consecutive steps are deferred:
// with the panel's v's and w's as the columns of V and W, the current matrix
// is A₀ − V·Wᵀ − W·Vᵀ, so a step only brings its own row up to date and
// forms A·v as A₀·v (symmetric matrix-vector product on the panel's start
// matrix) − V(Wᵀv) − W(Vᵀv); after the panel the trailing matrix takes the
// rank-2·eigPanel update at once, as one matrix product [V W]·[W V]ᵀ.
func tridiagonalize(a []float64, n int, td, te, tau []float64) {
	const nb = eigPanel
	// Row c of p is v_c (c < nb) or w_{c−nb}; row c of q is w_c or v_{c−nb}:
	// the trailing update is A −= pᵀ·q, both indexed by global row/column.
	p := make([]float64, 2*nb*n)
	q := make([]float64, 2*nb*n)
	y := make([]float64, n)
	for j0 := 0; j0 < n-1; j0 += nb {
		ib := min(nb, n-1-j0)
		// Step i writes entries k+1.. of its rows of p and q, and only
		// those are read; the rows of steps a short last panel lacks must
		// be zero for the trailing product.
		if ib < nb {
			for c := ib; c < nb; c++ {
				clear(p[c*n : (c+1)*n])
				clear(p[(nb+c)*n : (nb+c+1)*n])
				clear(q[c*n : (c+1)*n])
				clear(q[(nb+c)*n : (nb+c+1)*n])
			}
		}
		for i := range ib {
			k := j0 + i
			row := a[k*n+k : k*n+n]
			// Bring row k up to date with the panel's earlier steps.
			for c := range i {
				vc, wc := p[c*n:(c+1)*n], p[(nb+c)*n:(nb+c+1)*n]
				tensor.Axpy64(-vc[k], wc[k:], row)
				tensor.Axpy64(-wc[k], vc[k:], row)
			}
			td[k] = row[0]
			x := row[1:]
			beta, t := householder(x)
			te[k], tau[k] = beta, t
			m := len(x)
			v := p[i*n+k+1 : (i+1)*n]
			v[0] = 1
			copy(v[1:], x[1:])
			// y = A·v on the current trailing matrix A[k+1:, k+1:].
			yy := y[:m]
			tensor.SymvUpper64(m, a[(k+1)*n+k+1:], n, v, yy)
			for c := range i {
				vc, wc := p[c*n+k+1:(c+1)*n], p[(nb+c)*n+k+1:(nb+c+1)*n]
				tensor.Axpy64(-tensor.Dot64(wc, v), vc, yy)
				tensor.Axpy64(-tensor.Dot64(vc, v), wc, yy)
			}
			scale(yy, t)
			tensor.Axpy64(-t/2*tensor.Dot64(yy, v), v, yy)
			copy(p[(nb+i)*n+k+1:(nb+i+1)*n], yy)
			copy(q[i*n+k+1:(i+1)*n], yy)
			copy(q[(nb+i)*n+k+1:(nb+i+1)*n], v)
		}
		if s := j0 + ib; s < n {
			syr2kUpper(a, n, s, p, q, 2*nb)
		}
	}
	td[n-1] = a[(n-1)*n+n-1]
}

// syr2kUpper subtracts pᵀ·q (p and q: kk x n row-major, columns s.. used)
// from the upper triangle of a[s:, s:] (n x n row-major), by block rows
// whose products also touch (and spoil) the strict lower triangle of the
// diagonal blocks, which tridiagonalize never reads.
func syr2kUpper(a []float64, n, s int, p, q []float64, kk int) {
	const bs = 128
	for r0 := s; r0 < n; r0 += bs {
		r1 := min(r0+bs, n)
		gemm64(true, false, r1-r0, n-r0, kk, -1, p[r0:], n, q[r0:], n, 1, a[r0*n+r0:], n)
	}
}

// householder turns x (length m >= 1) into a Householder reflector
// H = I − tau·v·vᵀ with v = (1, x[1:] on return) and H·x₀ = (beta, 0, ...)
// for the x₀ given; x[0] is left as is. When x₀[1:] is zero, tau = 0 and
// H = I.
func householder(x []float64) (beta, tau float64) {
	alpha := x[0]
	tail := x[1:]
	ss := tensor.Dot64(tail, tail)
	sigma := math.Sqrt(ss)
	if !(ss > 0x1p-900 && ss < 0x1p900) {
		// Σ x² is zero, or under- or overflowed (or came close): sum
		// scaled squares.
		var big float64
		for _, v := range tail {
			if a := math.Abs(v); a > big {
				big = a
			}
		}
		if big == 0 {
			return alpha, 0
		}
		inv := 1 / big
		ss = 0
		for _, v := range tail {
			v *= inv
			ss += v * v
		}
		sigma = big * math.Sqrt(ss)
	}
	beta = -math.Copysign(math.Hypot(alpha, sigma), alpha)
	tau = (beta - alpha) / beta
	scale(tail, 1/(alpha-beta))
	return beta, tau
}

// applyReflectors overwrites z (n x d row-major) with Q·z for the Q of
// tridiagonalize (reflectors stored in a, factors tau). Blocks of wyBlock
// consecutive reflectors H_j···H_{j+b−1} = I − Y·T·Yᵀ (Y the n x b matrix of
// their v's, T upper triangular with T_ii = tau_i and
// T[0:i, i] = −tau_i·T[0:i, 0:i]·Y[:, 0:i]ᵀ·y_i) are applied as two matrix
// products each, the last block first.
func applyReflectors(a []float64, n int, tau, z []float64, d int) {
	const nb = wyBlock
	nr := n - 1                 // reflectors
	yt := make([]float64, nb*n) // row c: v_{j+c}
	g := make([]float64, nb*nb)
	tm := make([]float64, nb*nb)
	x := make([]float64, nb*d)
	x2 := make([]float64, nb*d)
	for j := (nr - 1) / nb * nb; j >= 0; j -= nb {
		b := min(nb, nr-j)
		s := j + 1 // first row any of the block's reflectors touches
		m := n - s
		clear(yt)
		for c := range b {
			k := j + c
			yt[c*n+k+1] = 1
			copy(yt[c*n+k+2:(c+1)*n], a[k*n+k+2:k*n+n])
		}
		gemm64(false, true, b, b, m, 1, yt[s:], n, yt[s:], n, 0, g, nb)
		clear(tm)
		for i := range b {
			tm[i*nb+i] = tau[j+i]
			for r := range i {
				var sum float64
				for c := r; c < i; c++ {
					sum += tm[r*nb+c] * g[c*nb+i]
				}
				tm[r*nb+i] = -tau[j+i] * sum
			}
		}
		// x = Yᵀz, x2 = T·x, z −= Y·x2.
		gemm64(false, false, b, d, m, 1, yt[s:], n, z[s*d:], d, 0, x, d)
		for r := range b {
			out := x2[r*d : (r+1)*d]
			clear(out)
			for c := r; c < b; c++ {
				tensor.Axpy64(tm[r*nb+c], x[c*d:(c+1)*d], out)
			}
		}
		gemm64(true, false, m, d, b, -1, yt[s:], n, x2, d, 1, z[s*d:], d)
	}
}

// gemm64 is the float64 matrix product C = alpha·op(A)·op(B) + beta·C on
// row-major matrices (the BLAS dgemm contract).
func gemm64(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	tensor.Gemm64(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
	v = orthonormalizeNear(v, n, d)
	av := make([]float64, n*d)
	gemm64(false, false, n, d, n, 1, a, n, v, d, 0, av, d)
	h := make([]float64, d*d)
	gemm64(true, false, d, d, n, 1, v, d, av, d, 0, h, d)
	symmetrize(h, d)
	theta, good := symEig(h, d)
	if !good {
		return nil, nil, false
	}
	slices.Reverse(theta)
	for i := range d {
		slices.Reverse(h[i*d : (i+1)*d])
	}
	w = make([]float64, n*d)
	gemm64(false, false, n, d, d, 1, v, d, h, d, 0, w, d)
	aw := make([]float64, n*d)
	gemm64(false, false, n, d, d, 1, av, d, h, d, 0, aw, d)
	// ||A||₁, the column sums accumulated row by row.
	colSum := make([]float64, n)
	for i := range n {
		for j, x := range a[i*n : (i+1)*n] {
			colSum[j] += math.Abs(x)
		}
	}
	anorm := slices.Max(colSum)
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

// orthonormalizeNear returns an orthonormal basis of the span of the
// columns of the n x d matrix v (rows·cols row-major; v may be overwritten).
// When v's columns are orthonormal to within 1e-6 already (topEig's
// back-transformed inverse-iteration vectors are, to ~1e-13) it is one
// Cholesky QR step: G = vᵀv = RᵀR, v·R⁻¹, two matrix products whose
// orthogonality error is ~eps·cond(v)² = ~eps; otherwise it is the
// Householder QR of orthonormalize.
func orthonormalizeNear(v []float64, n, d int) []float64 {
	g := make([]float64, d*d)
	gemm64(true, false, d, d, n, 1, v, d, v, d, 0, g, d)
	for i := range d {
		for j := range d {
			want := 0.0
			if i == j {
				want = 1
			}
			if !(math.Abs(g[i*d+j]-want) <= 1e-6) {
				orthonormalize(v, n, d)
				return v
			}
		}
	}
	// Upper triangle of g ← R with G = RᵀR, row by row.
	for j := range d {
		s := g[j*d+j]
		for k := range j {
			s -= g[k*d+j] * g[k*d+j]
		}
		rjj := math.Sqrt(s)
		g[j*d+j] = rjj
		for i := j + 1; i < d; i++ {
			t := g[j*d+i]
			for k := range j {
				t -= g[k*d+j] * g[k*d+i]
			}
			g[j*d+i] = t / rjj
		}
	}
	// x = R⁻¹ (upper triangular), column by column.
	x := make([]float64, d*d)
	for c := range d {
		x[c*d+c] = 1 / g[c*d+c]
		for i := c - 1; i >= 0; i-- {
			var s float64
			for k := i + 1; k <= c; k++ {
				s += g[i*d+k] * x[k*d+c]
			}
			x[i*d+c] = -s / g[i*d+i]
		}
	}
	out := make([]float64, n*d)
	gemm64(false, false, n, d, d, 1, v, d, x, d, 0, out, d)
	return out
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
	grown := 1 / (float64(n) * eps * norm)
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
		// From the second solve on, a growth ||(T − σI)⁻¹x|| >= grown of the
		// unit vector x (a residual ||(T − σI)x̂|| <= n·eps·norm for the
		// new x̂) ends the iteration early.
		for it := range 4 {
			scale(x, 1/math.Sqrt(tensor.Dot64(x, x)))
			f.solve(x)
			for range 2 {
				for _, q := range vecs[start:j] {
					tensor.Axpy64(-tensor.Dot64(q, x), q, x)
				}
			}
			if it >= 1 && tensor.Dot64(x, x) >= grown*grown {
				break
			}
		}
		scale(x, 1/math.Sqrt(tensor.Dot64(x, x)))
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
// symmetric tridiagonal T: U has three diagonals (u0 holds the reciprocals
// of the first, u1 and u2 the others) and L the multipliers mult with the
// row swaps swap.
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
	// The solves multiply by the reciprocal pivots (a division's latency
	// would sit on the back substitution's dependency chain).
	for i, v := range f.u0[:n] {
		f.u0[i] = 1 / v
	}
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
	y[n-1] *= f.u0[n-1]
	if n > 1 {
		y[n-2] = (y[n-2] - f.u1[n-2]*y[n-1]) * f.u0[n-2]
	}
	for i := n - 3; i >= 0; i-- {
		y[i] = (y[i] - f.u1[i]*y[i+1] - f.u2[i]*y[i+2]) * f.u0[i]
	}
}
