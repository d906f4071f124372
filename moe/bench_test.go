package moe

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone"
)

// BenchmarkMixtureTopK measures one user's top 10 from the (untrained)
// Pantry mixture of pantryMixture (3 experts, d=32, 8,347 items) served by
// its backbone.Recommender: three encoders, three full scorings, the gate
// mix, then the Recommender's bounded heap with the history excluded.
//
//	go test ./moe -run '^$' -bench MixtureTopK -benchmem -benchtime 200x
func BenchmarkMixtureTopK(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	m, split := pantryMixture(b, 32, r)
	rec, err := m.NewRecommender()
	require.NoError(b, err)
	var hists [][]int
	for len(hists) < 64 {
		if h := split.TestInput(r.IntN(len(split.Train))); len(h) >= 3 {
			hists = append(hists, h)
		}
	}
	buf := make([]backbone.Scored, 0, 10)
	for _, h := range hists { // warm the pools up
		buf, err = rec.AppendTopK(buf[:0], h, 10, h)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := hists[i%len(hists)]
		buf, _ = rec.AppendTopK(buf[:0], h, 10, h)
		i++
	}
}
