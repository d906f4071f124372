package nn

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestModuleUtilities(t *testing.T) {
	w := param2("lin.weight", 3, 4, 0)
	b := newParam("lin.bias", 0, 0, 0)
	params := []Param{w, b}
	assert.Equal(t, 15, NumParams(params)) // 3*4 + 3

	pre := Prefix("enc", params)
	assert.Equal(t, []string{"enc.lin.bias", "enc.lin.weight"}, SortedNames(pre))
	assert.Same(t, w.Value, pre[0].Value)

	bias := Filter(params, func(p Param) bool { return strings.HasSuffix(p.Name, ".bias") })
	assert.Equal(t, []Param{b}, bias)

	Freeze(bias)
	assert.False(t, b.Value.RequiresGrad())
	assert.True(t, w.Value.RequiresGrad())
	Unfreeze(bias)
	assert.True(t, b.Value.RequiresGrad())

	assert.NoError(t, CheckNames(params))
	assert.ErrorContains(t, CheckNames([]Param{w, w}), `"lin.weight"`)
	assert.ErrorContains(t, CheckNames([]Param{{Value: w.Value}}), "empty")

	b.Value.Grad.Data[1] = 3
	ZeroGrad(params)
	assert.Equal(t, []float32{0, 0, 0}, b.Value.Grad.Data)
}
