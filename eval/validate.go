package eval

import (
	"context"
	"strings"
)

// Map returns the metrics as a map keyed like the JSON ("hr@10",
// "ndcg@10", "mrr@10", one of each per cut-off), the form
// backbone.TrainOptions.Validate returns.
func (m Metrics) Map() map[string]float64 {
	out := make(map[string]float64, 3*len(m.Ks))
	for _, k := range m.keys() {
		out[k], _ = m.Get(k)
	}
	return out
}

// Map returns the overall metrics (Metrics.Map) and, for every group, each
// bucket's metrics under "<group>/<bucket>/<metric>" (spaces in labels
// replaced by '_'), e.g. "popularity/cold/ndcg@10".
func (r *Result) Map() map[string]float64 {
	out := r.Overall.Map()
	for _, g := range r.Groups {
		for _, b := range g.Buckets {
			prefix := strings.ReplaceAll(g.Name+"/"+b.Label+"/", " ", "_")
			for k, v := range b.Metrics.Map() {
				out[prefix+k] = v
			}
		}
	}
	return out
}

// Validator returns a validation hook with the signature of
// backbone.TrainOptions.Validate: after every validated epoch it evaluates
// the Scorer that scorer returns (called then, so that it sees the epoch's
// weights, e.g. func() (Scorer, error) { return backbone.NewRecommender(m), nil })
// on stage and returns Result.Map. The hook is not safe for concurrent use
// with training, which calls it from its own goroutine.
func (e *Evaluator) Validator(stage Stage, scorer func() (Scorer, error)) func(ctx context.Context, epoch int) (map[string]float64, error) {
	return func(ctx context.Context, _ int) (map[string]float64, error) {
		s, err := scorer()
		if err != nil {
			return nil, err
		}
		r, err := e.Evaluate(ctx, s, stage)
		if err != nil {
			return nil, err
		}
		return r.Map(), nil
	}
}
