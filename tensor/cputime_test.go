//go:build unix

package tensor

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user + system CPU time (benchmarks report
// it beside wall time: the machine may be shared).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
