package autograd

import "github.com/llmrec/llmrec/tensor"

// opDef is a kind of recorded operation. Each op's file declares its opDef
// beside the op's forward method and its backward function, so that an op
// lives in one place and adding one touches one file: nothing dispatches on
// a list of kinds. Recording an op stores a pointer to its opDef in the node,
// so it allocates no closure.
type opDef struct {
	// name is the op's *Tape method (errors and tests).
	name string
	// back accumulates the gradients of n's inputs from n.out.Grad. Only
	// the inputs that require a gradient have a buffer (gradOf returns nil
	// for the others).
	back func(t *Tape, n *node)
	// backErr is back for ops that can fail (user-defined Functions);
	// exactly one of back and backErr is set.
	backErr func(t *Tape, n *node) error
}

// node is one recorded op: its kind, output, operands and whatever the
// backward pass needs (saved tensors, integers, scalars). Nodes live in a
// slice reused across Reset.
type node struct {
	op      *opDef
	out     *Value
	a, b, c *Value
	s1, s2  *tensor.Tensor // saved tensors (arena or caller constants)
	ints    []int          // saved indices (arena)
	vrefs   []*Value       // variadic operands (arena)
	f       float32
	i0, i1  int
	ta, tb  bool
}

// backward accumulates the gradients of n's inputs from n.out.Grad.
func (t *Tape) backward(n *node) error {
	if n.op.backErr != nil {
		return n.op.backErr(t, n)
	}
	n.op.back(t, n)
	return nil
}

// gradData is the data of t.gradOf(v), or nil when v takes no gradient.
func (t *Tape) gradData(v *Value) []float32 {
	if g := t.gradOf(v); g != nil {
		return g.Data
	}
	return nil
}
