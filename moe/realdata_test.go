package moe

import (
	"bufio"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
)

// pantryBins reads PAD's popularity bins of Amazon Prime Pantry
// (pad_pop_bins.tsv: item_id fre bin ambiguous, ids 0..8347).
func pantryBins(tb testing.TB) []int {
	tb.Helper()
	f, err := os.Open(sharedtest.File(tb, "amazon-pantry/pad_pop_bins.tsv"))
	require.NoError(tb, err)
	defer f.Close()
	var bins []int
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		require.Len(tb, fields, 4)
		id, err1 := strconv.Atoi(fields[0])
		b, err2 := strconv.Atoi(fields[2])
		require.NoError(tb, err1)
		require.NoError(tb, err2)
		require.Equal(tb, len(bins), id)
		bins = append(bins, b)
	}
	require.NoError(tb, sc.Err())
	return bins
}

// TestFreqGateOnPantryBins builds PAD's gate over the real Pantry bins: every
// item gets the weights of its bin's PAD initialization (computed here from
// the formula), and the ID weight falls while the text weight rises from bin
// 1 (popular) to bin 10 (cold).
func TestFreqGateOnPantryBins(t *testing.T) {
	bins := pantryBins(t)
	require.Len(t, bins, 8348)
	g, err := NewFreqGate(bins, PADInit(10, PADGamma2))
	require.NoError(t, err)
	items := make([]int, len(bins))
	for i := range items {
		items[i] = i
	}
	w := g.Weights(autograd.NewInferenceTape(), items)
	count := make([]int, 11)
	for i, b := range bins {
		count[b]++
		want := refGate([]float64{1 - 0.1*float64(b), -4 - 0.1*float64(b), 0.1 * float64(b)}, SigmoidNorm)
		for k := range 3 {
			require.InDelta(t, want[k], float64(w.Data.Row(i)[k]), 2e-6, "item %d bin %d", i, b)
		}
	}
	t.Logf("Pantry items per bin 0..10: %v", count)
	assert.Equal(t, 1, count[0])
	for b := 1; b <= 10; b++ {
		assert.Positive(t, count[b], "bin %d is empty", b)
	}
	idOf := func(b int) float64 {
		return refGate([]float64{1 - 0.1*float64(b), -4 - 0.1*float64(b), 0.1 * float64(b)}, SigmoidNorm)[ExpertID]
	}
	assert.Greater(t, idOf(1), idOf(10))
}

// BenchmarkCombine measures gate weights + mixture, forward and backward,
// for one PAD-sized batch (16 users x 20 positions x (1 positive + 1
// negative) = 640 candidates, 3 experts) over the Pantry bins:
//
//	go test -run '^$' -bench Combine -benchtime 2000x ./moe/
func BenchmarkCombine(b *testing.B) {
	bins := pantryBins(b)
	r := rand.New(rand.NewPCG(1, 2))
	const n = 640
	items := make([]int, n)
	for i := range items {
		items[i] = 1 + r.IntN(len(bins)-1)
	}
	scores := make([]*autograd.Value, 3)
	for k := range scores {
		s := tensor.New(n)
		for i := range s.Data {
			s.Data[i] = float32(r.NormFloat64())
		}
		scores[k] = autograd.NewParam(s)
	}
	for _, norm := range []Normalization{SigmoidNorm, SoftmaxNorm} {
		b.Run(norm.String(), func(b *testing.B) {
			g, err := NewFreqGate(bins, PADInit(10, PADGamma2))
			require.NoError(b, err)
			g.Norm = norm
			t := autograd.NewTape()
			for b.Loop() {
				t.Reset()
				if err := t.Backward(t.Sum(Combine(t, g, items, scores...))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
