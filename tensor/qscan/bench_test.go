package qscan

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
)

// benchItems is the catalog size of the benchmarks (LLMREC_QSCAN_ITEMS,
// default 1,000,000).
func benchItems() int {
	if n, err := strconv.Atoi(os.Getenv("LLMREC_QSCAN_ITEMS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var benchTab = sync.OnceValues(func() (*Table, []float32) {
	rng := rand.New(rand.NewPCG(1, 1))
	const d = 64
	rows := mipsRows(rng, benchItems(), d)
	tab, err := New(rows, d)
	if err != nil {
		panic(err)
	}
	return tab, normals(rng, 256*d, 1)
})

// BenchmarkTopK is one query's top-10 over the whole table (compare with
// BenchmarkStream: the same bytes read and nothing else).
func BenchmarkTopK(b *testing.B) {
	tab, hs := benchTab()
	dst := make([]Result, 0, 10)
	i := 0
	for b.Loop() {
		dst, _ = tab.TopK(dst[:0], hs[(i%256)*64:(i%256+1)*64], 10, nil)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/query")
}

// BenchmarkTopKBatch is 256 queries' top-10 on GOMAXPROCS goroutines
// (per query: the elapsed time over 256).
func BenchmarkTopKBatch(b *testing.B) {
	tab, hs := benchTab()
	for b.Loop() {
		if _, err := tab.TopKBatch(hs, 10, nil, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000/256, "ms/query")
}
