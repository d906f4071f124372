package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// selection is one phase-3 early-stopping rule: the epoch with the best
// validation metric, stopping after -patience epochs without a better one
// (backbone.Train's rule), with that epoch's weights.
type selection struct {
	metric               string
	cap                  int // > 0: stop after this epoch
	best                 float64
	bestEpoch, stopEpoch int // stopEpoch 0: still running
	// patience: stopped by its own patience (else by the epoch cap or
	// -phase-timeout)
	patience bool
	weights  []*tensor.Tensor
}

// String reports the kept and the last epoch and why it stopped.
func (s *selection) String() string {
	why := "patience"
	if !s.patience {
		why = "cap or timeout"
	}
	return fmt.Sprintf("valid %s %.5f at epoch %d of %d (%s)", s.metric, s.best, s.bestEpoch, s.stopEpoch, why)
}

// parseSelect reads a -select3 entry, METRIC or METRIC:EPOCHS.
func parseSelect(spec string) (metric string, cap int, err error) {
	metric, n, capped := strings.Cut(spec, ":")
	if _, ok := selectMetrics[metric]; !ok {
		return "", 0, fmt.Errorf("-select3: unknown metric %q (known: hr@10, cold_ndcg@10)", metric)
	}
	if capped {
		if cap, err = strconv.Atoi(n); err != nil || cap < 1 {
			return "", 0, fmt.Errorf("-select3 %s: the epoch cap must be a positive integer", spec)
		}
	}
	return metric, cap, nil
}

// selectsCold reports whether an entry of specs selects by cold_ndcg@10.
func selectsCold(specs []string) bool {
	return slices.ContainsFunc(specs, func(s string) bool { m, _, _ := parseSelect(s); return m == "cold_ndcg@10" })
}

// suffix is what the selection adds to a phase-3 variant's name.
func (s *selection) suffix() string {
	if s.cap > 0 {
		return fmt.Sprintf("%s_cap%d", selectMetrics[s.metric], s.cap)
	}
	return selectMetrics[s.metric]
}

// trainSelect trains m once for every -select3 metric at a time: each
// selection follows its own metric and stops by its own patience, and
// training ends when all have stopped (or at epochs). A selection's epoch
// and weights are those a run stopping early on its metric alone would
// keep, as the weights do not depend on validation; the joint run costs
// the longest of them instead of their sum.
func (e *env) trainSelect(ctx context.Context, name string, m backbone.Model, score func() (eval.Scorer, error), lr float64, epochs int, seed uint64) ([]*selection, float64, error) {
	var sels []*selection
	for _, spec := range e.o.select3 {
		metric, cap, _ := parseSelect(spec) // checked by parse
		sels = append(sels, &selection{metric: metric, cap: cap, best: math.Inf(-1)})
	}
	cold := selectsCold(e.o.select3)
	params := trainable(m.Params())
	opt := backbone.TrainOptions{
		// "any": the epoch when a running selection improved, else 0, so
		// that Train's patience ends training when every selection stopped
		Metric:   "any",
		KeepLast: true,
		Validate: func(_ context.Context, epoch int) (map[string]float64, error) {
			met, err := e.validate(score, cold)
			if err != nil {
				return nil, err
			}
			met["any"] = 0
			for _, s := range sels {
				switch v := met[s.metric]; {
				case s.stopEpoch > 0:
				case v > s.best:
					s.best, s.bestEpoch = v, epoch
					s.weights = snapshot(params, s.weights)
					met["any"] = float64(epoch)
				case e.o.patience > 0 && epoch-s.bestEpoch >= e.o.patience:
					s.stopEpoch, s.patience = epoch, true
				}
				if s.stopEpoch == 0 && epoch == s.cap {
					s.stopEpoch = epoch
				}
			}
			return met, nil
		},
	}
	h, secs, err := e.trainOpt(ctx, name, m, lr, epochs, seed, opt)
	for _, s := range sels {
		if s.stopEpoch == 0 && h != nil {
			s.stopEpoch = len(h.Epochs)
		}
		e.log.Info(name+" done", "select", s.metric, "cap", s.cap, "best_epoch", s.bestEpoch, "stop_epoch", s.stopEpoch,
			"valid_"+s.metric, fmt.Sprintf("%.5f", s.best), "seconds", fmt.Sprintf("%.0f", secs))
	}
	return sels, secs, err
}

// trainable returns the parameters that training changes.
func trainable(ps []nn.Param) []nn.Param {
	var out []nn.Param
	for _, p := range ps {
		if p.Value.RequiresGrad() {
			out = append(out, p)
		}
	}
	return out
}

// snapshot copies the values of params into dst (reused when not nil).
func snapshot(params []nn.Param, dst []*tensor.Tensor) []*tensor.Tensor {
	if dst == nil {
		for _, p := range params {
			dst = append(dst, p.Value.Data.Clone())
		}
		return dst
	}
	for i, p := range params {
		dst[i].CopyFrom(p.Value.Data)
	}
	return dst
}

// restore puts a snapshot back (nothing when there is none).
func restore(params []nn.Param, w []*tensor.Tensor) {
	for i, p := range params {
		if i < len(w) {
			p.Value.Data.CopyFrom(w[i])
		}
	}
}
