package moe

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/internal/testfile"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// FuzzLoad feeds the Mixture loader files whose metadata (the saved
// structure), tensor entries and data are mutated separately. It must never
// panic, and a Mixture it accepts must be finite and serve a request.
//
//	go test ./moe -run '^$' -fuzz '^FuzzLoad$' -fuzztime 60s -fuzzminimizetime 0 -parallel 1
func FuzzLoad(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	seed := func(m *Mixture) {
		cfg, err := m.Config()
		if err != nil {
			f.Fatal(err)
		}
		raw, err := json.Marshal(cfg)
		if err != nil {
			f.Fatal(err)
		}
		var ts []safetensors.Named
		for _, p := range m.savedParams() {
			ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
		}
		meta, entries, data, err := testfile.Split(ts, metaKey, string(raw))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(meta, entries, data)
	}
	seed(padMixture(f, 5, 4, false, r))
	m := padMixture(f, 4, 4, true, r)
	feats := tensor.New(5, 2)
	for i := range feats.Data {
		feats.Data[i] = float32(i%3) - 1
	}
	fg, err := NewFeatureGate(r, feats, len(m.Experts), SoftmaxNorm)
	if err != nil {
		f.Fatal(err)
	}
	m.Gate = fg
	seed(m)
	f.Fuzz(func(t *testing.T, meta, entries string, data []byte) {
		file, err := safetensors.ReadBytes(testfile.Join(metaKey, meta, entries, data))
		if err != nil {
			return
		}
		m, err := loadFrom(file, "fuzz-input-has-no-json.safetensors")
		if err != nil {
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("error does not wrap ErrBadCheckpoint: %v", err)
			}
			return
		}
		if err := nn.CheckFinite(m.savedParams()); err != nil {
			t.Fatalf("accepted a non-finite mixture: %v", err)
		}
		s, err := m.NewScorer()
		if err != nil {
			return
		}
		_, err = s.TopK([]int{1}, 3, nil)
		if err != nil && !errors.Is(err, backbone.ErrNonFinite) {
			t.Fatalf("TopK on an accepted mixture: %v", err)
		}
	})
}
