package backbone

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/internal/testfile"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// fuzzSeed adds the parts of m's checkpoint to the corpus.
func fuzzSeed(f *testing.F, m *SeqModel) {
	f.Helper()
	cfg, err := json.Marshal(m.Config())
	if err != nil {
		f.Fatal(err)
	}
	var ts []safetensors.Named
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	meta, entries, data, err := testfile.Split(ts, metaKey, string(cfg))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(meta, entries, data)
}

// FuzzLoad feeds the checkpoint loader files whose metadata (the saved
// config), tensor entries (names, dtypes, shapes, offsets) and data are
// mutated separately. It must never panic, and a model it accepts must be
// finite, match its declared config and serve a request.
//
//	go test ./backbone -run '^$' -fuzz '^FuzzLoad$' -fuzztime 60s -fuzzminimizetime 0 -parallel 1
//
// (-fuzzminimizetime 0: minimizing every new input of a few kilobytes
// otherwise stalls the run for minutes.)
func FuzzLoad(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, kind := range []EncoderKind{KindSASRec, KindBERT4Rec, KindGRU4Rec} {
		cfg, err := DefaultEncoderConfig(kind)
		if err != nil {
			f.Fatal(err)
		}
		cfg.Dim, cfg.MaxLen, cfg.Blocks = 4, 3, 1
		enc, err := NewEncoder(r, cfg)
		if err != nil {
			f.Fatal(err)
		}
		var items ItemTable = NewIDTable(r, 5, 4)
		if kind == KindGRU4Rec {
			llm := NewIDTable(r, 5, 3).W.Data
			ad, err := NewAdapterTable(r, llm, 2, nil, nn.Identity)
			if err != nil {
				f.Fatal(err)
			}
			ct, err := NewConcatTable(ad, NewIDTable(r, 5, 2))
			if err != nil {
				f.Fatal(err)
			}
			items = NewNormalizedTable(ct, 2, true)
		}
		m, err := NewSeqModel(enc, items, ModelConfig{})
		if err != nil {
			f.Fatal(err)
		}
		fuzzSeed(f, m)
	}
	f.Fuzz(func(t *testing.T, meta, entries string, data []byte) {
		file, err := safetensors.ReadBytes(testfile.Join(metaKey, meta, entries, data))
		if err != nil {
			return
		}
		m, err := loadFrom(file, "fuzz-input-has-no-json.safetensors", BuildTable)
		if err != nil {
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("error does not wrap ErrBadCheckpoint: %v", err)
			}
			return
		}
		if err := nn.CheckFinite(m.Params()); err != nil {
			t.Fatalf("accepted a non-finite model: %v", err)
		}
		if err := m.Config().Validate(); err != nil {
			t.Fatalf("accepted model's config does not validate: %v", err)
		}
		if _, err := NewRecommender(m).TopK([]int{1}, 3, nil); err != nil && !isLibraryError(err) {
			t.Fatalf("TopK on an accepted model: %v", err)
		}
	})
}

// isLibraryError reports whether err is one of the package's typed errors.
func isLibraryError(err error) bool {
	for _, e := range []error{ErrNonFinite, ErrEmptyHistory, ErrItemOutOfRange} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
