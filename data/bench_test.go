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

func benchSampler(b *testing.B, cfg BatchConfig) {
	d, err := Load(sharedtest.File(b, "amazon-beauty/Beauty.txt"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	sm, err := NewNextItemSampler(LeaveOneOut(d), cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	bt := sm.NewBatch()
	b.ReportAllocs()
	for b.Loop() {
		if !sm.Next(bt) {
			sm.Next(bt)
		}
	}
}

// One batch of 128 users, maxlen 50, 1 negative (the SASRec reference setting).
func BenchmarkNextItemBatchBeauty(b *testing.B) {
	benchSampler(b, BatchConfig{BatchSize: 128, MaxLen: 50})
}

// Same with bucketing and trimming (narrower batches).
func BenchmarkNextItemBatchBeautyBucketTrim(b *testing.B) {
	benchSampler(b, BatchConfig{BatchSize: 128, MaxLen: 50, Bucket: true, Trim: true})
}

func BenchmarkLoadNPYBeauty(b *testing.B) {
	p := sharedtest.File(b, "amazon-beauty/item_emb_use_lite_512.npy")
	for b.Loop() {
		if _, err := LoadNPY(p); err != nil {
			b.Fatal(err)
		}
	}
}
