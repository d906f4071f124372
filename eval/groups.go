package eval

import (
	"slices"
	"strconv"
)

// Case is one evaluated (user, stage) as a Grouping sees it. It is a plain
// value passed to one Assign call at a time.
type Case struct {
	// User is the split row of the user.
	User int
	// Stage is the evaluated stage.
	Stage Stage
	// Input is the scorer's input (and the history); it is only valid during
	// the Assign call and must not be modified.
	Input []int
	// Target is the held-out item.
	Target int
	// Rank is the target's 0-based rank.
	Rank int
}

// Grouping splits the evaluated cases into named buckets for a per-group
// report. Assign returns the bucket index (into Labels) of a case, or -1 to
// leave the case out of this grouping; any other value makes Evaluate fail.
// Buckets that receive no case are reported with count 0 and zero metrics.
// Assign is called from one goroutine at a time. A Grouping is a plain value:
// safe for concurrent use as long as Assign is.
type Grouping struct {
	// Name names the grouping in tables and JSON ("pop_bin", "item", ...).
	Name string
	// Labels names the buckets, in report order.
	Labels []string
	// Assign maps a case to a bucket index or -1.
	Assign func(c Case) int
}

// PopularityBins groups cases by the popularity bin of the target item:
// bins[i] is the bin of item i (for example data.PopularityBins). Buckets are
// every bin value from the smallest to the largest over items 1..len(bins)-1,
// labelled by the value. A target beyond len(bins) makes Evaluate fail.
func PopularityBins(bins []int) Grouping {
	lo, hi := 0, -1
	if len(bins) > 1 {
		lo, hi = slices.Min(bins[1:]), slices.Max(bins[1:])
	}
	labels := make([]string, 0, max(0, hi-lo+1))
	for b := lo; b <= hi; b++ {
		labels = append(labels, strconv.Itoa(b))
	}
	return Grouping{Name: "pop_bin", Labels: labels, Assign: func(c Case) int {
		if c.Target < 0 || c.Target >= len(bins) {
			return len(labels) // out of range: reported as an error
		}
		return bins[c.Target] - lo
	}}
}

// TailItems groups cases by the popularity of the target item, as LLM-ESR's
// long-tail report: "tail" when pop[target] < threshold, else "head". pop[i]
// is the popularity of item i (LLM-ESR counts it over train+valid+test). A
// target beyond len(pop) makes Evaluate fail.
func TailItems(pop []int, threshold int) Grouping {
	return Grouping{Name: "item", Labels: []string{"tail", "head"}, Assign: func(c Case) int {
		if c.Target < 0 || c.Target >= len(pop) {
			return 2
		}
		if pop[c.Target] < threshold {
			return 0
		}
		return 1
	}}
}

// TailUsers groups cases by the length of the user's input at the evaluated
// stage: "tail" when it is below threshold, else "head" (LLM-ESR counts the
// length capped at its maxlen of 200, which only matters for thresholds
// above 200).
func TailUsers(threshold int) Grouping {
	return Grouping{Name: "user", Labels: []string{"tail", "head"}, Assign: func(c Case) int {
		if len(c.Input) < threshold {
			return 0
		}
		return 1
	}}
}

// Ranges groups cases by an integer value into len(edges)+1 buckets: value <
// edges[0], edges[0] ≤ value < edges[1], ..., value ≥ edges[last]. edges must
// be increasing. LLM-ESR's length groups are Ranges("len", []int{5, 10, 15,
// 20}, func(c Case) int { return len(c.Input) }).
func Ranges(name string, edges []int, value func(c Case) int) Grouping {
	edges = slices.Clone(edges)
	labels := make([]string, 0, len(edges)+1)
	for i := range len(edges) + 1 {
		switch {
		case len(edges) == 0:
			labels = append(labels, "all")
		case i == 0:
			labels = append(labels, "<"+strconv.Itoa(edges[0]))
		case i == len(edges):
			labels = append(labels, ">="+strconv.Itoa(edges[i-1]))
		default:
			labels = append(labels, strconv.Itoa(edges[i-1])+"-"+strconv.Itoa(edges[i]-1))
		}
	}
	return Grouping{Name: name, Labels: labels, Assign: func(c Case) int {
		v := value(c)
		i, _ := slices.BinarySearch(edges, v+1) // number of edges ≤ v
		return i
	}}
}
