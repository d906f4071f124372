package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// xentReference is LinearCrossEntropy written the straightforward way, in
// float64: every logit, a log-softmax per row, and the gradient g·(softmax
// − onehot) pushed through the product by hand. It returns the loss and
// the gradients dh (m x d) and dw (n x d).
func xentReference(h []float32, m, d int, w []float32, n int, targets []int, g float64) (float64, []float64, []float64) {
	dh, dw := make([]float64, m*d), make([]float64, n*d)
	var loss float64
	z := make([]float64, n)
	for r := range m {
		mx := math.Inf(-1)
		for j := range n {
			z[j] = 0
			for p := range d {
				z[j] += float64(h[r*d+p]) * float64(w[j*d+p])
			}
			mx = math.Max(mx, z[j])
		}
		var s float64
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		loss += mx + math.Log(s) - z[targets[r]]
		for j := range n {
			p := math.Exp(z[j]-mx) / s
			if j == targets[r] {
				p--
			}
			p *= g
			for q := range d {
				dh[r*d+q] += p * float64(w[j*d+q])
				dw[j*d+q] += p * float64(h[r*d+q])
			}
		}
	}
	return loss, dh, dw
}

// relErr returns max_i |got_i − base_i − want_i| / max_i |want_i| (base may
// be nil: zero).
func relErr(got, base []float32, want []float64) float64 {
	var diff, scale float64
	for i, w := range want {
		b := 0.0
		if base != nil {
			b = float64(base[i])
		}
		diff = math.Max(diff, math.Abs(float64(got[i])-b-w))
		scale = math.Max(scale, math.Abs(w))
	}
	return diff / scale
}

// xentCase is one random problem.
type xentCase struct {
	m, d, n, chunk int
	// hScale scales h (1 when 0): 25 gives logits beyond 88, whose
	// exponential overflows float32 unless shifted by the row maximum.
	hScale float64
}

func (c xentCase) String() string {
	return fmt.Sprintf("m%d_d%d_n%d_chunk%d_x%g", c.m, c.d, c.n, c.chunk, c.hScale)
}

// xentOperands draws a problem: h, w, targets, and gradient buffers that
// already hold values (dw must be added to).
func xentOperands(rng *rand.Rand, c xentCase) (h, w []float32, targets []int, dw0 []float32) {
	h, w = make([]float32, c.m*c.d), make([]float32, c.n*c.d)
	hs := c.hScale
	if hs == 0 {
		hs = 1
	}
	for i := range h {
		h[i] = float32(rng.NormFloat64() * hs)
	}
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 1.5 / math.Sqrt(float64(c.d)))
	}
	targets = make([]int, c.m)
	for i := range targets {
		targets[i] = rng.IntN(c.n)
	}
	if c.m > 0 {
		targets[0] = c.n - 1 // the last item, in the padded tile
	}
	dw0 = make([]float32, c.n*c.d)
	for i := range dw0 {
		dw0[i] = float32(rng.NormFloat64())
	}
	return h, w, targets, dw0
}

// xentCases cover widths that are and are not multiples of the 16-wide
// blocks, catalogs below one tile, of whole tiles and with a partial last
// tile, row counts that are and are not multiples of 6 and chunks that do
// and do not divide them.
var xentCases = []xentCase{
	{13, 6, 37, 3, 0},
	{13, 6, 37, 100, 0},
	{7, 16, 5, 4, 0},
	{12, 64, 48, 6, 0},
	{20, 64, 101, 7, 0},
	{31, 24, 200, 12, 0},
	{6, 1, 30, 6, 0},
	{9, 33, 77, 18, 0},
	{40, 64, 300, 13, 0},
	{15, 64, 300, 12, 25},
}

// runXent runs the driver with kernels k on a copy of the gradient buffers.
func runXent(k *xentKernels, x *LinearCrossEntropy, c xentCase, h, w []float32, targets []int, g float32, dw0 []float32) (float64, []float32, []float32) {
	dh := make([]float32, c.m*c.d)
	for i := range dh {
		dh[i] = float32(math.NaN()) // dh is set, not added to
	}
	dw := append([]float32(nil), dw0...)
	l := x.lossGrad(k, h, c.m, c.d, w, c.n, targets, g, c.chunk, dh, dw)
	return l, dh, dw
}

// TestLinearCrossEntropyMatchesReference compares the loss and both
// gradients with the float64 reference to 1e-5, for the kernels this CPU
// runs and the portable ones, twice on one workspace (the second run
// reuses grown buffers), with each chunk on one goroutine and split into
// as many parts as GOMAXPROCS allows (go test -cpu 1,2,4 varies it).
func TestLinearCrossEntropyMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 1))
	for _, k := range []*xentKernels{xentKern, &goXentKernels} {
		for _, split := range []bool{false, true} {
			testXentCases(t, rng, k, split)
		}
	}
}

// testXentCases runs every case of xentCases through the driver with k
// (split: into as many parts as GOMAXPROCS allows) against the reference.
func testXentCases(t *testing.T, rng *rand.Rand, k *xentKernels, split bool) {
	var x LinearCrossEntropy
	if split {
		x.minWork = 1
	}
	for _, c := range xentCases {
		h, w, targets, dw0 := xentOperands(rng, c)
		g := 1 / float32(c.m)
		wantL, wantDh, wantDw := xentReference(h, c.m, c.d, w, c.n, targets, float64(g))
		for rep := range 2 {
			l, dh, dw := runXent(k, &x, c, h, w, targets, g, dw0)
			assert.InDelta(t, wantL, l, 1e-5*wantL, "%s %v split %v rep %d: loss", k.name, c, split, rep)
			assert.Less(t, relErr(dh, nil, wantDh), 1e-5, "%s %v split %v rep %d: dh", k.name, c, split, rep)
			assert.Less(t, relErr(dw, dw0, wantDw), 1e-5, "%s %v split %v rep %d: dw", k.name, c, split, rep)
		}
	}
}

// TestLinearCrossEntropyPublic checks the exported entry point on one case
// (and that it agrees with the reference), its shape errors, and that no
// rows is no loss and no change.
func TestLinearCrossEntropyPublic(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 2))
	c := xentCase{10, 64, 50, 4, 0}
	h, w, targets, dw0 := xentOperands(rng, c)
	wantL, wantDh, wantDw := xentReference(h, c.m, c.d, w, c.n, targets, 0.5)
	var x LinearCrossEntropy
	dh, dw := make([]float32, c.m*c.d), append([]float32(nil), dw0...)
	l := x.LossGrad(h, c.m, c.d, w, c.n, targets, 0.5, c.chunk, dh, dw)
	assert.InDelta(t, wantL, l, 1e-5*wantL)
	assert.Less(t, relErr(dh, nil, wantDh), 1e-5)
	assert.Less(t, relErr(dw, dw0, wantDw), 1e-5)

	assert.Equal(t, 0.0, x.LossGrad(nil, 0, c.d, w, c.n, nil, 1, 8, nil, dw))
	bad := append([]int(nil), targets...)
	bad[3] = c.n
	assert.PanicsWithError(t, "tensor: shape mismatch: LinearCrossEntropy target 50 of row 3 outside [0, 50)", func() {
		x.LossGrad(h, c.m, c.d, w, c.n, bad, 1, 8, dh, dw)
	})
	assert.Panics(t, func() { x.LossGrad(h[:5], c.m, c.d, w, c.n, targets, 1, 8, dh, dw) })
	assert.Panics(t, func() { x.LossGrad(h, c.m, c.d, w, c.n, targets[:3], 1, 8, dh, dw) })
}

// TestLinearCrossEntropyNonFinite checks that a NaN input or a logit that
// overflows float32 gives a NaN loss, with either kernel set.
func TestLinearCrossEntropyNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 3))
	c := xentCase{8, 16, 60, 6, 0}
	for _, k := range []*xentKernels{xentKern, &goXentKernels} {
		for _, item := range []int{3, 55} { // a whole tile and the partial one
			h, w, targets, dw0 := xentOperands(rng, c)
			var x LinearCrossEntropy
			h[2*c.d+1] = float32(math.NaN())
			l, _, _ := runXent(k, &x, c, h, w, targets, 1, dw0)
			assert.True(t, math.IsNaN(l), "%s NaN input: loss %v", k.name, l)
			h[2*c.d+1] = 1
			for p := range c.d { // row 5 against item: 16·(1e20)² overflows
				h[5*c.d+p], w[item*c.d+p] = 1e20, 1e20
			}
			l, _, _ = runXent(k, &x, c, h, w, targets, 1, dw0)
			assert.True(t, math.IsNaN(l) || math.IsInf(l, 0), "%s item %d overflowing logit: loss %v", k.name, item, l)
		}
	}
}

// brokenXentKernels returns the kernel set k with one kernel replaced by a
// plausible mistake, by name.
func brokenXentKernels(k *xentKernels) map[string]*xentKernels {
	out := map[string]*xentKernels{}
	set := func(name string, f func(b *xentKernels)) {
		b := *k
		b.name = k.name + "/" + name
		f(&b)
		out[name] = &b
	}
	set("logits-short-k", func(b *xentKernels) { // drops the last step of the sum
		b.logits = func(d int, a, bb, c []float32, ntiles, ldt int, rmax []float32) {
			if d == 1 {
				k.logits(d, make([]float32, len(a)), bb, c, ntiles, ldt, rmax)
				return
			}
			for t := range ntiles {
				// repack the tile without its last step
				short := make([]float32, (d-1)*xentNR)
				copy(short, bb[t*xentNR*d:t*xentNR*d+(d-1)*xentNR])
				as := make([]float32, (d-1)*xentMR)
				copy(as, a[:(d-1)*xentMR])
				k.logits(d-1, as, short, c[t*ldt:], 1, ldt, rmax)
			}
		}
	})
	set("logits-no-max", func(b *xentKernels) { // forgets the running maximum
		b.logits = func(d int, a, bb, c []float32, ntiles, ldt int, rmax []float32) {
			k.logits(d, a, bb, c, ntiles, ldt, nil)
			if rmax != nil {
				for i := range rmax[:xentMR*8] {
					rmax[i] = max(rmax[i], 0)
				}
			}
		}
	})
	set("item-grad-last-rows", func(b *xentKernels) { // skips the last row block
		b.itemGrad = func(nrb int, e []float32, estride int, hs []float32, ldh int, c []float32, ldc int, acc bool) {
			if nrb > 1 {
				nrb--
			}
			k.itemGrad(nrb, e, estride, hs, ldh, c, ldc, acc)
		}
	})
	set("item-grad-overwrites", func(b *xentKernels) { // writes where it must add
		b.itemGrad = func(nrb int, e []float32, estride int, hs []float32, ldh int, c []float32, ldc int, acc bool) {
			k.itemGrad(nrb, e, estride, hs, ldh, c, ldc, false)
		}
	})
	set("row-grad-one-tile", func(b *xentKernels) { // sums over the first tile only
		b.rowGrad = func(ntiles int, e []float32, ldt int, w []float32, ldw int, c []float32, ldc int, acc bool) {
			k.rowGrad(1, e, ldt, w, ldw, c, ldc, acc)
		}
	})
	set("row-grad-overwrites", func(b *xentKernels) {
		b.rowGrad = func(ntiles int, e []float32, ldt int, w []float32, ldw int, c []float32, ldc int, acc bool) {
			k.rowGrad(ntiles, e, ldt, w, ldw, c, ldc, false)
		}
	})
	set("exp-unshifted-sum", func(b *xentKernels) { // sums the logits, not their exponentials
		b.exp = func(z []float32, ntiles int, shift []float32, sums []float64) {
			for t := range ntiles {
				for i := range xentMR {
					for _, v := range z[t*xentTile+i*xentNR : t*xentTile+(i+1)*xentNR] {
						sums[t*xentMR+i] += float64(v)
					}
				}
			}
			k.exp(z, ntiles, shift, make([]float64, ntiles*xentMR))
		}
	})
	set("exp-one-shift", func(b *xentKernels) { // shifts every row by the first one's maximum
		b.exp = func(z []float32, ntiles int, shift []float32, sums []float64) {
			one := make([]float32, ntiles*xentMR*8)
			for i := range one {
				one[i] = shift[0]
			}
			k.exp(z, ntiles, one, sums)
		}
	})
	return out
}

// TestLinearCrossEntropyCatchesBrokenKernels plants a mistake in each
// kernel of each set in turn: the comparison with the reference must fail
// on at least one case.
func TestLinearCrossEntropyCatchesBrokenKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 4))
	cases := []xentCase{{20, 64, 101, 7, 0}, {13, 6, 37, 3, 0}, {40, 64, 300, 13, 0}, {15, 64, 300, 12, 25}}
	type problem struct {
		h, w, dw0      []float32
		targets        []int
		wantL          float64
		wantDh, wantDw []float64
	}
	probs := make([]problem, len(cases))
	for i, c := range cases {
		p := &probs[i]
		p.h, p.w, p.targets, p.dw0 = xentOperands(rng, c)
		p.wantL, p.wantDh, p.wantDw = xentReference(p.h, c.m, c.d, p.w, c.n, p.targets, 1/float64(c.m))
	}
	for _, k := range []*xentKernels{xentKern, &goXentKernels} {
		for _, b := range brokenXentKernels(k) {
			worst := 0.0
			for i, c := range cases {
				p := probs[i]
				var x LinearCrossEntropy
				l, dh, dw := runXent(b, &x, c, p.h, p.w, p.targets, 1/float32(c.m), p.dw0)
				e := math.Max(math.Abs(l-p.wantL)/p.wantL, math.Max(relErr(dh, nil, p.wantDh), relErr(dw, p.dw0, p.wantDw)))
				if math.IsNaN(e) {
					e = math.Inf(1)
				}
				worst = math.Max(worst, e)
			}
			assert.Greater(t, worst, 1e-3, "%s: planted mistake went unnoticed", b.name)
		}
	}
}

// TestXentKernelsMatchGo runs each kernel of this CPU's set against the
// portable one on random operands and edge sizes (every d from 1 to 9 and
// 64, one to five tiles or row blocks, adding and writing).
func TestXentKernelsMatchGo(t *testing.T) {
	if xentKern == &goXentKernels {
		t.Skip("no assembly kernels on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(20, 5))
	k, ref := xentKern, &goXentKernels
	near := func(got, want []float32, tol float64, what string) {
		t.Helper()
		require.Equal(t, len(want), len(got))
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*(1+math.Abs(float64(want[i])))) {
				t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	for _, d := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 64} {
		for ntiles := 1; ntiles <= 5; ntiles++ {
			const ldt = xentTile + 40
			a, b := randSlice(rng, xentMR*d), randSlice(rng, ntiles*xentNR*d)
			c1, c2 := randSlice(rng, ntiles*ldt), make([]float32, ntiles*ldt)
			m1, m2 := randSlice(rng, xentMR*8), make([]float32, xentMR*8)
			copy(c2, c1)
			copy(m2, m1)
			k.logits(d, a, b, c1, ntiles, ldt, m1)
			ref.logits(d, a, b, c2, ntiles, ldt, m2)
			near(c1, c2, 1e-5, fmt.Sprintf("logits d %d ntiles %d", d, ntiles))
			near(m1, m2, 1e-5, fmt.Sprintf("logits max d %d ntiles %d", d, ntiles))
			k.logits(d, a, b, c1, ntiles, ldt, nil) // no maximum wanted
			near(c1, c2, 1e-5, fmt.Sprintf("logits no max d %d ntiles %d", d, ntiles))
		}
	}
	for nrb := 1; nrb <= 5; nrb++ {
		for _, acc := range []bool{false, true} {
			const estride, ldh, ldc = 2 * xentTile, 40, 20
			e, hs := randSlice(rng, nrb*estride), randSlice(rng, nrb*xentMR*ldh)
			c1 := randSlice(rng, xentMR*ldc)
			c2 := append([]float32(nil), c1...)
			k.itemGrad(nrb, e[7:], estride, hs[3:], ldh, c1[2:], ldc, acc)
			ref.itemGrad(nrb, e[7:], estride, hs[3:], ldh, c2[2:], ldc, acc)
			near(c1, c2, 1e-5, fmt.Sprintf("itemGrad nrb %d acc %v", nrb, acc))

			const ldw = 70
			ntiles := nrb
			const ldt = 3 * xentTile
			ez, w := randSlice(rng, ntiles*ldt), randSlice(rng, ntiles*xentNR*ldw)
			copy(c2, c1)
			k.rowGrad(ntiles, ez, ldt, w[5:], ldw, c1[1:], ldc, acc)
			ref.rowGrad(ntiles, ez, ldt, w[5:], ldw, c2[1:], ldc, acc)
			near(c1, c2, 1e-5, fmt.Sprintf("rowGrad ntiles %d acc %v", ntiles, acc))
		}
	}
	for ntiles := 1; ntiles <= 5; ntiles++ {
		z1 := randSlice(rng, ntiles*xentTile+3)
		shift := make([]float32, ntiles*xentMR*8)
		for i := range z1 {
			z1[i] *= 10
		}
		for r := range ntiles * xentMR {
			for l := range 8 {
				shift[r*8+l] = float32(8 + r%7)
			}
		}
		z1[3+30] = -200 // exp underflows (row 1 of the first tile)
		z2 := append([]float32(nil), z1...)
		s1, s2 := randSliceOf[float64](rng, ntiles*xentMR), make([]float64, ntiles*xentMR)
		copy(s2, s1)
		k.exp(z1[3:], ntiles, shift, s1)
		ref.exp(z2[3:], ntiles, shift, s2)
		near(z1, z2, 1e-6, fmt.Sprintf("exp ntiles %d", ntiles))
		for i := range s1 {
			assert.InDelta(t, s2[i], s1[i], 1e-6*math.Abs(s2[i]), "exp ntiles %d sum %d", ntiles, i)
		}
	}
}

// TestLinearCrossEntropyAllocs checks that steady-state calls allocate
// nothing.
func TestLinearCrossEntropyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rng := rand.New(rand.NewPCG(20, 6))
	c := xentCase{40, 64, 300, 13, 0}
	h, w, targets, dw := xentOperands(rng, c)
	dh := make([]float32, c.m*c.d)
	var x LinearCrossEntropy
	allocs := testing.AllocsPerRun(10, func() { x.LossGrad(h, c.m, c.d, w, c.n, targets, 1, c.chunk, dh, dw) })
	assert.Equal(t, 0.0, allocs)
}

// BenchmarkLinearCrossEntropy times one call at the shape of a SASRec
// training step on Beauty (730 rows of a 128-user batch, 12,101 items,
// width 64) for a few chunk sizes (backbone's default budget gives 258),
// reporting GFLOP/s of the three products and the CPU time per call (the
// machine may be shared):
//
//	go test ./tensor/ -run '^$' -bench LinearCrossEntropy -benchtime 20x -cpu 1
func BenchmarkLinearCrossEntropy(b *testing.B) {
	const m, d, n = 730, 64, 12101
	rng := rand.New(rand.NewPCG(1, 1))
	h, w := randSlice(rng, m*d), randSlice(rng, n*d)
	targets := make([]int, m)
	for i := range targets {
		targets[i] = rng.IntN(n)
	}
	dh, dw := make([]float32, m*d), make([]float32, n*d)
	for _, chunk := range []int{60, 120, 258, 732} {
		b.Run(fmt.Sprintf("%s/chunk%d", xentKern.name, chunk), func(b *testing.B) {
			var x LinearCrossEntropy
			x.LossGrad(h, m, d, w, n, targets, 1/float32(m), chunk, dh, dw)
			cpu0 := cpuTime()
			for b.Loop() {
				x.LossGrad(h, m, d, w, n, targets, 1/float32(m), chunk, dh, dw)
			}
			b.ReportMetric(6*m*n*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
