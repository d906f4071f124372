package tensor

import (
	"runtime"
	"sync"
)

// The parallel kernels share their work through a small pool of long-lived
// worker goroutines instead of starting goroutines per call: a started
// goroutine and the closure it runs cost heap allocations, and a training
// step that calls GEMM hundreds of times should allocate nothing. The pool is
// started on first use with GOMAXPROCS workers; it holds no configuration, so
// it is not global state in the sense of a switch: results never depend on it.

// partJob is a piece of work split into parts; part computes part p using
// the workspace ws of the goroutine that runs it.
type partJob interface {
	part(ws *workspace, p int)
}

type workItem struct {
	job partJob
	p   int
	wg  *sync.WaitGroup
}

var workers struct {
	once sync.Once
	ch   chan workItem
}

var waitGroups = sync.Pool{New: func() any { return new(sync.WaitGroup) }}

func startWorkers() {
	n := runtime.GOMAXPROCS(0)
	workers.ch = make(chan workItem, 4*n)
	for i := 0; i < n; i++ {
		go func() {
			for it := range workers.ch {
				w := getWorkspace()
				it.job.part(w, it.p)
				putWorkspace(w)
				it.wg.Done()
			}
		}()
	}
}

// runParts runs job's parts 0..parts-1: part 0 on the calling goroutine with
// ws, the others on the worker pool, and returns when all are done. When the
// pool's queue is full the caller runs the part itself, so nested or
// concurrent use can never deadlock.
func runParts(job partJob, parts int, ws *workspace) {
	if parts <= 1 {
		job.part(ws, 0)
		return
	}
	workers.once.Do(startWorkers)
	wg := waitGroups.Get().(*sync.WaitGroup)
	for p := 1; p < parts; p++ {
		wg.Add(1)
		select {
		case workers.ch <- workItem{job: job, p: p, wg: wg}:
		default:
			job.part(ws, p)
			wg.Done()
		}
	}
	job.part(ws, 0)
	wg.Wait()
	waitGroups.Put(wg)
}
