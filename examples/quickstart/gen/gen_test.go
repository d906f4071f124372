package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmrec/llmrec/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed files are exactly what the generator writes with the
// default config, so anyone can regenerate and check them.
func TestCommittedAssetsAreReproducible(t *testing.T) {
	seq, npy, _, err := files(defaultConfig())
	require.NoError(t, err)
	gotSeq, err := os.ReadFile(filepath.Join("..", "assets", SeqFile))
	require.NoError(t, err)
	gotNpy, err := os.ReadFile(filepath.Join("..", "assets", EmbFile))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(seq, gotSeq), "sequence file differs from a fresh generation: run go generate ./examples/quickstart")
	assert.True(t, bytes.Equal(npy, gotNpy), "embedding file differs from a fresh generation")
	assert.Less(t, len(seq)+len(npy), 1<<20, "embedded data must stay under 1 MiB")
}

// The planted structure is there: norm disparity, misalignment fraction,
// lengths, popularity skew, and the text reveals the behavioural topic of
// most items (nearest topic centroid by cosine).
func TestPlantedStructure(t *testing.T) {
	cfg := defaultConfig()
	_, _, ds, err := files(cfg)
	require.NoError(t, err)

	// Norms: lognormal, max/min >= 10; recomputed from the stored float32 rows.
	lo, hi := math.Inf(1), 0.0
	for i := 1; i <= cfg.Items; i++ {
		var s float64
		for _, v := range ds.Emb[i*cfg.Dim : (i+1)*cfg.Dim] {
			s += float64(v) * float64(v)
		}
		n := math.Sqrt(s)
		assert.InDelta(t, ds.Norms[i], n, 1e-4*ds.Norms[i])
		lo, hi = min(lo, n), max(hi, n)
	}
	assert.GreaterOrEqual(t, hi/lo, 10.0)
	for j := 0; j < cfg.Dim; j++ {
		assert.Zero(t, ds.Emb[j], "padding row")
	}

	mis := 0
	for i := 1; i <= cfg.Items; i++ {
		if ds.TextTopic[i] != ds.Behaviour[i] {
			mis++
		}
	}
	frac := float64(mis) / float64(cfg.Items)
	assert.InDelta(t, cfg.Misaligned, frac, 0.04)

	// Text reveals the behavioural topic of most items: nearest behavioural
	// centroid of the unit text vectors, leave-one-in (a float64 reference).
	cent := make([][]float64, cfg.Topics)
	for tt := range cent {
		cent[tt] = make([]float64, cfg.Dim)
	}
	unitRow := func(i int) []float64 {
		r := make([]float64, cfg.Dim)
		for j := range r {
			r[j] = float64(ds.Emb[i*cfg.Dim+j]) / ds.Norms[i]
		}
		return r
	}
	for i := 1; i <= cfg.Items; i++ {
		for j, v := range unitRow(i) {
			cent[ds.Behaviour[i]][j] += v
		}
	}
	hit := 0
	for i := 1; i <= cfg.Items; i++ {
		u, best, arg := unitRow(i), math.Inf(-1), -1
		for tt, c := range cent {
			var dot, cn float64
			for j := range c {
				dot += u[j] * c[j]
				cn += c[j] * c[j]
			}
			if s := dot / math.Sqrt(cn); s > best {
				best, arg = s, tt
			}
		}
		if arg == ds.Behaviour[i] {
			hit++
		}
	}
	acc := float64(hit) / float64(cfg.Items)
	assert.Greater(t, acc, 0.7, "text predicts the behavioural topic")
	assert.Less(t, acc, 0.95, "but not perfectly (misaligned items)")

	// Sequences: lengths in range, mean near MinLen+MeanExtra, no immediate repeats.
	total := 0
	count := make([]int, cfg.Items+1)
	for _, s := range ds.Seqs {
		require.GreaterOrEqual(t, len(s), cfg.MinLen)
		require.LessOrEqual(t, len(s), cfg.MaxLen)
		for k, it := range s {
			require.True(t, it >= 1 && it <= cfg.Items)
			if k > 0 {
				require.NotEqual(t, s[k-1], it)
			}
			count[it]++
		}
		total += len(s)
	}
	mean := float64(total) / float64(len(ds.Seqs))
	assert.InDelta(t, float64(cfg.MinLen)+cfg.MeanExtra, mean, 1.0)

	// Consecutive items share a behavioural topic at least about Stay of the time.
	same, pairs := 0, 0
	for _, s := range ds.Seqs {
		for k := 1; k < len(s); k++ {
			pairs++
			if ds.Behaviour[s[k]] == ds.Behaviour[s[k-1]] {
				same++
			}
		}
	}
	assert.Greater(t, float64(same)/float64(pairs), cfg.Stay-0.05)

	// Popularity skew: the top 10% of items hold far more than 10%.
	sorted := append([]int(nil), count[1:]...)
	for i := range sorted { // simple selection of the top 100 (test-side reference, O(n^2) is fine)
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] > sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	top := 0
	for _, c := range sorted[:cfg.Items/10] {
		top += c
	}
	assert.Greater(t, float64(top)/float64(total), 0.3)

	// The files parse with the library's readers.
	seq, npy, _, err := files(cfg)
	require.NoError(t, err)
	d, err := data.ReadSeq(bytes.NewReader(seq), SeqFile, data.Options{})
	require.NoError(t, err)
	assert.Equal(t, cfg.Users, d.NumUsers())
	assert.Equal(t, cfg.Items, d.NumItems)
	m, err := data.ReadNPY(bytes.NewReader(npy), EmbFile)
	require.NoError(t, err)
	assert.Equal(t, []int{cfg.Items + 1, cfg.Dim}, m.Shape)
}

func TestDeterministic(t *testing.T) {
	cfg := defaultConfig()
	cfg.Users, cfg.Items = 50, 40
	a, b, _, err := files(cfg)
	require.NoError(t, err)
	c, d, _, err := files(cfg)
	require.NoError(t, err)
	assert.Equal(t, a, c)
	assert.Equal(t, b, d)
	cfg.Seed++
	e, _, _, err := files(cfg)
	require.NoError(t, err)
	assert.NotEqual(t, a, e)
}

func TestRunWritesFiles(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	require.NoError(t, run([]string{"-out", dir}, &out, &errb))
	assert.Contains(t, out.String(), "wrote "+SeqFile)
	for _, n := range []string{SeqFile, EmbFile} {
		_, err := os.Stat(filepath.Join(dir, n))
		assert.NoError(t, err)
	}
}
