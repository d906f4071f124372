package main

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/coder/hnsw"
	"github.com/llmrec/llmrec/tensor/qscan"
	"github.com/viterin/vek/vek32"
)

// anchorReport is the anchor's side of the report.
type anchorReport struct {
	Library         string  `json:"library"`
	Space           string  `json:"space"`
	Items           int     `json:"items"`
	M               int     `json:"m"`
	EfConstruction  int     `json:"ef_construction"`
	BuildSeconds    float64 `json:"build_seconds"`
	BuildCPUSeconds float64 `json:"build_cpu_seconds"`
	IndexBytes      int64   `json:"index_bytes"`
	Ef              int     `json:"ef"`
	MsP50           float64 `json:"ann_ms_p50"`
	MsP99           float64 `json:"ann_ms_p99"`
	Recall          float64 `json:"ann_recall_at_10"`
	InsertUsP50     float64 `json:"insert_us_p50"`
	Inserted        int     `json:"inserted"`
	Sweep           []point `json:"sweep"`
}

// measureAnchor runs github.com/coder/hnsw on the same vectors and
// queries (built single-threaded: its Add is not safe for concurrent use). HNSW searches nearest neighbours, so maximum inner product is
// reduced to them the standard way: every item gets one more coordinate,
// √(M² − ‖x‖²) with M the largest norm, so all items have norm M, and a
// query gets a 0 there; then ‖q' − x'‖² = ‖q‖² + M² − 2⟨q, x⟩ orders a
// query's items by inner product. The distance is vek32's SIMD Euclidean
// one (the library's own dependency).
func measureAnchor(base, extra []float32, d int, qs []float32, truth [][]int, exact *qscan.Table, o *options, say func(string, ...any)) (*anchorReport, error) {
	n := len(base) / d
	if o.anchorItems > 0 && o.anchorItems < n {
		n = o.anchorItems
		sub, err := qscan.New(base[:n*d], d)
		if err != nil {
			return nil, err
		}
		if truth, err = exactTruth(sub, qs, d, o.k); err != nil {
			return nil, err
		}
	}
	var aug func(x []float32) []float32
	var m2 float64
	for _, rows := range [][]float32{base[:n*d], extra} {
		for i := 0; i < len(rows)/d; i++ {
			m2 = math.Max(m2, norm2(rows[i*d:(i+1)*d]))
		}
	}
	aug = func(x []float32) []float32 {
		v := make([]float32, d+1)
		copy(v, x)
		v[d] = float32(math.Sqrt(math.Max(0, m2-norm2(x))))
		return v
	}
	g := hnsw.NewGraph[int]()
	g.M, g.EfSearch = o.anchorM, o.anchorEfc
	g.Distance = vek32.Distance
	if o.anchorSpace == "ip" {
		// the inner product itself as the (negated) distance, as
		// hnswlib's "ip" space does, on the raw vectors
		g.Distance = func(a, b []float32) float32 { return -vek32.Dot(a[:d], b[:d]) }
		aug = func(x []float32) []float32 { return append(append(make([]float32, 0, d+1), x...), 0) }
	}
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t, c0 := time.Now(), cpuSeconds()
	for i := range n {
		g.Add(hnsw.MakeNode(i, aug(base[i*d:(i+1)*d])))
		if (i+1)%100_000 == 0 {
			say("anchor: %d items in %.0f s", i+1, time.Since(t).Seconds())
		}
	}
	ar := &anchorReport{Library: "github.com/coder/hnsw v0.6.1", Space: o.anchorSpace, Items: n, M: g.M, EfConstruction: o.anchorEfc}
	ar.BuildSeconds = time.Since(t).Seconds()
	ar.BuildCPUSeconds = cpuSeconds() - c0
	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	ar.IndexBytes = int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc)
	say("anchor: built %d items in %.1f s, heap +%d MB", n, ar.BuildSeconds, ar.IndexBytes>>20)
	efs, err := parseInts(o.efs)
	if err != nil {
		return nil, err
	}
	nq := len(qs) / d
	for _, ef := range efs {
		g.EfSearch = ef
		got := make([][]int, nq)
		ts := make([]time.Duration, nq)
		for i := range nq {
			q := append(append(make([]float32, 0, d+1), qs[i*d:(i+1)*d]...), 0)
			t := time.Now()
			// v0.6.1 bounds a search's result set by k, not by ef (its
			// PR #18): ask for ef results, keep the k nearest
			res := g.Search(q, max(o.k, ef))
			slices.SortFunc(res, func(a, b hnsw.Node[int]) int {
				return cmp.Compare(g.Distance(q, a.Value), g.Distance(q, b.Value))
			})
			ts[i] = time.Since(t)
			for _, r := range res[:min(o.k, len(res))] {
				got[i] = append(got[i], r.Key)
			}
		}
		p := point{Param: ef, Recall: recallAt(got, truth), MsP50: quantile(ts, 0.5), MsP99: quantile(ts, 0.99)}
		ar.Sweep = append(ar.Sweep, p)
		say("  anchor ef %5d: recall@%d %.4f  p50 %.3f ms  p99 %.3f ms", ef, o.k, p.Recall, p.MsP50, p.MsP99)
	}
	op := firstAt(ar.Sweep, o.target)
	ar.Ef, ar.Recall, ar.MsP50, ar.MsP99 = op.Param, op.Recall, op.MsP50, op.MsP99
	// inserts (the graph is not safe for concurrent use: no searches
	// meanwhile); at most 2,000 of them
	g.EfSearch = o.anchorEfc
	ni := min(len(extra)/d, 2000)
	ts := make([]time.Duration, ni)
	for i := range ni {
		v := aug(extra[i*d : (i+1)*d])
		t := time.Now()
		g.Add(hnsw.MakeNode(len(base)/d+i, v))
		ts[i] = time.Since(t)
	}
	if ni > 0 {
		ar.InsertUsP50 = 1000 * quantile(ts, 0.5)
	}
	ar.Inserted = ni
	return ar, nil
}

func norm2(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}
