//go:build amd64 && !purego

package qscan

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the calling thread's CPU time (the machine is shared:
// wall time includes the time other processes run).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStream reads the table's codes once and does nothing else: the
// memory floor of one query's scan.
func BenchmarkStream(b *testing.B) {
	tab, _ := benchTab()
	n := len(tab.codes) &^ 127
	var sink uint64
	for b.Loop() {
		sink |= streamAVX2(&tab.codes[0], n)
	}
	_ = sink
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/query")
	b.ReportMetric(float64(n)/1e9/(b.Elapsed().Seconds()/float64(b.N)), "GB/s")
}

// BenchmarkTopKOverStream alternates one query's TopK and one read of the
// codes, so that both see the same load, and reports their time ratio.
func BenchmarkTopKOverStream(b *testing.B) {
	tab, hs := benchTab()
	n := len(tab.codes) &^ 127
	var sink uint64
	var ts, tq, cs, cq time.Duration
	dst := make([]Result, 0, 10)
	i := 0
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b.Loop() {
		c0, t0 := threadCPU(), time.Now()
		sink |= streamAVX2(&tab.codes[0], n)
		c1, t1 := threadCPU(), time.Now()
		dst, _ = tab.TopK(dst[:0], hs[(i%256)*64:(i%256+1)*64], 10, nil)
		ts += t1.Sub(t0)
		tq += time.Since(t1)
		cs += c1 - c0
		cq += threadCPU() - c1
		i++
	}
	_ = sink
	b.ReportMetric(float64(tq)/float64(ts), "topk/stream")
	b.ReportMetric(float64(cq)/float64(cs), "cpu-topk/stream")
	b.ReportMetric(float64(ts.Microseconds())/float64(b.N)/1000, "stream-ms")
	b.ReportMetric(float64(tq.Microseconds())/float64(b.N)/1000, "topk-ms")
}
