package autograd

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/tensor"
)

// gcase is one gradient-check case: fresh parameters and the function of
// them to check.
type gcase struct {
	name   string
	inputs []*Value
	f      func(t *Tape) *Value
}

func randParam(rng *rand.Rand, lo, hi float32, shape ...int) *Value {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = lo + (hi-lo)*rng.Float32()
	}
	return NewParam(x)
}

// awayFromZero draws values with |v| in [0.2, 1.2] and a random sign, so a
// finite-difference step of 1e-2 never crosses a kink at 0.
func awayFromZero(rng *rand.Rand, shape ...int) *Value {
	p := randParam(rng, 0.2, 1.2, shape...)
	for i := range p.Data.Data {
		if rng.IntN(2) == 0 {
			p.Data.Data[i] = -p.Data.Data[i]
		}
	}
	return p
}

func constOf(rng *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = 2*rng.Float32() - 1
	}
	return x
}

// opCases lists, per exported *Tape method that returns *Value, the cases
// that check its gradients. TestEveryOpHasGradCheck fails when a method is
// missing here.
func opCases() map[string][]gcase {
	rng := rand.New(rand.NewPCG(7, 11))
	u := func(shape ...int) *Value { return randParam(rng, -1, 1, shape...) }
	cs := map[string][]gcase{}
	add := func(method string, c gcase) { cs[method] = append(cs[method], c) }

	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			ta, tb := ta, tb
			a, b := u(2, 3, 4), u(2, 4, 5)
			if ta {
				a = u(2, 4, 3)
			}
			if tb {
				b = u(2, 5, 4)
			}
			add("MatMul", gcase{"batched", []*Value{a, b}, func(t *Tape) *Value { return t.MatMul(a, b, ta, tb) }})
			s := u(4, 5)
			if tb {
				s = u(5, 4)
			}
			add("MatMul", gcase{"shared-b", []*Value{a, s}, func(t *Tape) *Value { return t.MatMul(a, s, ta, tb) }})
		}
	}
	{
		x, w, b := u(2, 3, 4), u(5, 4), u(5)
		add("Linear", gcase{"bias", []*Value{x, w, b}, func(t *Tape) *Value { return t.Linear(x, w, b) }})
		add("Linear", gcase{"nobias", []*Value{x, w}, func(t *Tape) *Value { return t.Linear(x, w, nil) }})
	}
	for _, m := range []string{"Add", "Sub", "Mul"} {
		m := m
		call := func(t *Tape, a, b *Value) *Value {
			switch m {
			case "Add":
				return t.Add(a, b)
			case "Sub":
				return t.Sub(a, b)
			}
			return t.Mul(a, b)
		}
		a, b := u(2, 3, 4), u(2, 3, 4)
		add(m, gcase{"same", []*Value{a, b}, func(t *Tape) *Value { return call(t, a, b) }})
		s := u(4)
		add(m, gcase{"suffix", []*Value{a, s}, func(t *Tape) *Value { return call(t, a, s) }})
		c := u(2, 1, 4)
		add(m, gcase{"middle-1", []*Value{a, c}, func(t *Tape) *Value { return call(t, a, c) }})
		r := u(3, 1)
		add(m, gcase{"trailing-1", []*Value{a, r}, func(t *Tape) *Value { return call(t, a, r) }})
		if m != "Sub" { // a − a is 0: nothing to check
			add(m, gcase{"self", []*Value{a}, func(t *Tape) *Value { return call(t, a, a) }})
		}
	}
	{
		x, s := u(3, 4), u(1)
		add("Scale", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Scale(x, -1.7) }})
		add("Neg", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Neg(x) }})
		add("AddScalar", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.AddScalar(x, 0.3) }})
		add("MulScalar", gcase{"", []*Value{x, s}, func(t *Tape) *Value { return t.MulScalar(x, s) }})
	}
	{
		x := u(2, 3, 4)
		add("Sum", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Sum(x) }})
		add("Mean", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Mean(x) }})
		add("SumRows", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.SumRows(x) }})
		add("MeanRows", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.MeanRows(x) }})
		add("SumLast", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.SumLast(x) }})
		add("Reshape", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Reshape(x, 6, -1) }})
	}
	{
		x := u(2, 3, 4, 5)
		add("Permute", gcase{"0213", []*Value{x}, func(t *Tape) *Value { return t.Permute(x, 0, 2, 1, 3) }})
		add("Permute", gcase{"3102", []*Value{x}, func(t *Tape) *Value { return t.Permute(x, 3, 1, 0, 2) }})
		y := u(4, 3)
		add("Permute", gcase{"2d", []*Value{y}, func(t *Tape) *Value { return t.Permute(y, 1, 0) }})
	}
	{
		a, b, c := u(2, 3, 2), u(2, 3, 1), u(2, 3, 3)
		add("Concat", gcase{"last", []*Value{a, b, c}, func(t *Tape) *Value { return t.Concat(-1, a, b, c) }})
		d := u(2, 2, 2)
		add("Concat", gcase{"axis1", []*Value{a, d}, func(t *Tape) *Value { return t.Concat(1, a, d) }})
		add("Slice", gcase{"last", []*Value{c}, func(t *Tape) *Value { return t.Slice(c, -1, 1, 3) }})
		add("Slice", gcase{"axis1", []*Value{c}, func(t *Tape) *Value { return t.Slice(c, 1, 1, 2) }})
	}
	{
		tab := u(5, 3)
		idx := []int{4, 0, 2, 4, 1}
		add("Gather", gcase{"", []*Value{tab}, func(t *Tape) *Value { return t.Gather(tab, idx, -1) }})
	}
	{
		x := u(2, 3, 4)
		mask := tensor.New(3, 4)
		mask.Data[1] = float32(math.Inf(-1))
		mask.Data[6] = -0.5
		for j := range 4 {
			mask.Data[8+j] = float32(math.Inf(-1)) // a fully masked row
		}
		keep := []bool{true, false, true, true, true, true, false, false}
		add("Softmax", gcase{"mask", []*Value{x}, func(t *Tape) *Value { return t.Softmax(x, mask) }})
		add("Softmax", gcase{"nomask", []*Value{x}, func(t *Tape) *Value { return t.Softmax(x, nil) }})
		add("SoftmaxKeep", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.SoftmaxKeep(x, keep) }})
		add("LogSoftmax", gcase{"mask", []*Value{x}, func(t *Tape) *Value {
			// excluded positions are -Inf: map them to 0 before the projection
			return t.Mul(t.Exp(t.LogSoftmax(x, mask)), t.Const(constOf(rand.New(rand.NewPCG(1, 2)), 2, 3, 4)))
		}})
		add("LogSoftmax", gcase{"nomask", []*Value{x}, func(t *Tape) *Value { return t.LogSoftmax(x, nil) }})
		add("LogSoftmaxKeep", gcase{"", []*Value{x}, func(t *Tape) *Value {
			return t.Exp(t.LogSoftmaxKeep(x, keep))
		}})
	}
	{
		x, g, b := u(2, 3, 5), u(5), u(5)
		add("LayerNorm", gcase{"affine", []*Value{x, g, b}, func(t *Tape) *Value { return t.LayerNorm(x, g, b, 1e-5) }})
		add("LayerNorm", gcase{"plain", []*Value{x}, func(t *Tape) *Value { return t.LayerNorm(x, nil, nil, 1e-8) }})
	}
	{
		x := awayFromZero(rng, 3, 4)
		p := randParam(rng, 0.5, 2, 3, 4)
		add("ReLU", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.ReLU(x) }})
		add("GELU", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.GELU(x) }})
		add("Sigmoid", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Sigmoid(x) }})
		add("Tanh", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Tanh(x) }})
		add("Exp", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Exp(x) }})
		add("Square", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.Square(x) }})
		add("Log", gcase{"", []*Value{p}, func(t *Tape) *Value { return t.Log(p) }})
		add("Sqrt", gcase{"", []*Value{p}, func(t *Tape) *Value { return t.Sqrt(p) }})
		add("Dropout", gcase{"", []*Value{x}, func(t *Tape) *Value {
			return t.Dropout(x, 0.4, true, rand.New(rand.NewPCG(3, 4)))
		}})
	}
	{
		x := u(4, 3)
		x.Data.Data[3], x.Data.Data[4], x.Data.Data[5] = 0.05, -0.1, 0.02 // a row below eps
		add("L2NormalizeRows", gcase{"", []*Value{x}, func(t *Tape) *Value { return t.L2NormalizeRows(x, 0.3) }})
		a, b := u(2, 3, 4), u(2, 3, 4)
		add("RowDot", gcase{"", []*Value{a, b}, func(t *Tape) *Value { return t.RowDot(a, b) }})
		p, q := u(3, 4), u(5, 4)
		add("PairwiseSqDist", gcase{"", []*Value{p, q}, func(t *Tape) *Value { return t.PairwiseSqDist(p, q) }})
		add("PairwiseSqDist", gcase{"self", []*Value{p}, func(t *Tape) *Value { return t.PairwiseSqDist(p, t.Scale(p, 0.5)) }})
	}
	{
		z, y := randParam(rng, -3, 3, 2, 5), randParam(rng, 0, 1, 2, 5)
		w := tensor.FromSlice([]float32{1, 1, 0, 1, 0.5, 0, 1, 1, 2, 1}, 2, 5)
		add("BCEWithLogits", gcase{"weighted", []*Value{z, y}, func(t *Tape) *Value { return t.BCEWithLogits(z, y, w) }})
		add("BCEWithLogits", gcase{"mean", []*Value{z, y}, func(t *Tape) *Value { return t.BCEWithLogits(z, y, nil) }})
		l := u(4, 6)
		tg := []int{2, 0, -1, 5}
		cw := tensor.FromSlice([]float32{1, 0.5, 1, 2}, 4)
		add("CrossEntropy", gcase{"weighted", []*Value{l}, func(t *Tape) *Value { return t.CrossEntropy(l, tg, cw) }})
		add("CrossEntropy", gcase{"plain", []*Value{l}, func(t *Tape) *Value { return t.CrossEntropy(l, tg, nil) }})
		a, b := u(3, 4), u(3, 4)
		add("MSE", gcase{"", []*Value{a, b}, func(t *Tape) *Value { return t.MSE(a, b) }})
	}
	{
		a, b := u(3, 4), u(4)
		add("Apply", gcase{"user-op", []*Value{a, b}, func(t *Tape) *Value { return mustApply(t, mulSq{}, a, b) }})
		c, w := u(2, 3), constOf(rng, 4, 3)
		add("Apply", gcase{"user-op-after-builtin", []*Value{c, b}, func(t *Tape) *Value {
			return t.Tanh(mustApply(t, mulSq{}, t.Linear(c, t.Const(w), nil), b))
		}})
	}
	return cs
}

// notOps are *Tape methods returning *Value that create constants or leaves and have
// nothing to differentiate.
var notOps = map[string]bool{"Const": true, "Full": true, "Leaf": true}

func TestEveryOpHasGradCheck(t *testing.T) {
	cases := opCases()
	vt := reflect.TypeOf(&Value{})
	tt := reflect.TypeOf(&Tape{})
	var ops []string
	for i := range tt.NumMethod() {
		m := tt.Method(i)
		if m.Type.NumOut() == 1 && m.Type.Out(0) == vt && !notOps[m.Name] {
			ops = append(ops, m.Name)
		}
	}
	require.GreaterOrEqual(t, len(ops), 30, "reflection found too few ops: %v", ops)
	for _, op := range ops {
		require.NotEmpty(t, cases[op], "op %s has no gradient-check case in opCases", op)
	}
	for name := range cases {
		_, ok := tt.MethodByName(name)
		require.True(t, ok, "opCases has a case for %s, which is not a *Tape method", name)
	}
	sort.Strings(ops)
	t.Logf("%d ops: %v", len(ops), ops)
}

func TestGradCheckAllOps(t *testing.T) {
	cases := opCases()
	names := make([]string, 0, len(cases))
	for k := range cases {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, op := range names {
		for _, c := range cases[op] {
			t.Run(op+"/"+c.name, func(t *testing.T) {
				require.NoError(t, GradCheck(c.f, c.inputs, GradCheckOptions{}))
			})
		}
	}
}

// opDefsInSource lists the name of every opDef the package declares (every
// package-level `var x = &opDef{name: ...}`), read from the source so that a
// new op file cannot escape the planted-bug test below.
func opDefsInSource(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(x ast.Node) bool {
			u, ok := x.(*ast.UnaryExpr)
			if !ok {
				return true
			}
			cl, ok := u.X.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := cl.Type.(*ast.Ident); !ok || id.Name != "opDef" {
				return true
			}
			for _, e := range cl.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "name" {
					lit := kv.Value.(*ast.BasicLit)
					names = append(names, strings.Trim(lit.Value, `"`))
				}
			}
			return true
		})
	}
	return names
}

// TestGradCheckCatchesWrongBackward plants a wrong backward in each op kind
// in turn (its incoming gradient negated, halved, or its backward not run at
// all) and requires that GradCheck fails on the cases of that op.
func TestGradCheckCatchesWrongBackward(t *testing.T) {
	cases := opCases()
	kinds := map[string]*opDef{
		"MatMul": opMatMul, "Linear": opLinear, "Add": opAdd, "Sub": opSub, "Mul": opMul,
		"Scale": opScale, "Neg": opScale, "MulScalar": opMulScalar, "AddScalar": opAddScalar,
		"Sum": opSum, "Mean": opMean, "SumRows": opSumRows, "MeanRows": opMeanRows, "SumLast": opSumLast,
		"Reshape": opReshape, "Permute": opPermute, "Concat": opConcat, "Slice": opSlice,
		"Gather": opGather, "Softmax": opSoftmax, "SoftmaxKeep": opSoftmax, "LogSoftmax": opLogSoftmax,
		"LogSoftmaxKeep": opLogSoftmax, "LayerNorm": opLayerNorm, "ReLU": opReLU, "GELU": opGELU,
		"Sigmoid": opSigmoid, "Tanh": opTanh, "Exp": opExp, "Log": opLog, "Square": opSquare,
		"Sqrt": opSqrt, "Dropout": opDropout, "L2NormalizeRows": opL2Normalize, "RowDot": opRowDot,
		"BCEWithLogits": opBCE, "CrossEntropy": opCrossEntropy, "MSE": opMSE,
		"PairwiseSqDist": opPairwiseSqDist, "Apply": opFunc,
	}
	covered := map[string]bool{}
	for op, cs := range cases {
		k, ok := kinds[op]
		require.True(t, ok, "no op kind for %s", op)
		covered[k.name] = true
		for _, how := range []plant{plantNegate, plantHalve, plantMissing} {
			for _, c := range cs {
				err := GradCheck(c.f, c.inputs, GradCheckOptions{corrupt: k, planted: how})
				require.ErrorIs(t, err, ErrGradCheck, "%s/%s: planted wrong backward %d not caught", op, c.name, how)
			}
		}
	}
	all := opDefsInSource(t)
	require.GreaterOrEqual(t, len(all), 30, "opDefsInSource found too few ops: the parse is broken")
	for _, name := range all {
		require.True(t, covered[name], "op %s is never given a wrong backward", name)
	}
}

func TestGradCheckRejectsNonParam(t *testing.T) {
	err := GradCheck(func(t *Tape) *Value { return nil }, []*Value{NewConst(tensor.New(1))}, GradCheckOptions{})
	require.Error(t, err)
}

func TestAccumulationValueUsedTwice(t *testing.T) {
	x := NewParam(tensor.FromSlice([]float32{1.5, -2, 0.5}, 3))
	tp := NewTape()
	// y = Σ (x·x + x) -> dy/dx = 2x + 1
	y := tp.Sum(tp.Add(tp.Mul(x, x), x))
	require.NoError(t, tp.Backward(y))
	require.InDeltaSlice(t, []float32{4, -3, 2}, x.Grad.Data, 1e-6)

	// a second step without ZeroGrad accumulates into the parameter
	tp.Reset()
	y = tp.Sum(tp.Add(tp.Mul(x, x), x))
	require.NoError(t, tp.Backward(y))
	require.InDeltaSlice(t, []float32{8, -6, 4}, x.Grad.Data, 1e-6)
	x.ZeroGrad()
	require.Equal(t, []float32{0, 0, 0}, x.Grad.Data)
}

func TestFrozenAndConstantsGetNoGradient(t *testing.T) {
	w := NewParam(tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2))
	f := NewParam(tensor.FromSlice([]float32{1, 1}, 2))
	f.SetRequiresGrad(false)
	c := NewConst(tensor.FromSlice([]float32{3, 4}, 1, 2))
	tp := NewTape()
	// only frozen and constant inputs: nothing is recorded
	z := tp.Add(c, f)
	require.False(t, z.RequiresGrad())
	require.Equal(t, 0, tp.Len())
	require.Error(t, tp.Backward(tp.Sum(z)))

	y := tp.Sum(tp.Linear(c, w, f)) // d/dW = rows of c, bias frozen
	require.Equal(t, 2, tp.Len())
	require.NoError(t, tp.Backward(y))
	require.Equal(t, []float32{3, 4, 3, 4}, w.Grad.Data)
	require.Equal(t, []float32{0, 0}, f.Grad.Data)
	require.Nil(t, c.Grad)
}

func TestBackwardErrors(t *testing.T) {
	x := NewParam(tensor.FromSlice([]float32{1, -1}, 2))
	tp := NewTape()
	err := tp.Backward(tp.Square(x))
	require.ErrorIs(t, err, ErrBackward)
	require.Contains(t, err.Error(), "scalar")

	err = tp.Backward(tp.Sum(tp.Log(x))) // log(-1) = NaN
	require.ErrorIs(t, err, ErrBackward)
	require.Contains(t, err.Error(), "NaN")

	other := NewTape()
	err = other.Backward(tp.Sum(x))
	require.ErrorIs(t, err, ErrBackward)

	inf := NewInferenceTape()
	y := inf.Sum(inf.Square(x))
	require.False(t, y.RequiresGrad())
	require.Equal(t, 0, inf.Len())
	require.ErrorIs(t, inf.Backward(y), ErrBackward)
	require.InDelta(t, 2, y.Data.Data[0], 1e-6)
}

func TestGatherPaddingGetsNoGradient(t *testing.T) {
	tab := NewParam(tensor.FromSlice([]float32{0, 0, 1, 2, 3, 4}, 3, 2))
	tp := NewTape()
	y := tp.Sum(tp.Gather(tab, []int{0, 2, 2, 1, 0}, 0))
	require.NoError(t, tp.Backward(y))
	require.Equal(t, []float32{0, 0, 1, 1, 2, 2}, tab.Grad.Data)
}

func TestDropoutEvalIsIdentity(t *testing.T) {
	x := NewParam(tensor.FromSlice([]float32{1, 2, 3, 4}, 4))
	tp := NewTape()
	rng := rand.New(rand.NewPCG(1, 1))
	require.Same(t, x, tp.Dropout(x, 0.5, false, rng))
	require.Same(t, x, tp.Dropout(x, 0, true, rng))
	require.Equal(t, 0, tp.Len())
	// in training, kept entries are scaled by 1/(1-p), the rest are 0
	big := NewParam(tensor.New(10000))
	big.Data.Fill(1)
	y := tp.Dropout(big, 0.25, true, rng)
	zeros := 0
	for _, v := range y.Data.Data {
		if v == 0 {
			zeros++
		} else {
			require.InDelta(t, 1/0.75, v, 1e-6)
		}
	}
	require.InDelta(t, 2500, zeros, 200)
}

// Forward values against naive float64 references.
func TestForwardValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	tp := NewInferenceTape()

	// MatMul with transposes, against a naive triple loop
	a, b := constOf(rng, 2, 4, 3), constOf(rng, 5, 4) // op(a)=aᵀ [3,4] per batch, op(b)=bᵀ [4,5]
	y := tp.MatMul(tp.Const(a), tp.Const(b), true, true)
	require.Equal(t, []int{2, 3, 5}, y.Data.Shape)
	for bt := range 2 {
		for i := range 3 {
			for j := range 5 {
				var s float64
				for k := range 4 {
					s += float64(a.Data[bt*12+k*3+i]) * float64(b.Data[j*4+k])
				}
				require.InDelta(t, s, y.Data.Data[bt*15+i*5+j], 1e-5)
			}
		}
	}

	// Permute [2,3,4] by (2,0,1): out[k,i,j] = x[i,j,k]
	x := constOf(rng, 2, 3, 4)
	p := tp.Permute(tp.Const(x), 2, 0, 1)
	require.Equal(t, []int{4, 2, 3}, p.Data.Shape)
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				require.Equal(t, x.Data[i*12+j*4+k], p.Data.Data[k*6+i*3+j])
			}
		}
	}

	// Mul broadcasting [2,3,4] by [2,3,1]: each row scaled by its own factor
	m := tensor.FromSlice([]float32{1, 0, 2, 0, 1, -1}, 2, 3, 1)
	mm := tp.Mul(tp.Const(x), tp.Const(m))
	for r := range 6 {
		for k := range 4 {
			require.Equal(t, x.Data[r*4+k]*m.Data[r], mm.Data.Data[r*4+k])
		}
	}

	// BCE with logits: hand formula in float64, weights as a mask
	z := tensor.FromSlice([]float32{2, -1, 30, -30}, 4)
	tg := tensor.FromSlice([]float32{1, 0, 0, 1}, 4)
	w := tensor.FromSlice([]float32{1, 1, 1, 0}, 4)
	bce := tp.BCEWithLogits(tp.Const(z), tp.Const(tg), w)
	want := (math.Log(1+math.Exp(-2)) + math.Log(1+math.Exp(-1)) + 30) / 3
	require.InDelta(t, want, bce.Data.Data[0], 1e-5)

	// CrossEntropy: -log softmax at the target, ignoring target -1
	l := tensor.FromSlice([]float32{1, 2, 3, 0, 0, 0, 5, 5, 5}, 3, 3)
	ce := tp.CrossEntropy(tp.Const(l), []int{2, 1, -1}, nil)
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	want = ((lse - 3) + math.Log(3)) / 2
	require.InDelta(t, want, ce.Data.Data[0], 1e-5)

	// L2NormalizeRows: row (3,4) -> (0.6,0.8); a tiny row is divided by eps
	n := tp.L2NormalizeRows(tp.Const(tensor.FromSlice([]float32{3, 4, 0.01, 0}, 2, 2)), 0.1)
	require.InDeltaSlice(t, []float32{0.6, 0.8, 0.1, 0}, n.Data.Data, 1e-6)

	// PairwiseSqDist
	d := tp.PairwiseSqDist(tp.Const(tensor.FromSlice([]float32{0, 0, 1, 2}, 2, 2)),
		tp.Const(tensor.FromSlice([]float32{3, 4}, 1, 2)))
	require.Equal(t, []float32{25, 8}, d.Data.Data)

	// Concat and Slice round trip along axis 1
	c := tp.Concat(1, tp.Const(x), tp.Const(x))
	require.Equal(t, []int{2, 6, 4}, c.Data.Shape)
	s := tp.Slice(c, 1, 3, 6)
	require.Equal(t, x.Data, s.Data.Data)

	// MSE and RowDot
	mse := tp.MSE(tp.Const(tensor.FromSlice([]float32{1, 2}, 2)), tp.Const(tensor.FromSlice([]float32{3, 2}, 2)))
	require.InDelta(t, 2, mse.Data.Data[0], 1e-7)
	rd := tp.RowDot(tp.Const(tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)), tp.Const(tensor.FromSlice([]float32{5, 6, 7, 8}, 2, 2)))
	require.Equal(t, []float32{17, 53}, rd.Data.Data)
}

// mlpStep is one steady-state training step of a small MLP through the tape.
type mlpStep struct {
	tp             *Tape
	x              *tensor.Tensor
	y              []int
	w1, b1, w2, b2 *Value
}

func newMLPStep() *mlpStep {
	rng := rand.New(rand.NewPCG(1, 2))
	s := &mlpStep{tp: NewTape(), x: constOf(rng, 32, 16), y: make([]int, 32)}
	for i := range s.y {
		s.y[i] = i % 10
	}
	s.w1, s.b1 = randParam(rng, -0.3, 0.3, 32, 16), randParam(rng, -0.1, 0.1, 32)
	s.w2, s.b2 = randParam(rng, -0.3, 0.3, 10, 32), randParam(rng, -0.1, 0.1, 10)
	return s
}

func (s *mlpStep) run() error {
	t := s.tp
	t.Reset()
	for _, p := range []*Value{s.w1, s.b1, s.w2, s.b2} {
		p.ZeroGrad()
	}
	h := t.ReLU(t.Linear(t.Const(s.x), s.w1, s.b1))
	h = t.LayerNorm(h, nil, nil, 1e-5)
	logits := t.Linear(h, s.w2, s.b2)
	loss := t.Add(t.CrossEntropy(logits, s.y, nil), t.Scale(t.Mean(t.Square(s.w1)), 1e-3))
	if err := t.Backward(loss); err != nil {
		return err
	}
	for _, p := range []*Value{s.w1, s.b1, s.w2, s.b2} {
		tensor.Axpy(-0.1, p.Grad.Data, p.Data.Data)
	}
	return nil
}

// TestSteadyStateAllocs: after warm-up, a training step through the tape
// allocates (almost) nothing.
func TestSteadyStateAllocs(t *testing.T) {
	s := newMLPStep()
	for range 3 {
		require.NoError(t, s.run())
	}
	allocs := testing.AllocsPerRun(50, func() {
		if err := s.run(); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per steady-state MLP step: %v", allocs)
	require.LessOrEqual(t, allocs, 1.0)
}

func BenchmarkMLPStep(b *testing.B) {
	s := newMLPStep()
	for b.Loop() {
		if err := s.run(); err != nil {
			b.Fatal(err)
		}
	}
}
