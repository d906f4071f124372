package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Metrics are HR, NDCG and MRR averaged over Count cases at each cut-off in
// Ks (HR[i] is HR@Ks[i]). With one target per case Recall@K equals HR@K. An
// empty set of cases has Count 0 and all metrics 0. A Metrics value is
// immutable once returned and safe for concurrent reads.
type Metrics struct {
	Count int
	Ks    []int
	HR    []float64
	NDCG  []float64
	MRR   []float64
}

// Get returns the metric named like the JSON keys, "hr@10", "ndcg@5",
// "mrr@20" (also "recall@K", equal to hr@K), and whether it exists.
func (m Metrics) Get(key string) (float64, bool) {
	name, ks, ok := strings.Cut(key, "@")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(ks)
	if err != nil {
		return 0, false
	}
	for i, kk := range m.Ks {
		if kk != k {
			continue
		}
		switch name {
		case "hr", "recall":
			return m.HR[i], true
		case "ndcg":
			return m.NDCG[i], true
		case "mrr":
			return m.MRR[i], true
		}
	}
	return 0, false
}

// keys returns the metric names in report order: hr@K..., ndcg@K..., mrr@K....
func (m Metrics) keys() []string {
	var ks []string
	for _, name := range []string{"hr", "ndcg", "mrr"} {
		for _, k := range m.Ks {
			ks = append(ks, name+"@"+strconv.Itoa(k))
		}
	}
	return ks
}

// MarshalJSON writes {"count": N, "hr@5": ..., ..., "mrr@20": ...} with keys
// in a fixed order.
func (m Metrics) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"count":`)
	b.WriteString(strconv.Itoa(m.Count))
	for _, key := range m.keys() {
		v, _ := m.Get(key)
		fmt.Fprintf(&b, ",%q:%s", key, strconv.FormatFloat(v, 'g', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Bucket is one group of a Grouping with its metrics. Like Metrics it is
// safe for concurrent reads.
type Bucket struct {
	Label string
	Metrics
}

// GroupResult is the report of one Grouping: its buckets in Labels order.
// It is safe for concurrent reads.
type GroupResult struct {
	Name    string
	Buckets []Bucket
}

// Result is the outcome of one Evaluate call. It is not modified after it is
// returned and is safe for concurrent reads.
type Result struct {
	// Stage is the evaluated stage.
	Stage Stage
	// Protocol is the protocol's name ("full", "sampled100", ...).
	Protocol string
	// Ties is the tie rule used.
	Ties Ties
	// Overall averages over every evaluated case.
	Overall Metrics
	// Groups holds one report per Config.Groups entry, in that order.
	Groups []GroupResult
	// Users are the evaluated users (split rows, ascending) and Ranks their
	// targets' 0-based ranks, for significance tests and debugging.
	Users []int
	Ranks []int
}

// accum sums metrics over cases in a fixed order.
type accum struct {
	n             int
	hr, ndcg, mrr []float64
}

func newAccum(nk int) *accum {
	return &accum{hr: make([]float64, nk), ndcg: make([]float64, nk), mrr: make([]float64, nk)}
}

func (a *accum) add(rank int, ks []int) {
	a.n++
	for i, k := range ks {
		a.hr[i] += HR(rank, k)
		a.ndcg[i] += NDCG(rank, k)
		a.mrr[i] += MRR(rank, k)
	}
}

func (a *accum) metrics(ks []int) Metrics {
	m := Metrics{Count: a.n, Ks: ks, HR: a.hr, NDCG: a.ndcg, MRR: a.mrr}
	if a.n > 0 {
		for i := range ks {
			m.HR[i] /= float64(a.n)
			m.NDCG[i] /= float64(a.n)
			m.MRR[i] /= float64(a.n)
		}
	}
	return m
}

// result aggregates the ranks of e.users into a Result.
func (e *Evaluator) result(stage Stage, ranks []int) (*Result, error) {
	ks := e.cfg.Ks
	all := newAccum(len(ks))
	for _, r := range ranks {
		all.add(r, ks)
	}
	res := &Result{Stage: stage, Protocol: e.ProtocolName(), Ties: e.cfg.Ties, Overall: all.metrics(ks),
		Users: append([]int(nil), e.users...), Ranks: ranks}
	var buf []int
	for _, g := range e.cfg.Groups {
		acc := make([]*accum, len(g.Labels))
		for i := range acc {
			acc[i] = newAccum(len(ks))
		}
		for i, u := range e.users {
			in := e.split.Train[u]
			if stage == Test {
				buf = append(append(buf[:0], in...), e.split.Valid[u])
				in = buf
			}
			c := Case{User: u, Stage: stage, Input: in, Target: e.target(stage, u), Rank: ranks[i]}
			b := g.Assign(c)
			if b == -1 {
				continue
			}
			if b < -1 || b >= len(acc) {
				return nil, fmt.Errorf("eval: grouping %q: bucket %d for user %d (target %d) outside -1..%d",
					g.Name, b, u, c.Target, len(acc)-1)
			}
			acc[b].add(ranks[i], ks)
		}
		gr := GroupResult{Name: g.Name, Buckets: make([]Bucket, len(acc))}
		for i, a := range acc {
			gr.Buckets[i] = Bucket{Label: g.Labels[i], Metrics: a.metrics(ks)}
		}
		res.Groups = append(res.Groups, gr)
	}
	return res, nil
}

// MarshalJSON writes the result with stable keys:
//
//	{"stage":"test","protocol":"full","ties":"strict",
//	 "overall":{"count":N,"hr@5":...,"ndcg@5":...,"mrr@5":...},
//	 "groups":{"item":{"tail":{"count":...,...},"head":{...}}}}
//
// Groups and buckets keep their order. Per-case ranks are not included.
func (r *Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"stage":%q,"protocol":%q,"ties":%q,"overall":`, r.Stage.String(), r.Protocol, r.Ties.String())
	ov, _ := r.Overall.MarshalJSON()
	b.Write(ov)
	b.WriteString(`,"groups":{`)
	for gi, g := range r.Groups {
		if gi > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(g.Name)
		b.Write(name)
		b.WriteString(":{")
		for bi, bk := range g.Buckets {
			if bi > 0 {
				b.WriteByte(',')
			}
			label, _ := json.Marshal(bk.Label)
			b.Write(label)
			b.WriteByte(':')
			m, _ := bk.Metrics.MarshalJSON()
			b.Write(m)
		}
		b.WriteByte('}')
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

// WriteTable writes the result as an aligned text table: a header line, then
// one row for all cases and one per bucket of each grouping, with columns
// count, hr@K..., ndcg@K..., mrr@K... (4 decimals).
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t%s\tcount\t", r.Stage, r.Protocol)
	for _, k := range r.Overall.keys() {
		fmt.Fprintf(tw, "%s\t", k)
	}
	fmt.Fprintln(tw)
	row := func(group, label string, m Metrics) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t", group, label, m.Count)
		for _, k := range m.keys() {
			v, _ := m.Get(k)
			fmt.Fprintf(tw, "%.4f\t", v)
		}
		fmt.Fprintln(tw)
	}
	row("all", "", r.Overall)
	for _, g := range r.Groups {
		for _, bk := range g.Buckets {
			row(g.Name, bk.Label, bk.Metrics)
		}
	}
	return tw.Flush()
}

// String returns the WriteTable text.
func (r *Result) String() string {
	var b strings.Builder
	_ = r.WriteTable(&b)
	return b.String()
}
