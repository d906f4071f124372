package tensor

import (
	"fmt"
	"math"
	"runtime"
)

// LinearCrossEntropy computes the softmax cross-entropy of the logits of a
// linear layer, z = h·wᵀ, and its gradients, without ever holding the m x n
// logits: it is the output layer of a recommender trained with full
// cross-entropy over its catalog (or of a classifier over many classes),
// where the logits would be far larger than anything else in the step.
//
// The zero value is ready to use. It keeps its buffers between calls, so
// that steady-state calls allocate nothing; it is not safe for concurrent
// use.
type LinearCrossEntropy struct {
	wt    []float32 // w packed for the logits: per tile of 24 items, d steps of 24 values
	wpad  []float32 // w with zero rows (and columns) padding it to whole tiles, when w cannot serve as it is
	a     []float32 // a chunk's rows packed for the logits: per 6 rows, d steps of 6 values
	z     []float32 // a chunk's logits, then their exponentials, in 6 x 24 tiles
	rmax  []float32 // per row of a chunk, 8 lanes of its running maximum
	hs    []float32 // a chunk's rows times scale, dp wide
	dhp   []float32 // the chunk's E·w, dp wide
	scale []float32 // per row of a chunk: g/Σ exp
	shift []float32 // per row of a chunk: its maximum, in 8 lanes
	sums  []float64 // per row of a chunk: Σ exp
	parts []xentPart
	job   xentJob
	// minWork overrides xentMinPartWork when not 0 (tests split small
	// problems with it).
	minWork int
}

// xentPart is the scratch of one part of a chunk's work (one goroutine's).
type xentPart struct {
	tile [xentMR * xentNB]float32 // a 6 x 16 block for the item gradient's edges
	loss float64
}

// The logits are computed and kept in tiles of xentMR rows x xentNR items;
// the two gradient products run on blocks of 6 x 16.
const (
	xentMR   = 6
	xentNR   = 24
	xentTile = xentMR * xentNR
	xentNB   = 16 // width of the gradient products' blocks
	// xentItemBlock is the number of tiles of items whose operands a chunk
	// keeps in the first-level cache at a time (4 tiles of w at d 64 are
	// 24 KiB).
	xentItemBlock = 4
	// xentMinPartWork is the multiply-adds (rows x items x d) of a chunk
	// below which it is not split over goroutines.
	xentMinPartWork = 1 << 21
)

// LossGrad computes, for the m rows of h (m x d, row stride d) against the
// n rows of w (n x d, row stride d), with logits z = h·wᵀ and targets[r] in
// [0, n) the class of row r,
//
//	L = Σ_r [log Σ_j exp(z_rj) − z_r,targets[r]]
//
// and returns it (a sum over rows, not a mean). It sets dh (m x d) to
// g·∂L/∂h and adds g·∂L/∂w into dw (n x d): g is the weight of every row in
// the caller's loss (1/m for a mean). chunk bounds the rows whose logits
// are held at once (about chunk·n float32 values, n rounded up to a
// multiple of 24): it is rounded down to a multiple of 6, and at least 6.
//
// The work is three products of m x n x d (the logits, the gradient with
// respect to h and the one with respect to w) and one exponential per
// logit; per chunk of rows, the logits are computed tile by tile (with the
// running row maxima as they go), exponentiated in place, and both
// gradient products read them from there. The exponential is ExpSum's, the
// sums are float64. On amd64 with AVX2 and FMA, assembly kernels compute
// the tiles; elsewhere, or with the purego build tag, portable Go loops
// compute the same.
//
// A NaN or an infinite logit gives a NaN loss. Operands that do not fit
// these shapes, or a target outside [0, n), panic with an error wrapping
// ErrShape.
func (x *LinearCrossEntropy) LossGrad(h []float32, m, d int, w []float32, n int, targets []int, g float32, chunk int, dh, dw []float32) float64 {
	if m < 0 || d < 1 || n < 1 || len(targets) != m {
		panic(fmt.Errorf("%w: LinearCrossEntropy m=%d d=%d n=%d with %d targets", ErrShape, m, d, n, len(targets)))
	}
	checkMatrix("LinearCrossEntropy", "h", m, d, len(h), d)
	checkMatrix("LinearCrossEntropy", "w", n, d, len(w), d)
	checkMatrix("LinearCrossEntropy", "dh", m, d, len(dh), d)
	checkMatrix("LinearCrossEntropy", "dw", n, d, len(dw), d)
	for r, t := range targets {
		if t < 0 || t >= n {
			panic(fmt.Errorf("%w: LinearCrossEntropy target %d of row %d outside [0, %d)", ErrShape, t, r, n))
		}
	}
	if m == 0 {
		return 0
	}
	return x.lossGrad(xentKern, h, m, d, w, n, targets, g, chunk, dh, dw)
}

// xentKernels are the four kernels of LinearCrossEntropy, in one set per
// implementation (assembly and portable Go) so that tests can run the
// driver with either, or with a broken one.
type xentKernels struct {
	name string
	// logits computes ntiles tiles of one tile row: tile t (c[t·ldt:]) is the
	// 6 x 24 product of a (6 rows, d steps of 6) and b[t·24·d:] (24
	// items, d steps of 24). With rmax not nil, rmax[8·i : 8·i+8] takes the
	// lane-wise maximum of row i of every tile (lane l over columns l and
	// l+8 and l+16).
	logits func(d int, a, b, c []float32, ntiles, ldt int, rmax []float32)
	// itemGrad computes the 6 x 16 block c (+)= Eᵀ·Hs over 6·nrb rows:
	// E's column i of row 6·rb+rr is e[rb·estride + rr·24 + i], Hs's row r
	// is hs[r·ldh : r·ldh+16]; c's row i is c[i·ldc : i·ldc+16]; acc adds.
	itemGrad func(nrb int, e []float32, estride int, hs []float32, ldh int, c []float32, ldc int, acc bool)
	// rowGrad computes the 6 x 16 block c (+)= E·W over 24·ntiles items:
	// E's row rr at item j is e[(j/24)·ldt + rr·24 + j%24], W's row j is
	// w[j·ldw : j·ldw+16]; c's row rr is c[rr·ldc : rr·ldc+16]; acc adds.
	rowGrad func(ntiles int, e []float32, ldt int, w []float32, ldw int, c []float32, ldc int, acc bool)
	// exp sets row i of the ntiles adjacent tiles z[144·t:] to exp(z −
	// shift[8·(6t+i)]) (shift[8·(6t+i):][:8] hold one value, at least every
	// element of the row) and adds their sum to sums[6t+i].
	exp func(z []float32, ntiles int, shift []float32, sums []float64)
}

// goXentKernels are the portable kernels (the reference the assembly ones
// are tested against).
var goXentKernels = xentKernels{name: "go", logits: xentLogitsGo, itemGrad: xentItemGradGo, rowGrad: xentRowGradGo, exp: xentExpGo}

func (x *LinearCrossEntropy) lossGrad(k *xentKernels, h []float32, m, d int, w []float32, n int, targets []int, g float32, chunk int, dh, dw []float32) float64 {
	nt := (n + xentNR - 1) / xentNR // tiles of items
	full := n / xentNR              // of them, whole ones
	dp := roundUp(d, xentNB)
	x.wt = grow(x.wt, nt*xentNR*d)
	packSlivers(x.wt, w, n, d, xentNR)
	// The row-side product reads w's rows as they are when they are
	// whole blocks wide; the last tile's missing rows (and every row's
	// missing columns when d is not) come from zero padding.
	wr, ldw, wlast := w, d, x.wpad
	if d%xentNB != 0 {
		x.wpad = grow(x.wpad, nt*xentNR*dp)
		clear(x.wpad)
		for j := range n {
			copy(x.wpad[j*dp:j*dp+d], w[j*d:(j+1)*d])
		}
		wr, ldw, wlast = x.wpad, dp, x.wpad[full*xentNR*dp:]
	} else if full < nt {
		x.wpad = grow(x.wpad, xentNR*d)
		clear(x.wpad)
		copy(x.wpad, w[full*xentNR*d:n*d])
		wlast = x.wpad
	}

	chunk = min(max(chunk/xentMR*xentMR, xentMR), roundUp(m, xentMR))
	x.a = grow(x.a, chunk*d)
	x.z = grow(x.z, chunk/xentMR*nt*xentTile)
	x.rmax = grow(x.rmax, chunk*8)
	x.hs = grow(x.hs, chunk*dp)
	x.dhp = grow(x.dhp, chunk*dp)
	x.scale = grow(x.scale, chunk)
	x.shift = grow(x.shift, chunk*8)
	x.sums = grow(x.sums, chunk)
	procs := runtime.GOMAXPROCS(0)
	if cap(x.parts) < procs {
		x.parts = make([]xentPart, procs)
	}
	ws := getWorkspace()
	defer putWorkspace(ws)
	var loss float64
	for lo := 0; lo < m; lo += chunk {
		mc := min(chunk, m-lo)
		nrb := (mc + xentMR - 1) / xentMR
		rows := h[lo*d : (lo+mc)*d]
		packSlivers(x.a, rows, mc, d, xentMR)
		for i := range x.rmax[:nrb*xentMR*8] {
			x.rmax[i] = float32(math.Inf(-1))
		}
		// Tile (rb, t) of the chunk's logits is at z[(t·nrb+rb)·144:]: a
		// column of tiles (every row against 24 items) is contiguous, as
		// the item-side gradient reads it.
		j := &x.job
		*j = xentJob{x: x, k: k, z: x.z[:nrb*nt*xentTile], ldt: nrb * xentTile, nrb: nrb, nt: nt, full: full,
			mc: mc, n: n, d: d, dp: dp, rows: rows, targets: targets[lo : lo+mc], g: g,
			wr: wr, ldw: ldw, wlast: wlast, dw: dw}
		minWork := xentMinPartWork
		if x.minWork > 0 {
			minWork = x.minWork
		}
		j.parts = max(1, min(procs, nrb, mc*n*d/minWork))
		for _, ph := range []int{xentLogits, xentSoftmax, xentGrads} {
			j.phase = ph
			runParts(j, j.parts, ws)
		}
		for p := range j.parts {
			loss += x.parts[p].loss
		}
		*j = xentJob{} // drop references to the caller's slices
		// dh = scale·E·w − g·w_target, and the one-hot part of dw.
		for r := range mc {
			t := targets[lo+r]
			sc, wt := x.scale[r], w[t*d:(t+1)*d]
			out, src := dh[(lo+r)*d:(lo+r+1)*d], x.dhp[r*dp:r*dp+d]
			for i := range out {
				out[i] = sc*src[i] - g*wt[i]
			}
			Axpy(-g, rows[r*d:(r+1)*d], dw[t*d:(t+1)*d])
		}
	}
	return loss
}

// The phases of a chunk; each is split into parts over disjoint rows (or
// items), and each waits for the one before.
const (
	xentLogits  = iota // the logits and the rows' running maxima
	xentSoftmax        // exponentials, sums, loss, scaled rows
	xentGrads          // E·w for the part's rows, Eᵀ·hs for its items
)

// xentJob is one chunk of LinearCrossEntropy's work: rows [lo, lo+mc) of
// h against all of w.
type xentJob struct {
	x                  *LinearCrossEntropy
	k                  *xentKernels
	phase, parts       int
	z                  []float32
	ldt, nrb, nt, full int
	mc, n, d, dp       int
	rows               []float32
	targets            []int
	g                  float32
	wr, wlast, dw      []float32
	ldw                int
}

// span returns part p's share [lo, hi) of count units.
func (j *xentJob) span(count, p int) (int, int) {
	return count * p / j.parts, count * (p + 1) / j.parts
}

func (j *xentJob) part(_ *workspace, p int) {
	rb0, rb1 := j.span(j.nrb, p)
	switch j.phase {
	case xentLogits:
		j.logits(rb0, rb1)
	case xentSoftmax:
		j.x.parts[p].loss = j.softmaxRows(rb0, rb1)
		j.scaleRows(rb0, rb1)
	case xentGrads:
		j.rowGrads(rb0, rb1)
		t0, t1 := j.span(j.nt, p)
		j.itemGrads(&j.x.parts[p], t0, t1)
	}
}

// logits computes the tiles of row blocks [rb0, rb1), a block of item tiles
// at a time against every row block, so that the block of w stays in the
// first-level cache.
func (j *xentJob) logits(rb0, rb1 int) {
	x, k, d := j.x, j.k, j.d
	for jb := 0; jb < j.full; jb += xentItemBlock {
		nb := min(xentItemBlock, j.full-jb)
		for rb := rb0; rb < rb1; rb++ {
			k.logits(d, x.a[rb*xentMR*d:], x.wt[jb*xentNR*d:], j.z[(jb*j.nrb+rb)*xentTile:], nb, j.ldt, x.rmax[rb*xentMR*8:])
		}
	}
	if j.full < j.nt { // the last tile's padding columns stay out of the maxima
		for rb := rb0; rb < rb1; rb++ {
			k.logits(d, x.a[rb*xentMR*d:], x.wt[j.full*xentNR*d:], j.z[(j.full*j.nrb+rb)*xentTile:], 1, j.ldt, nil)
		}
	}
}

// packSlivers packs the rows rows of width d into dst as slivers of width
// rows each (sliver s: d steps of width values, row s·width+i at i), zero
// past the last row: the logits' layout of both of their operands.
func packSlivers(dst, src []float32, rows, d, width int) {
	for s := 0; s*width < rows; s++ {
		q := dst[s*width*d : (s+1)*width*d]
		n := min(width, rows-s*width)
		if n < width {
			clear(q)
		}
		for i := range n {
			for p, v := range src[(s*width+i)*d : (s*width+i+1)*d] {
				q[p*width+i] = v
			}
		}
	}
}

// softmaxRows turns the rows of row blocks [rb0, rb1) into their
// exponentials shifted by the row maximum (the last tile's padding stays
// 0; padding rows become 1, harmless as their hs rows are 0), sets
// x.scale[r] = g/Σ_j exp, and returns their loss. The tiles go in memory
// order, a column of tiles at a time.
func (j *xentJob) softmaxRows(rb0, rb1 int) float64 {
	x := j.x
	r0, r1 := rb0*xentMR, rb1*xentMR
	var loss float64
	for r := r0; r < r1; r++ {
		mx := float32(0)
		if r < j.mc {
			mx = float32(math.Inf(-1))
			for _, v := range x.rmax[r*8 : r*8+8] {
				mx = max(mx, v)
			}
			for _, v := range j.lastTile(r) {
				mx = max(mx, v)
			}
			loss -= float64(j.z[j.at(r, j.targets[r])]) // before the exponentials overwrite it
		}
		for l := range 8 {
			x.shift[r*8+l] = mx
		}
		x.sums[r] = 0
	}
	for t := range j.full {
		j.k.exp(j.z[t*j.ldt+rb0*xentTile:], rb1-rb0, x.shift[r0*8:], x.sums[r0:])
	}
	for r := r0; r < min(r1, j.mc); r++ {
		mx, s := x.shift[r*8], x.sums[r]
		last := j.lastTile(r)
		for q, v := range last {
			e := exp32(v - mx)
			last[q] = e
			s += float64(e)
		}
		x.scale[r] = float32(float64(j.g) / s)
		loss += math.Log(s) + float64(mx)
	}
	return loss
}

// at returns the index in j.z of row r's logit of item t.
func (j *xentJob) at(r, t int) int {
	return t/xentNR*j.ldt + r/xentMR*xentTile + r%xentMR*xentNR + t%xentNR
}

// lastTile returns row r's logits of the partial last tile (none when the
// items fill whole tiles).
func (j *xentJob) lastTile(r int) []float32 {
	rest := j.n - j.full*xentNR
	if rest == 0 {
		return nil
	}
	o := j.at(r, j.full*xentNR)
	return j.z[o : o+rest]
}

// scaleRows sets the rows of x.hs in row blocks [rb0, rb1) (dp wide) to the
// chunk's rows times their scale, zero in the padding rows and columns.
func (j *xentJob) scaleRows(rb0, rb1 int) {
	x, d, dp := j.x, j.d, j.dp
	for r := rb0 * xentMR; r < rb1*xentMR; r++ {
		dst := x.hs[r*dp : (r+1)*dp]
		if r >= j.mc {
			clear(dst)
			continue
		}
		sc := x.scale[r]
		for i, v := range j.rows[r*d : (r+1)*d] {
			dst[i] = sc * v
		}
		clear(dst[d:])
	}
}

// rowGrads sets x.dhp's rows in row blocks [rb0, rb1) to E·w, a block of
// item tiles at a time (so that the block of w stays in the first-level
// cache): w's rows from j.wr (ldw apart), the partial last tile's from
// j.wlast.
func (j *xentJob) rowGrads(rb0, rb1 int) {
	dp, ldw := j.dp, j.ldw
	for jb := 0; jb < j.nt; jb += xentItemBlock {
		nb := min(xentItemBlock, j.nt-jb)
		whole := max(0, min(jb+nb, j.full)-jb) // whole tiles in the block
		for rb := rb0; rb < rb1; rb++ {
			e := j.z[(jb*j.nrb+rb)*xentTile:]
			for f := 0; f < dp; f += xentNB {
				c := j.x.dhp[rb*xentMR*dp+f:]
				if whole > 0 {
					j.k.rowGrad(whole, e, j.ldt, j.wr[jb*xentNR*ldw+f:], ldw, c, dp, jb > 0)
				}
				if whole < nb {
					j.k.rowGrad(1, e[whole*j.ldt:], j.ldt, j.wlast[f:], ldw, c, dp, jb > 0 || whole > 0)
				}
			}
		}
	}
}

// itemGrads adds Eᵀ·hs for the items of tiles [t0, t1) into dw, 6 items x
// 16 columns at a time; blocks that reach past item n or column d go
// through the part's scratch tile.
func (j *xentJob) itemGrads(pt *xentPart, t0, t1 int) {
	d, dp, n := j.d, j.dp, j.n
	// Per tile, the columns outside and the items inside: the column block
	// of hs stays in the first-level cache for the tile's four groups of
	// six items.
	for t := t0; t < t1; t++ {
		for f := 0; f < dp; f += xentNB {
			for q := 0; q < xentNR; q += xentMR {
				j0 := t*xentNR + q
				items := min(xentMR, n-j0)
				if items <= 0 {
					break
				}
				e := j.z[t*j.nrb*xentTile+q:]
				if items == xentMR && f+xentNB <= d {
					j.k.itemGrad(j.nrb, e, xentTile, j.x.hs[f:], dp, j.dw[j0*d+f:], d, true)
					continue
				}
				j.k.itemGrad(j.nrb, e, xentTile, j.x.hs[f:], dp, pt.tile[:], xentNB, false)
				cols := min(xentNB, d-f)
				for i := range items {
					dst := j.dw[(j0+i)*d+f : (j0+i)*d+f+cols]
					for c, v := range pt.tile[i*xentNB : i*xentNB+cols] {
						dst[c] += v
					}
				}
			}
		}
	}
}

func xentLogitsGo(d int, a, b, c []float32, ntiles, ldt int, rmax []float32) {
	a = a[:xentMR*d]
	for t := range ntiles {
		bt := b[t*xentNR*d : (t+1)*xentNR*d]
		ct := c[t*ldt : t*ldt+xentTile]
		var acc [xentMR][xentNR]float32
		for p := range d {
			ap, bp := a[p*xentMR:(p+1)*xentMR], bt[p*xentNR:(p+1)*xentNR]
			for i, av := range ap {
				row := &acc[i]
				for j, bv := range bp {
					row[j] += av * bv
				}
			}
		}
		for i := range acc {
			copy(ct[i*xentNR:(i+1)*xentNR], acc[i][:])
			if rmax != nil {
				mx := rmax[i*8 : i*8+8]
				for j, v := range acc[i] {
					if v > mx[j%8] {
						mx[j%8] = v
					}
				}
			}
		}
	}
}

func xentItemGradGo(nrb int, e []float32, estride int, hs []float32, ldh int, c []float32, ldc int, acc bool) {
	var s [xentMR][xentNB]float32
	for rb := range nrb {
		for rr := range xentMR {
			hr := hs[(rb*xentMR+rr)*ldh : (rb*xentMR+rr)*ldh+xentNB]
			er := e[rb*estride+rr*xentNR : rb*estride+rr*xentNR+xentMR]
			for i, ev := range er {
				for j, hv := range hr {
					s[i][j] += ev * hv
				}
			}
		}
	}
	storeBlock6x16(s, c, ldc, acc)
}

func xentRowGradGo(ntiles int, e []float32, ldt int, w []float32, ldw int, c []float32, ldc int, acc bool) {
	var s [xentMR][xentNB]float32
	for j := range ntiles * xentNR {
		wj := w[j*ldw : j*ldw+xentNB]
		for rr := range xentMR {
			ev := e[j/xentNR*ldt+rr*xentNR+j%xentNR]
			for f, wv := range wj {
				s[rr][f] += ev * wv
			}
		}
	}
	storeBlock6x16(s, c, ldc, acc)
}

// storeBlock6x16 adds (acc) or writes s into the rows of c, ldc apart.
func storeBlock6x16(s [xentMR][xentNB]float32, c []float32, ldc int, acc bool) {
	for i := range s {
		dst := c[i*ldc : i*ldc+xentNB]
		if !acc {
			copy(dst, s[i][:])
			continue
		}
		for j, v := range s[i] {
			dst[j] += v
		}
	}
}

func xentExpGo(z []float32, ntiles int, shift []float32, sums []float64) {
	for t := range ntiles {
		for i := range xentMR {
			p := z[t*xentTile+i*xentNR : t*xentTile+(i+1)*xentNR]
			sh := shift[(t*xentMR+i)*8]
			var s float64
			for q, v := range p {
				e := exp32(v - sh)
				p[q] = e
				s += float64(e)
			}
			sums[t*xentMR+i] += s
		}
	}
}
