package nn

import (
	"sort"

	"github.com/llmrec/llmrec/autograd"
)

// Param is a named trainable tensor. Names are dotted paths
// ("blocks.0.attn.q.weight") that map one-to-one to checkpoint keys.
type Param struct {
	Name  string
	Value *autograd.Value
}

// Module is anything with parameters. Params returns them with their full
// dotted names, in a deterministic order.
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
