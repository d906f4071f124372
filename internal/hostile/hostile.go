// Package hostile writes the malformed and hostile model files of issue 12
// (a tiny file declaring 2^40 items, a mixture without experts, NaN weights,
// unknown config fields, ...) for the loaders' tests, the service's
// refuse-to-start test and by hand:
//
//	LLMREC_HOSTILE_DIR=/some/dir go test ./internal/hostile -run TestWrite
//
// Every file except Overflow must be rejected by the loader of its kind
// (backbone.Load or moe.Load) with an error; Overflow loads (its weights are
// finite) but every score it gives is infinite or NaN.
package hostile

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// File is one hostile file: its path, the loader that should reject it
// ("backbone" or "moe") and what is wrong with it.
type File struct {
	Name string
	// Row is the row of issue 12's table it reproduces ("" for extra cases).
	Row  string
	Kind string
	Path string
	// Loads is true for a file the loader accepts but a service must
	// refuse (finite weights that overflow every score).
	Loads bool
}

// Overflow names the file whose weights are finite but overflow.
const Overflow = "weights-3e38"

const encJSON = `{"kind":"sasrec","dim":8,"max_len":6,"blocks":1,"heads":1,"inner":8,"dropout":0,"style":"tf","activation":"relu","ln_eps":1e-8}`

// raw writes a .safetensors file with the given metadata and no tensors.
func raw(path, key, meta string) error {
	return safetensors.WriteFile(path, nil, map[string]string{key: meta})
}

// Tiny returns a small valid SASRec model (10 items, d 8) with seeded
// weights.
func Tiny() (*backbone.SeqModel, error) {
	r := rand.New(rand.NewPCG(1, 2))
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		return nil, err
	}
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Dropout = 8, 6, 1, 0
	enc, err := backbone.NewSASRec(r, cfg)
	if err != nil {
		return nil, err
	}
	return backbone.NewSeqModel(enc, backbone.NewIDTable(r, 10, 8), backbone.ModelConfig{})
}

// writeModel writes m with its weights as they are (bypassing Save's
// refusal of non-finite weights) and its config, changed by edit, in the
// metadata; no .json beside it.
func writeModel(path string, m *backbone.SeqModel, edit func(string) string) error {
	var ts []safetensors.Named
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	b, err := json.Marshal(m.Config())
	if err != nil {
		return err
	}
	meta := string(b)
	if edit != nil {
		meta = edit(meta)
	}
	return safetensors.WriteFile(path, ts, map[string]string{"llmrec.backbone": meta})
}

// Write writes every hostile file into dir and lists them.
func Write(dir string) ([]File, error) {
	var out []File
	add := func(name, row, kind string, loads bool, write func(path string) error) error {
		p := filepath.Join(dir, name+".safetensors")
		if err := write(p); err != nil {
			return fmt.Errorf("hostile: %s: %w", name, err)
		}
		out = append(out, File{Name: name, Row: row, Kind: kind, Path: p, Loads: loads})
		return nil
	}
	tinyWith := func(edit func(string) string, weights func(m *backbone.SeqModel)) func(string) error {
		return func(p string) error {
			m, err := Tiny()
			if err != nil {
				return err
			}
			if weights != nil {
				weights(m)
			}
			return writeModel(p, m, edit)
		}
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	fill := func(v float32) func(m *backbone.SeqModel) {
		return func(m *backbone.SeqModel) {
			for _, p := range m.Params() {
				for i := range p.Value.Data.Data {
					if i%2 == 0 {
						p.Value.Data.Data[i] = v
					} else {
						p.Value.Data.Data[i] = -v
					}
				}
			}
		}
	}
	moeExperts := `[{"name":"a","encoder":` + encJSON + `,"shared_encoder":-1,"items":{"kind":"id","num_items":10,"dim":8}}]`
	steps := []struct {
		name, row, kind string
		loads           bool
		write           func(string) error
	}{
		{"backbone-items-2^40", "1", "backbone", false, func(p string) error {
			return raw(p, "llmrec.backbone", `{"format":"llmrec.backbone/v1","encoder":`+encJSON+`,"items":{"kind":"id","num_items":1099511627776,"dim":64},"model":{"task":"next","num_neg":1}}`)
		}},
		{"backbone-items-1e6-dim-1024", "1", "backbone", false, func(p string) error {
			return raw(p, "llmrec.backbone", `{"format":"llmrec.backbone/v1","encoder":`+strings.Replace(encJSON, `"dim":8`, `"dim":1024`, 1)+`,"items":{"kind":"id","num_items":1000000,"dim":1024},"model":{"task":"next","num_neg":1}}`)
		}},
		{"moe-feature-gate-2^40", "2", "moe", false, func(p string) error {
			return raw(p, "llmrec.moe", `{"format":"llmrec.moe/v1","experts":`+moeExperts+`,"gate":{"kind":"feature","norm":"sigmoid","shape":[1099511627776,1024],"experts":1},"num_neg":1}`)
		}},
		{"moe-no-experts", "3", "moe", false, func(p string) error {
			return raw(p, "llmrec.moe", `{"format":"llmrec.moe/v1","experts":[],"gate":{"kind":"freq","norm":"sigmoid","bins":[0],"shape":[1,0],"experts":0},"num_neg":1}`)
		}},
		{"backbone-4M-items-4M-window", "4", "backbone", false, func(p string) error {
			return raw(p, "llmrec.backbone", `{"format":"llmrec.backbone/v1","encoder":`+strings.Replace(encJSON, `"max_len":6`, `"max_len":4000000`, 1)+`,"items":{"kind":"id","num_items":4000000,"dim":8},"model":{"task":"next","num_neg":1}}`)
		}},
		{"backbone-4M-items-64k-window", "4", "backbone", false, func(p string) error {
			return raw(p, "llmrec.backbone", `{"format":"llmrec.backbone/v1","encoder":`+strings.Replace(encJSON, `"max_len":6`, `"max_len":65536`, 1)+`,"items":{"kind":"id","num_items":4000000,"dim":8},"model":{"task":"next","num_neg":1}}`)
		}},
		{"backbone-adapter-at-the-caps", "", "backbone", false, func(p string) error {
			return raw(p, "llmrec.backbone", `{"format":"llmrec.backbone/v1","encoder":`+encJSON+`,"items":{"kind":"adapter","num_items":67108864,"dim":8,"llm_dim":32768},"model":{"task":"next","num_neg":1}}`)
		}},
		{"weights-nan", "5", "backbone", false, tinyWith(nil, func(m *backbone.SeqModel) {
			m.Enc.Params()[0].Value.Data.Data[3] = float32(math.NaN())
		})},
		{"weights-inf", "5", "backbone", false, tinyWith(nil, func(m *backbone.SeqModel) {
			m.Items.Params()[0].Value.Data.Data[9] = float32(math.Inf(-1))
		})},
		{Overflow, "5", "backbone", true, tinyWith(nil, fill(3e38))},
		{"config-unknown-field", "11", "backbone", false, tinyWith(replace(`"format"`, `"surprise":1,"format"`), nil)},
		{"config-ln-eps-negative", "11", "backbone", false, tinyWith(replace(`"ln_eps":1e-8`, `"ln_eps":-1`), nil)},
		{"config-num-neg-1e15", "11", "backbone", false, tinyWith(replace(`"num_neg":1`, `"num_neg":1000000000000000`), nil)},
		{"config-dropout-nan-string", "11", "backbone", false, tinyWith(replace(`"dropout":0`, `"dropout":"NaN"`), nil)},
		{"config-trailing-data", "", "backbone", false, tinyWith(func(s string) string { return s + `{}` }, nil)},
		{"truncated", "", "backbone", false, func(p string) error {
			if err := tinyWith(nil, nil)(p); err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, b[:len(b)-7], 0o644)
		}},
		{"not-safetensors", "", "backbone", false, func(p string) error {
			return os.WriteFile(p, []byte("\xff\xff\xff\xff\xff\xff\xff\x7fhello"), 0o644)
		}},
		{"moe-missing-tensors", "", "moe", false, func(p string) error {
			return raw(p, "llmrec.moe", `{"format":"llmrec.moe/v1","experts":`+moeExperts+`,"gate":{"kind":"freq","norm":"sigmoid","bins":[0,1,1,1,1,1,1,1,1,1,1],"shape":[2,1],"experts":1},"num_neg":1}`)
		}},
		{"moe-freq-gate-bins-huge", "", "moe", false, func(p string) error {
			return raw(p, "llmrec.moe", `{"format":"llmrec.moe/v1","experts":`+moeExperts+`,"gate":{"kind":"freq","norm":"sigmoid","bins":[0,1,1,1,1,1,1,1,1,1,1],"shape":[1000000000,1],"experts":1},"num_neg":1}`)
		}},
	}
	for _, s := range steps {
		if err := add(s.name, s.row, s.kind, s.loads, s.write); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Mixture returns a small valid Mixture (two ID experts over 10 items, a
// freq gate), for tests that need a good moe file beside the bad ones.
func Mixture() (*moe.Mixture, error) {
	r := rand.New(rand.NewPCG(3, 4))
	cfg, err := backbone.DefaultEncoderConfig(backbone.KindSASRec)
	if err != nil {
		return nil, err
	}
	cfg.Dim, cfg.MaxLen, cfg.Blocks, cfg.Dropout = 8, 6, 1, 0
	var experts []moe.Expert
	for _, name := range []string{"a", "b"} {
		enc, err := backbone.NewSASRec(r, cfg)
		if err != nil {
			return nil, err
		}
		experts = append(experts, moe.Expert{Name: name, Enc: enc, Items: backbone.NewIDTable(r, 10, 8)})
	}
	bins := make([]int, 11)
	for i := 1; i <= 10; i++ {
		bins[i] = 1 + (i-1)/5
	}
	gate, err := moe.NewFreqGate(bins, [][]float64{{0, 1, -1}, {0, -1, 1}})
	if err != nil {
		return nil, err
	}
	return moe.NewMixture(experts, gate, 1)
}
