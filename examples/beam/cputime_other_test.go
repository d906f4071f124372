//go:build !unix

package main

import "time"

// cpuTime is not measured on this platform: the scaling test reports 0.
func cpuTime() time.Duration { return 0 }
