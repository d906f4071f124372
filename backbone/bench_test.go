package backbone

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/stretchr/testify/require"
)

var beautyOnce struct {
	sync.Once
	split *data.Split
	err   error
}

// beauty loads the leave-one-out split of Amazon Beauty (../shared/data).
func beauty(tb testing.TB) *data.Split {
	tb.Helper()
	path := sharedtest.File(tb, "amazon-beauty/Beauty.txt")
	beautyOnce.Do(func() {
		ds, err := data.Load(path, data.Options{Format: data.FormatSeq})
		if err != nil {
			beautyOnce.err = err
			return
		}
		beautyOnce.split = data.LeaveOneOut(ds)
	})
	require.NoError(tb, beautyOnce.err)
	return beautyOnce.split
}

func newBeautySASRec(tb testing.TB, split *data.Split, seed uint64) *SeqModel {
	rng := rand.New(rand.NewPCG(seed, 1))
	enc, err := NewSASRec(DefaultEncoderConfig("sasrec"), rng)
	require.NoError(tb, err)
	m, err := NewSeqModel(enc, NewIDTable(split.NumItems, 64, rng), ModelConfig{})
	require.NoError(tb, err)
	return m
}

// BenchmarkTrainStep measures one steady-state SASRec training step on a
// random batch of 128 Beauty users (forward, BCE with 1 negative, backward,
// Adam), with the reference's settings (d 64, maxlen 50, 2 blocks, dropout
// 0.5). The batches cycle through one epoch's worth of random users.
func BenchmarkTrainStep(b *testing.B) {
	split := beauty(b)
	m := newBeautySASRec(b, split, 1)
	var users [][]int
	for _, s := range split.Train {
		if len(s) >= 2 {
			users = append(users, s)
		}
	}
	rng := rand.New(rand.NewPCG(2, 2))
	batches := BucketBatches(make([]int, len(users)), 128, 0, rng)
	opt := newAdam(m.Params(), 1e-3, 0.9, 0.98, 1e-8, 0, false)
	seqs := make([][]int, 0, 128)
	step := func(i int) {
		seqs = seqs[:0]
		for _, u := range batches[i%len(batches)] {
			seqs = append(seqs, users[u])
		}
		opt.zeroGrad()
		if _, err := m.LossGrad(seqs, rng); err != nil {
			b.Fatal(err)
		}
		opt.step()
	}
	for i := 0; i < len(batches); i++ { // warm up: one epoch sizes every buffer
		step(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		step(i)
		i++
	}
}
