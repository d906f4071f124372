package backbone

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// gatherModule is the smallest tape-written table: one free row per item.
type gatherModule struct{ W *autograd.Value }

func (m *gatherModule) Params() []nn.Param { return []nn.Param{{Name: "w", Value: m.W}} }

func (m *gatherModule) Lookup(t *autograd.Tape, ids []int) *autograd.Value {
	return t.Gather(m.W, ids, 0)
}

// A TapeTable's training path (Lookup, then Backward) allocates nothing in
// the steady state: the call's memory is tape memory, handed back by the
// next Lookup's Reset. It computes what IDTable computes.
func TestTapeTableStepAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	id := NewIDTable(rng, 50, 8)
	tt, err := NewTapeTable(&gatherModule{W: autograd.NewParam(id.W.Data.Clone())}, TableSpec{Kind: "test-gather", NumItems: 50, Dim: 8})
	require.NoError(t, err)
	ids := []int{3, 7, 0, 50, 3, 12}
	dOut := randTensor(rng, len(ids), 8)
	var a, b tensor.Tensor
	id.Lookup(&a, ids)
	require.NoError(t, id.Backward(dOut))
	tt.Lookup(&b, ids)
	require.NoError(t, tt.Backward(dOut))
	require.Equal(t, a.Data, b.Data)
	require.Equal(t, id.W.Grad.Data, tt.Params()[0].Value.Grad.Data)
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	allocs := testing.AllocsPerRun(50, func() {
		tt.Lookup(&b, ids)
		if err := tt.Backward(dOut); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per Lookup+Backward")
}
