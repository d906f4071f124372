//go:build amd64 && !purego

package tensor

// xentKern is the kernel set LinearCrossEntropy runs on this CPU.
var xentKern = func() *xentKernels {
	if hasAVX2FMA {
		return &avx2XentKernels
	}
	return &goXentKernels
}()

// avx2XentKernels are the AVX2+FMA kernels. Their Go side checks that
// every element the assembly reads or writes lies inside its slice.
var avx2XentKernels = xentKernels{
	name: "avx2",
	logits: func(d int, a, b, c []float32, ntiles, ldt int, rmax []float32) {
		_, _, _ = a[xentMR*d-1], b[ntiles*xentNR*d-1], c[(ntiles-1)*ldt+xentTile-1]
		var mx *float32
		if rmax != nil {
			_ = rmax[xentMR*8-1]
			mx = &rmax[0]
		}
		xentLogitsAVX2(d, &a[0], &b[0], &c[0], ntiles, ldt, mx)
	},
	itemGrad: func(nrb int, e []float32, estride int, hs []float32, ldh int, c []float32, ldc int, acc bool) {
		_, _, _ = e[(nrb-1)*estride+(xentMR-1)*xentNR+xentMR-1], hs[(nrb*xentMR-1)*ldh+xentNB-1], c[(xentMR-1)*ldc+xentNB-1]
		xentItemGradAVX2(nrb, &e[0], estride, &hs[0], ldh, &c[0], ldc, b2i(acc))
	},
	rowGrad: func(ntiles int, e []float32, ldt int, w []float32, ldw int, c []float32, ldc int, acc bool) {
		_, _, _ = e[(ntiles-1)*ldt+xentTile-1], w[(ntiles*xentNR-1)*ldw+xentNB-1], c[(xentMR-1)*ldc+xentNB-1]
		xentRowGradAVX2(ntiles, &e[0], ldt, &w[0], ldw, &c[0], ldc, b2i(acc))
	},
	exp: func(z []float32, ntiles int, shift []float32, sums []float64) {
		_, _, _ = z[ntiles*xentTile-1], shift[ntiles*xentMR*8-1], sums[ntiles*xentMR-1]
		expTilesAVX2(&z[0], ntiles, &shift[0], &sums[0])
	},
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The kernels' contracts are those of the xentKernels fields (xent.go);
// ntiles and nrb are at least 1, strides are in floats.

//go:noescape
func xentLogitsAVX2(d int, a, b, c *float32, ntiles, ldt int, rmax *float32)

//go:noescape
func xentItemGradAVX2(nrb int, e *float32, estride int, hs *float32, ldh int, c *float32, ldc, acc int)

//go:noescape
func xentRowGradAVX2(ntiles int, e *float32, ldt int, w *float32, ldw int, c *float32, ldc, acc int)

//go:noescape
func expTilesAVX2(z *float32, ntiles int, shift *float32, sums *float64)
