package backbone

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/nn"
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

// newBeautySASRec is the PyTorch reference's SASRec on Beauty, trained (where
// a test trains it) with the reference's BCE and one negative, so that the
// figures of the reference apply.
func newBeautySASRec(tb testing.TB, split *data.Split, seed uint64) *SeqModel {
	rng := rand.New(rand.NewPCG(seed, 1))
	cfg, err := DefaultEncoderConfig(KindSASRec)
	require.NoError(tb, err)
	enc, err := NewSASRec(rng, cfg)
	require.NoError(tb, err)
	m, err := NewSeqModel(enc, NewIDTable(rng, split.NumItems, 64), ModelConfig{Loss: LossBCE})
	require.NoError(tb, err)
	return m
}

// BenchmarkTrainStep measures one steady-state SASRec training step on a
// batch of 128 Beauty users (forward, BCE with 1 negative, backward, Adam),
// with the reference's settings (d 64, maxlen 50, 2 blocks, dropout 0.5).
// The batches cycle through one epoch's worth of random users.
//
// Sub-benchmarks show the padding levers side by side: "packed" is what
// Train does (real tokens only); "trimmed" pads every sequence of a batch
// to the batch's longest (the cost of a left-padded batch cut to its
// longest sequence); "full" pads to the 50-item window (the cost of the
// untrimmed padded batch of the PyTorch reference); "bucketed" is packed
// with length buckets (BucketPool 50). Padding is emulated by prepending
// real items, which costs exactly what padded positions cost.
func BenchmarkTrainStep(b *testing.B) {
	split := beauty(b)
	var users [][]int
	for _, s := range split.Train {
		if len(s) >= 2 {
			users = append(users, s)
		}
	}
	lengths := make([]int, len(users))
	for i, s := range users {
		lengths[i] = len(s)
	}
	for _, mode := range []string{"packed", "trimmed", "full", "bucketed"} {
		b.Run(mode, func(b *testing.B) {
			m := newBeautySASRec(b, split, 1)
			rng := rand.New(rand.NewPCG(2, 2))
			pool := 0
			if mode == "bucketed" {
				pool = 50
			}
			batches := BucketBatches(rng, lengths, 128, pool)
			opt, err := nn.NewAdam(m.Params(), nn.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8})
			if err != nil {
				b.Fatal(err)
			}
			seqs := make([][]int, 0, 128)
			padded := make([][]int, 128)
			tokens := 0
			step := func(i int) {
				seqs = seqs[:0]
				longest := 0
				for _, u := range batches[i%len(batches)] {
					seqs = append(seqs, users[u])
					longest = max(longest, min(len(users[u]), 51))
				}
				width := 0
				switch mode {
				case "trimmed":
					width = longest
				case "full":
					width = 51
				}
				if width > 0 {
					for j, s := range seqs {
						padded[j] = padded[j][:0]
						for k := len(s); k < width; k++ {
							padded[j] = append(padded[j], s[0])
						}
						padded[j] = append(padded[j], s...)
						seqs[j] = padded[j]
					}
				}
				for _, s := range seqs {
					tokens += min(len(s), 51) - 1
				}
				opt.ZeroGrad()
				if _, err := m.LossGrad(seqs, rng); err != nil {
					b.Fatal(err)
				}
				opt.Step()
			}
			for i := 0; i < len(batches); i++ { // warm up: one epoch sizes every buffer
				step(i)
			}
			tokens = 0
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				step(i)
				i++
			}
			b.ReportMetric(float64(tokens)/float64(i), "tokens/op")
			b.ReportMetric(float64(len(batches)), "steps/epoch")
		})
	}
}

// BenchmarkLossStep compares one SASRec training step on 128 Beauty users
// (forward, loss, backward, Adam) under each loss: BCE with 1 negative,
// sampled softmax with 100 negatives and full cross-entropy over the 12,101
// items (tensor.LinearCrossEntropy against the whole table), with the
// CPU seconds per step beside the wall time (the machine may be shared):
//
//	go test ./backbone/ -run '^$' -bench LossStep -benchtime 100x -cpu 1
func BenchmarkLossStep(b *testing.B) {
	benchLossSteps(b, map[string]ModelConfig{"bce": {Loss: LossBCE},
		"sampled": {Loss: LossSampledSoftmax, NumNeg: 100}, "ce": {Loss: LossCrossEntropy}})
}

// benchLossSteps runs one sub-benchmark per named configuration: a SASRec
// training step (forward, loss, backward, Adam) on 128 Beauty users.
func benchLossSteps(b *testing.B, configs map[string]ModelConfig) {
	split := beauty(b)
	var users [][]int
	for _, s := range split.Train {
		if len(s) >= 2 {
			users = append(users, s)
		}
	}
	names := make([]string, 0, len(configs))
	for name := range configs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 1))
			cfg, err := DefaultEncoderConfig(KindSASRec)
			require.NoError(b, err)
			enc, err := NewSASRec(rng, cfg)
			require.NoError(b, err)
			m, err := NewSeqModel(enc, NewIDTable(rng, split.NumItems, 64), configs[name])
			require.NoError(b, err)
			require.NoError(b, m.Prepare(split.Train))
			opt, err := nn.NewAdam(m.Params(), nn.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8})
			require.NoError(b, err)
			i := 0
			step := func() {
				lo := (i * 128) % (len(users) - 128)
				i++
				opt.ZeroGrad()
				if _, err := m.LossGrad(users[lo:lo+128], rng); err != nil {
					b.Fatal(err)
				}
				opt.Step()
			}
			for range 3 {
				step()
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				step()
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
