//go:build !unix

package eval

// cpuSeconds is unavailable here; benchmarks then skip the CPU metric.
func cpuSeconds() float64 { return -1 }
