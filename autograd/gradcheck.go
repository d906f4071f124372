package autograd

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// ErrGradCheck is wrapped by the error GradCheck returns when analytic and
// numeric gradients disagree.
var ErrGradCheck = errors.New("autograd: gradient check failed")

// GradCheckOptions sets the finite-difference step and tolerances of
// GradCheck. Zero fields take the defaults. It is a plain value, safe to
// share.
//
// Why these defaults: the forward pass runs in float32, whose relative
// rounding is about 6e-8. A central difference with step h has truncation
// error O(h²·f”') and rounding error about 6e-8·|f|/h. With inputs and
// outputs of order 1, h = 1e-2 balances both at roughly 1e-4..1e-5, so the
// check accepts |analytic − numeric| ≤ ATol + RTol·max(|analytic|,
// |numeric|) with ATol = 2e-3 and RTol = 2e-2: two orders of magnitude above
// the expected error, and far below the error of a wrong backward (a sign
// flip, a missing term, or a factor of 2 all give relative errors ≥ 0.5).
// Inputs must stay more than Eps away from kinks (ReLU at 0) and from
// singularities (Log, Sqrt near 0).
type GradCheckOptions struct {
	// Eps is the finite-difference step (default 1e-2).
	Eps float32
	// ATol and RTol are the absolute and relative tolerances (defaults 2e-3
	// and 2e-2).
	ATol, RTol float64
	// Seed seeds the random projection of a non-scalar output (default 1).
	Seed uint64

	corrupt *opDef // test hook: plant a wrong backward in this op
	planted plant  // how (default: negate its incoming gradient)
}

// GradCheck compares the analytic gradients of f with central finite
// differences, for every element of every input.
//
// f builds the function on the tape it is given and returns its output
// (user-defined ops recorded with Apply are checked like built-in ones); it
// must be deterministic (draw dropout masks from a rand.Rand seeded inside
// f). A non-scalar output y is reduced to Σ r_i·y_i with fixed random r_i in
// [−1, 1] (so that an op whose output always sums to a constant, as softmax,
// is still checked), accumulated in float64. inputs must be parameters
// (NewParam) that f reads; their Grad is overwritten (zeroed, then filled)
// and their Data is restored after each perturbation. Frozen inputs are
// skipped.
//
// It returns nil when every component agrees within the tolerances, else an
// error wrapping ErrGradCheck that lists the worst mismatches.
func GradCheck(f func(t *Tape) *Value, inputs []*Value, opts GradCheckOptions) error {
	if opts.Eps == 0 {
		opts.Eps = 1e-2
	}
	if opts.ATol == 0 {
		opts.ATol = 2e-3
	}
	if opts.RTol == 0 {
		opts.RTol = 2e-2
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	for i, in := range inputs {
		if in == nil || !in.param {
			return fmt.Errorf("autograd: GradCheck input %d is not a parameter", i)
		}
		in.ZeroGrad()
	}
	t := NewTape()
	t.corrupt, t.planted = opts.corrupt, opts.planted
	y := f(t)
	if y == nil || y.Data == nil {
		return fmt.Errorf("autograd: GradCheck: f returned no output")
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	r := make([]float64, y.Data.Len())
	for i := range r {
		r[i] = 2*rng.Float64() - 1
	}
	if y.Data.Len() == 1 {
		r[0] = 1
	}
	if !y.requiresGrad || y.node < 0 {
		return fmt.Errorf("autograd: GradCheck: output depends on no input that requires a gradient")
	}
	g := t.gradOf(y)
	for i := range g.Data {
		g.Data[i] = float32(r[i])
	}
	if err := t.backwardFrom(y.node); err != nil {
		return fmt.Errorf("autograd: GradCheck: backward: %w", err)
	}

	eval := func() float64 {
		it := NewInferenceTape()
		out := f(it)
		var s float64
		for i, v := range out.Data.Data {
			s += r[i] * float64(v)
		}
		return s
	}
	type miss struct {
		in, idx     int
		ana, num, e float64
	}
	var misses []miss
	worst := 0.0
	for k, in := range inputs {
		if !in.requiresGrad {
			continue
		}
		for i := range in.Data.Data {
			old := in.Data.Data[i]
			in.Data.Data[i] = old + opts.Eps
			fp := eval()
			in.Data.Data[i] = old - opts.Eps
			fm := eval()
			in.Data.Data[i] = old
			// the step actually taken in float32
			h := float64(old+opts.Eps) - float64(old-opts.Eps)
			num := (fp - fm) / h
			ana := float64(in.Grad.Data[i])
			diff := math.Abs(ana - num)
			tol := opts.ATol + opts.RTol*max(math.Abs(ana), math.Abs(num))
			if diff > tol || math.IsNaN(diff) {
				misses = append(misses, miss{k, i, ana, num, diff})
			}
			worst = max(worst, diff/tol)
		}
	}
	if len(misses) == 0 {
		return nil
	}
	var b strings.Builder
	for i, m := range misses {
		if i == 5 {
			fmt.Fprintf(&b, "; ... %d more", len(misses)-5)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "input %d[%d]: analytic %.6g numeric %.6g", m.in, m.idx, m.ana, m.num)
	}
	return fmt.Errorf("%w: %d of the components differ (worst %.3gx tolerance): %s", ErrGradCheck, len(misses), worst, b.String())
}
