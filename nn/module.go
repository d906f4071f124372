package nn

import (
	"fmt"
	"sort"

	"github.com/llmrec/llmrec/autograd"
)

// Param is a named trainable tensor. Names are dotted paths
// ("blocks.0.attn.q.weight") that map one-to-one to checkpoint keys.
//
// A Param is a small handle: copying it shares the Value. Reading a Param's
// Value from many goroutines is safe while nobody updates it (an optimizer
// Step or a checkpoint load does).
type Param struct {
	Name  string
	Value *autograd.Value
}

// Module is anything with parameters. Params returns them with their full
// dotted names, in a deterministic order. Implementations should make Params
// safe to call concurrently (it only reads).
type Module interface {
	Params() []Param
}

// Prefix returns params with prefix+"." prepended to every name. Composite
// modules use it to name their children's parameters.
func Prefix(prefix string, params []Param) []Param {
	out := make([]Param, len(params))
	for i, p := range params {
		out[i] = Param{Name: prefix + "." + p.Name, Value: p.Value}
	}
	return out
}

// ParamMap indexes params by name.
func ParamMap(params []Param) map[string]*autograd.Value {
	m := make(map[string]*autograd.Value, len(params))
	for _, p := range params {
		m[p.Name] = p.Value
	}
	return m
}

// SortedNames returns the parameter names in lexical order.
func SortedNames(params []Param) []string {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	sort.Strings(names)
	return names
}

// ZeroGrad zeroes the gradients of all params.
func ZeroGrad(params []Param) {
	for _, p := range params {
		p.Value.ZeroGrad()
	}
}

// NumParams returns the total number of scalar elements in params.
func NumParams(params []Param) int {
	n := 0
	for _, p := range params {
		if p.Value != nil && p.Value.Data != nil {
			n += p.Value.Data.Len()
		}
	}
	return n
}

// Filter returns the params for which keep returns true, in order. Use it to
// build optimizer groups, e.g. the parameters whose names end in ".bias".
func Filter(params []Param, keep func(Param) bool) []Param {
	var out []Param
	for _, p := range params {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// Freeze marks params as not requiring gradients: ops still read them, but
// optimizers and ClipGradNorm skip them.
func Freeze(params []Param) {
	for _, p := range params {
		p.Value.SetRequiresGrad(false)
	}
}

// Unfreeze marks params as requiring gradients again.
func Unfreeze(params []Param) {
	for _, p := range params {
		p.Value.SetRequiresGrad(true)
	}
}

// CheckNames returns an error when a name is empty or appears twice, the
// conditions under which params cannot map one-to-one to checkpoint keys.
func CheckNames(params []Param) error {
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if p.Name == "" {
			return fmt.Errorf("nn: parameter %d has an empty name", i)
		}
		if seen[p.Name] {
			return fmt.Errorf("nn: duplicate parameter name %q", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}
