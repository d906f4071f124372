//go:build !amd64 || purego

package tensor

// pickKernel returns the portable Go micro-kernel: this build has no
// assembly (another architecture, or the purego tag).
func pickKernel() microKernel { return goKernel }
