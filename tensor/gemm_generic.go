//go:build !amd64 || purego

package tensor

// This build has no assembly (another architecture, or the purego tag): the
// portable Go micro-kernel is the only one.
var (
	kernels32 = []*microKernel[float32]{&goKernel32}
	kernels64 = []*microKernel[float64]{&goKernel64}
)
