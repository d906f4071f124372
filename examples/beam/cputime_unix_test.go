//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time so far (0 where
// getrusage is unavailable): CPU over wall time says how many cores a run
// kept busy, which the wall time alone does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
