package backbone

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// refScore is the scoring arithmetic written out in float64-free scalar Go,
// independently of the kernels: s = s + round32(h[k]·e[k]) in order.
func refScore(h, e []float32) float32 {
	var s float32
	for k := range h {
		p := h[k] * e[k]
		s = s + p
	}
	return s
}

// The packed kernels (assembly where available, and the portable Go ones)
// give every item the same float32 arithmetic as a scalar loop, bit for
// bit, for widths that are and are not multiples of the vector width, and
// tables whose size is not a multiple of a panel.
func TestPackedKernelsMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, d := range []int{1, 3, 8, 17, 64, 65} {
		for _, n1 := range []int{1, 15, 64, 65, 200} {
			tab := make([]float32, n1*d)
			for i := range tab {
				tab[i] = float32(rng.NormFloat64())
			}
			p := packItems(tab, n1, d)
			require.Equal(t, 0, p.pad%blockW)
			h := make([]float32, groupH*d)
			for i := range h {
				h[i] = float32(rng.NormFloat64())
			}
			want := make([]float32, groupH*n1)
			for u := range groupH {
				for it := range n1 {
					want[u*n1+it] = refScore(h[u*d:(u+1)*d], tab[it*d:(it+1)*d])
				}
			}
			one := make([]float32, p.pad)
			p.scoreOne(h[:d], one)
			require.Equal(t, want[:n1], one[:n1], "GEMV d=%d n1=%d", d, n1)
			for _, v := range one[n1:] {
				require.Zero(t, v) // padding items score 0
			}
			grp := make([]float32, groupH*p.pad)
			p.scoreGroup(h, 0, p.pad, grp, p.pad)
			goOne := make([]float32, p.pad)
			goGrp := make([]float32, groupH*p.pad)
			for b := 0; b < p.pad; b += blockW {
				score1xBlockGo(d, h[:d], p.data[b*d:(b+blockW)*d], goOne[b:])
			}
			for it := 0; it < p.pad; it += panelW {
				score4xPanelGo(d, h, p.data[it*d:(it+panelW)*d], goGrp[it:], p.pad)
			}
			require.Equal(t, one, goOne, "Go GEMV d=%d n1=%d", d, n1)
			require.Equal(t, grp, goGrp, "Go GEMM d=%d n1=%d", d, n1)
			for u := range groupH {
				require.Equal(t, want[u*n1:(u+1)*n1], grp[u*p.pad:u*p.pad+n1], "GEMM user %d d=%d n1=%d", u, d, n1)
				for it := range n1 {
					require.Equal(t, want[u*n1+it], dotSeq(h[u*d:(u+1)*d], tab[it*d:(it+1)*d]))
				}
			}
		}
	}
	// a NaN in the table reaches only its item's score
	tab := make([]float32, 40*8)
	tab[17*8+3] = float32(math.NaN())
	p := packItems(tab, 40, 8)
	s := make([]float32, p.pad)
	p.scoreOne([]float32{1, 1, 1, 1, 1, 1, 1, 1}, s)
	for it, v := range s {
		require.Equal(t, it == 17, math.IsNaN(float64(v)), "item %d", it)
	}
}
