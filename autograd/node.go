package autograd

import "github.com/llmrec/llmrec/tensor"

// opKind names a recorded operation; backward dispatches on it with a switch,
// so recording an op allocates no closure.
type opKind uint8

const (
	opNone opKind = iota
	opMatMul
	opLinear
	opAdd
	opSub
	opMul
	opScale
	opMulScalar
	opAddScalar
	opSum
	opMean
	opSumRows
	opMeanRows
	opReshape
	opPermute
	opConcat
	opSlice
	opGather
	opSoftmax
	opLogSoftmax
	opLayerNorm
	opReLU
	opGELU
	opSigmoid
	opTanh
	opExp
	opLog
	opSquare
	opSqrt
	opDropout
	opL2Normalize
	opRowDot
	opBCE
	opCrossEntropy
	opMSE
	opPairwiseSqDist
	opSumLast
	opFunc // a user-defined Function (Apply)
	numOps
)

// node is one recorded op: its kind, output, operands and whatever the
// backward pass needs (saved tensors, integers, scalars). Nodes live in a
// slice reused across Reset.
type node struct {
	op      opKind
	out     *Value
	a, b, c *Value
	s1, s2  *tensor.Tensor // saved tensors (arena or caller constants)
	ints    []int          // saved indices (arena)
	vrefs   []*Value       // variadic operands (arena)
	f       float32
	i0, i1  int
	ta, tb  bool
}
