package backbone

// Scoring kernels of the Recommender.
//
// The item table is kept packed in panels of panelW items: panel p holds,
// for every dimension k, the k-th component of items panelW·p ..
// panelW·p+panelW-1 next to each other (p·panelW·d + k·panelW + j), padded
// with zero items to a multiple of blockW items. Scoring a user is then a
// GEMV whose inner loop loads panelW contiguous floats per dimension (one
// broadcast of h[k], several vector multiply-adds), and scoring a group of
// users is a register-blocked GEMM that reads every panel once per group.
//
// Every score, whichever kernel computes it (one user, a group of users,
// one candidate in Score, the assembly or the portable Go), is the same
// float32 arithmetic: s = 0; for k in 0..d-1: s = s + round32(h[k]·e[k]).
// So TopK, TopKBatch and Score agree bit for bit.

const (
	// panelW is the number of items of a panel (two AVX registers).
	panelW = 16
	// blockW is the number of items one GEMV kernel call scores (four
	// panels, eight independent accumulators).
	blockW = 64
	// groupH is the number of users one GEMM kernel call scores.
	groupH = 4
)

// packedItems is an item table packed for the kernels (see above).
type packedItems struct {
	data []float32 // nBlocks·blockW·d floats
	d    int
	n1   int // rows of the table (NumItems+1)
	pad  int // n1 rounded up to blockW
}

// packItems packs the (n1 x d) row-major table tab.
func packItems(tab []float32, n1, d int) *packedItems {
	pad := (n1 + blockW - 1) / blockW * blockW
	p := &packedItems{data: make([]float32, pad*d), d: d, n1: n1, pad: pad}
	p.fill(tab, 0, n1)
	return p
}

// fill packs rows lo..hi-1 of tab (row-major, d wide, indexed from 0).
func (p *packedItems) fill(tab []float32, lo, hi int) {
	d := p.d
	for it := lo; it < hi; it++ {
		base := (it/panelW)*panelW*d + it%panelW
		row := tab[it*d : (it+1)*d]
		for k, v := range row {
			p.data[base+k*panelW] = v
		}
	}
}

// dotSeq is the scoring arithmetic for one item: the sum of the rounded
// products, in order (the explicit conversion forbids fusing the multiply
// and the add, so every platform rounds the same way).
func dotSeq(h, e []float32) float32 {
	var s float32
	e = e[:len(h)]
	for k, v := range h {
		s += float32(v * e[k])
	}
	return s
}

// scoreOne writes the scores of items 0..pad-1 for the hidden state h
// (len d) into out (len >= pad).
func (p *packedItems) scoreOne(h, out []float32) {
	d := p.d
	_ = h[d-1]
	_ = out[p.pad-1]
	for b := 0; b < p.pad; b += blockW {
		score1xBlock(d, h, p.data[b*d:(b+blockW)*d], out[b:b+blockW])
	}
}

// scoreGroup writes, for groupH hidden states (rows of h, d apart), the
// scores of items lo..hi-1 (multiples of panelW) into out: row u at
// out[u·ldo + it - lo].
func (p *packedItems) scoreGroup(h []float32, lo, hi int, out []float32, ldo int) {
	d := p.d
	_ = h[groupH*d-1]
	for it := lo; it < hi; it += panelW {
		score4xPanel(d, h, p.data[it*d:(it+panelW)*d], out[it-lo:], ldo)
	}
}

// score1xBlockGo is the portable GEMV kernel: blockW items for one user.
func score1xBlockGo(d int, h, panels, out []float32) {
	var acc [blockW]float32
	for q := 0; q < blockW/panelW; q++ {
		pan := panels[q*panelW*d : (q+1)*panelW*d]
		a := acc[q*panelW : (q+1)*panelW]
		for k := 0; k < d; k++ {
			hk := h[k]
			row := pan[k*panelW : (k+1)*panelW]
			for j := range a {
				a[j] += float32(hk * row[j])
			}
		}
	}
	copy(out[:blockW], acc[:])
}

// score4xPanelGo is the portable GEMM kernel: one panel for groupH users.
func score4xPanelGo(d int, h, panel, out []float32, ldo int) {
	for u := 0; u < groupH; u++ {
		var a [panelW]float32
		hu := h[u*d : (u+1)*d]
		for k, hk := range hu {
			row := panel[k*panelW : (k+1)*panelW]
			for j := range a {
				a[j] += float32(hk * row[j])
			}
		}
		copy(out[u*ldo:u*ldo+panelW], a[:])
	}
}
