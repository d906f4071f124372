package data

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/data/sharedtest"
)

// go test ./data -run '^$' -bench . -benchtime 20x -benchmem

func BenchmarkLoadBeauty(b *testing.B) {
	p := sharedtest.File(b, "amazon-beauty/Beauty.txt")
	for b.Loop() {
		if _, err := Load(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// One SASRec batch's negatives on Beauty: 128 users, one negative per
// training position (as backbone.Batch draws them).
func BenchmarkNegativesBeauty(b *testing.B) {
	d, err := Load(sharedtest.File(b, "amazon-beauty/Beauty.txt"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	split := LeaveOneOut(d)
	s := NewNegativeSampler(split.NumItems)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	u := 0
	for b.Loop() {
		for range 128 {
			tr := split.Train[u%len(split.Train)]
			s.SetUser(tr)
			for range len(tr) - 1 {
				_ = s.Draw(rng)
			}
			u++
		}
	}
}

func BenchmarkLoadNPYBeauty(b *testing.B) {
	p := sharedtest.File(b, "amazon-beauty/item_emb_use_lite_512.npy")
	for b.Loop() {
		if _, err := LoadNPY(p); err != nil {
			b.Fatal(err)
		}
	}
}
