package tensor

import "sync"

// float is the element type of the packed GEMM: Gemm runs it on float32,
// Gemm64 on float64, through one driver.
type float interface{ float32 | float64 }

// Default cache blocking of the packed GEMM (the BLIS loop nest): a kc x nc
// panel of op(B) is packed once per (jc, pc) block and stays in L2/L3, an
// mc x kc panel of op(A) is packed per (ic, pc) block and stays in L2, and
// the micro-kernel streams mr x kc slivers of A against kc x nr slivers of B
// from L1, keeping an mr x nr tile of C in registers. A kernel may set its
// own blocks (wider elements or tiles fill the caches sooner).
const (
	gemmKC = 256
	gemmMC = 96
	gemmNC = 2048
)

// microKernel describes one register-blocked micro-kernel and the cache
// blocks it runs with. fn computes the full mr x nr tile C = alpha·Â·B̂ +
// beta·C from packed slivers a (kc·mr values, column-major in mr) and b
// (kc·nr values, row-major in nr); when beta is 0, C is only written. c
// starts at the tile's top-left element and has row stride ldc.
type microKernel[T float] struct {
	name       string // for tests and benchmarks
	mr, nr     int
	kc, mc, nc int
	fn         func(kc int, a, b, c []T, ldc int, alpha, beta T)
	// tail, when set, is a narrower kernel with the same mr (and blocks)
	// for the last columns of a product when they fill at most tail.nr of
	// the nr columns: a full-width kernel would spend most of its work on
	// zero padding there.
	tail *microKernel[T]
}

// forCols returns the kernel that computes a sliver of nw <= nr columns.
func (k *microKernel[T]) forCols(nw int) *microKernel[T] {
	if k.tail != nil && nw <= k.tail.nr {
		return k.tail
	}
	return k
}

// gemmBufs are the packing buffers (and the split-job record) of one element
// type in a workspace.
type gemmBufs[T float] struct {
	a, b, tile []T
	split      splitJob[T]
	upper      upperJob[T]
}

// workspace holds the buffers one goroutine needs; it is recycled through a
// sync.Pool so steady-state products allocate nothing.
type workspace struct {
	f32 gemmBufs[float32]
	f64 gemmBufs[float64]
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

func getWorkspace() *workspace  { return workspaces.Get().(*workspace) }
func putWorkspace(w *workspace) { workspaces.Put(w) }

// bufs returns ws's buffers for element type T.
func bufs[T float](ws *workspace) *gemmBufs[T] {
	if p, ok := any(&ws.f32).(*gemmBufs[T]); ok {
		return p
	}
	return any(&ws.f64).(*gemmBufs[T])
}

func grow[T float](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// gemmSerial computes the whole product on the calling goroutine. It expects
// m, n > 0 and validated operands. With pre non-nil, op(A) is read from its
// pre-packed slivers (a, lda and transA are then unused).
func gemmSerial[T float](ws *workspace, kern *microKernel[T], pre *packedView[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	mr, nr := kern.mr, kern.nr
	KC, MC, NC := kern.kc, kern.mc, kern.nc
	kcMax := min(k, KC)
	ncMax := min(roundUp(n, nr), NC)
	mcMax := min(roundUp(m, mr), MC)
	w := bufs[T](ws)
	w.b = grow(w.b, kcMax*ncMax)
	if pre == nil {
		w.a = grow(w.a, kcMax*mcMax)
	}
	w.tile = grow(w.tile, mr*nr)
	for jc := 0; jc < n; jc += NC {
		nc := min(NC, n-jc)
		for pc := 0; pc < k; pc += KC {
			kc := min(KC, k-pc)
			packB(w.b, transB, b, ldb, pc, jc, kc, nc, kern)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			for ic := 0; ic < m; ic += MC {
				mc := min(MC, m-ic)
				if pre == nil {
					packA(w.a, transA, a, lda, ic, pc, mc, kc, mr)
				}
				for jr := 0; jr < nc; jr += nr {
					nw := min(nr, nc-jr)
					kn := kern.forCols(nw)
					bp := w.b[jr*kc : jr*kc+kn.nr*kc]
					for ir := 0; ir < mc; ir += mr {
						mh := min(mr, mc-ir)
						var ap []T
						if pre == nil {
							ap = w.a[ir*kc : (ir+mr)*kc]
						} else {
							ap = pre.sliver(ic+ir, pc, kc)
						}
						co := (ic+ir)*ldc + jc + jr
						if mh == mr && nw == kn.nr {
							kn.fn(kc, ap, bp, c[co:], ldc, alpha, bet)
							continue
						}
						// Edge tile: compute the full tile into scratch from
						// zero-padded packs and merge the valid part.
						kn.fn(kc, ap, bp, w.tile, kn.nr, alpha, 0)
						for i := 0; i < mh; i++ {
							mergeTile(c[co+i*ldc:co+i*ldc+nw], w.tile[i*kn.nr:i*kn.nr+nw], bet)
						}
					}
				}
			}
		}
	}
}

// mergeTile sets dst = bet·dst + t (dst = t when bet is 0: old NaN
// ignored), for one row of a tile computed into scratch.
func mergeTile[T float](dst, t []T, bet T) {
	if bet == 0 {
		copy(dst, t)
		return
	}
	dst = dst[:len(t)]
	for j, v := range t {
		dst[j] = bet*dst[j] + v
	}
}

// scaleC sets C = beta·C, with beta == 0 clearing C (NaN included).
func scaleC[T float](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(cr)
		case 1:
		default:
			for j := range cr {
				cr[j] *= beta
			}
		}
	}
}

// packA copies the mc x kc block of op(A) at (ic, pc) into dst as slivers of
// mr rows: sliver s holds, for each p, the mr values op(A)[ic+s·mr+r, pc+p]
// contiguously; rows past mc are zero.
func packA[T float](dst []T, transA bool, a []T, lda, ic, pc, mc, kc, mr int) {
	for s := 0; s < mc; s += mr {
		d := dst[s*kc : (s+mr)*kc]
		rows := min(mr, mc-s)
		if rows < mr {
			clear(d)
		}
		if transA {
			// op(A)[i,p] = a[p*lda+i]: each p is a contiguous run of rows.
			if rows == 6 && mr == 6 {
				for p := 0; p < kc; p++ {
					o := (pc+p)*lda + ic + s
					src, q := a[o:o+6:o+6], d[p*6:p*6+6:p*6+6]
					q[0], q[1], q[2], q[3], q[4], q[5] = src[0], src[1], src[2], src[3], src[4], src[5]
				}
				continue
			}
			for p := 0; p < kc; p++ {
				src := a[(pc+p)*lda+ic+s:]
				copy(d[p*mr:p*mr+rows], src[:rows])
			}
			continue
		}
		r := 0
		if rows == 6 && mr == 6 {
			// The assembly kernels' sliver: six rows read side by side,
			// each p one contiguous write of six values.
			o := (ic+s)*lda + pc
			r0 := a[o : o+kc]
			r1, r2 := a[o+lda:o+lda+kc], a[o+2*lda:o+2*lda+kc]
			r3, r4 := a[o+3*lda:o+3*lda+kc], a[o+4*lda:o+4*lda+kc]
			r5 := a[o+5*lda : o+5*lda+kc]
			for p := range r0 {
				q := d[p*6 : p*6+6 : p*6+6]
				q[0], q[1], q[2], q[3], q[4], q[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
			continue
		}
		if mr%4 == 0 || mr%4 == 2 {
			// Two rows at a time: fewer passes over the strided destination.
			for ; r+2 <= rows; r += 2 {
				o0 := (ic+s+r)*lda + pc
				r0, r1 := a[o0:o0+kc], a[o0+lda:o0+lda+kc]
				dd := d[r:]
				for p := range r0 {
					dd[p*mr] = r0[p]
					dd[p*mr+1] = r1[p]
				}
			}
		}
		for ; r < rows; r++ {
			src := a[(ic+s+r)*lda+pc:]
			src = src[:kc]
			for p, v := range src {
				d[p*mr+r] = v
			}
		}
	}
}

// packB copies the kc x nc block of op(B) at (pc, jc) into dst as slivers of
// kern.nr columns: sliver s holds, for each p, the nr values
// op(B)[pc+p, jc+s·nr+j] contiguously; columns past nc are zero. The last
// sliver has the width of the kernel that will compute it (kern.forCols).
func packB[T float](dst []T, transB bool, b []T, ldb, pc, jc, kc, nc int, kern *microKernel[T]) {
	for s := 0; s < nc; s += kern.nr {
		cols := min(kern.nr, nc-s)
		nr := kern.forCols(cols).nr
		d := dst[s*kc : (s+nr)*kc]
		if cols < nr {
			clear(d)
		}
		if !transB {
			for p := 0; p < kc; p++ {
				src := b[(pc+p)*ldb+jc+s:]
				copy(d[p*nr:p*nr+cols], src[:cols])
			}
			continue
		}
		// op(B)[p,j] = b[j*ldb+p]: each j is a contiguous run of p.
		j := 0
		if nr%4 == 0 {
			// Four columns at a time: each p writes four adjacent values.
			for ; j+4 <= cols; j += 4 {
				o0 := (jc+s+j)*ldb + pc
				r0, r1 := b[o0:o0+kc], b[o0+ldb:o0+ldb+kc]
				r2, r3 := b[o0+2*ldb:o0+2*ldb+kc], b[o0+3*ldb:o0+3*ldb+kc]
				for p := range r0 {
					q := d[p*nr+j : p*nr+j+4 : p*nr+j+4]
					q[0], q[1], q[2], q[3] = r0[p], r1[p], r2[p], r3[p]
				}
			}
		}
		for ; j < cols; j++ {
			src := b[(jc+s+j)*ldb+pc:]
			src = src[:kc]
			for p, v := range src {
				d[p*nr+j] = v
			}
		}
	}
}
