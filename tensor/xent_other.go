//go:build !amd64 || purego

package tensor

// xentKern is the kernel set LinearCrossEntropy runs: this build has no
// assembly (another architecture, or the purego tag).
var xentKern = &goXentKernels
