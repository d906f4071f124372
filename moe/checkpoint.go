package moe

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	_ "github.com/llmrec/llmrec/align" // registers PAD's table kinds
	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// SavedFormat identifies the layout of a saved Mixture.
const SavedFormat = "llmrec.moe/v1"

const metaKey = "llmrec.moe"

// SavedExpert is the structure of one expert of a saved Mixture.
type SavedExpert struct {
	Name    string                 `json:"name"`
	Encoder backbone.EncoderConfig `json:"encoder"`
	// SharedEncoder is the index of an earlier expert whose encoder this
	// expert shares, or -1.
	SharedEncoder int                `json:"shared_encoder"`
	Items         backbone.TableSpec `json:"items"`
}

// SavedGate is the structure of a saved gate: Kind "freq" (Bins holds the
// popularity bin of every item id, Logits the [bins+1, K] shape),
// "feature" (the feature table is saved as the tensor "gate.features") or
// a kind registered with RegisterGate (its own settings in Custom).
type SavedGate struct {
	Kind    string `json:"kind"`
	Norm    string `json:"norm"`
	Bins    []int  `json:"bins,omitempty"`
	Shape   []int  `json:"shape"`
	Experts int    `json:"experts"`
	// Custom holds a registered kind's own settings as raw JSON.
	Custom json.RawMessage `json:"custom,omitempty"`
}

// SavedMixture is the structure of a saved Mixture, enough to rebuild it
// before its weights are loaded. Save writes it into the .safetensors
// metadata (key "llmrec.moe") and beside it as a .json file.
type SavedMixture struct {
	Format  string        `json:"format"`
	Experts []SavedExpert `json:"experts"`
	Gate    SavedGate     `json:"gate"`
	NumNeg  int           `json:"num_neg"`
}

// Config returns the Mixture's structure for saving. It fails for a gate
// that is not a SavableGate of a registered kind (RegisterGate).
func (m *Mixture) Config() (SavedMixture, error) {
	cfg := SavedMixture{Format: SavedFormat, NumNeg: m.NumNeg}
	for k, e := range m.Experts {
		se := SavedExpert{Name: e.Name, Encoder: e.Enc.Config(), SharedEncoder: -1, Items: e.Items.Spec()}
		if err := backbone.CheckKinds(se.Encoder, se.Items); err != nil {
			return cfg, fmt.Errorf("moe: expert %d (%q): %w", k, e.Name, err)
		}
		for j := range k {
			if m.Experts[j].Enc == e.Enc {
				se.SharedEncoder = j
				break
			}
		}
		cfg.Experts = append(cfg.Experts, se)
	}
	g, err := savedGate(m.Gate)
	if err != nil {
		return cfg, err
	}
	cfg.Gate = g
	return cfg, nil
}

// Save writes the Mixture's parameters (keys = the names of Params; a
// FeatureGate's features under "gate.features") to path as .safetensors
// with its SavedMixture in the metadata, and the same config, indented, to
// backbone.JSONPath(path). Both files are written atomically.
func (m *Mixture) Save(path string) error {
	cfg, err := m.Config()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("moe: save %s: %w", path, err)
	}
	var ts []safetensors.Named
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	if g, ok := m.Gate.(*FeatureGate); ok {
		ts = append(ts, safetensors.Named{Name: "gate.features", Tensor: g.Features})
	}
	if err := safetensors.WriteFile(path, ts, map[string]string{metaKey: string(raw)}); err != nil {
		return fmt.Errorf("moe: save %s: %w", path, err)
	}
	cfg.Gate.Bins = nil // the bins are in the .safetensors metadata; keep the .json readable
	pretty, _ := json.MarshalIndent(cfg, "", "  ")
	return writeJSONSidecar(backbone.JSONPath(path), append(pretty, '\n'))
}

func parseNorm(s string) (Normalization, error) {
	switch s {
	case "sigmoid", "":
		return SigmoidNorm, nil
	case "softmax":
		return SoftmaxNorm, nil
	}
	return 0, fmt.Errorf("unknown gate normalization %q", s)
}

// Build returns a Mixture with cfg's structure and placeholder weights (item
// tables zeroed, see backbone.BuildTable), to be filled from a checkpoint.
// Encoder, table and gate kinds must be registered (backbone.RegisterEncoder,
// backbone.RegisterTable, RegisterGate); the built-in ones and PAD's are.
func Build(cfg SavedMixture) (*Mixture, error) {
	if cfg.Format != SavedFormat {
		return nil, fmt.Errorf("moe: format %q, want %q", cfg.Format, SavedFormat)
	}
	rng := rand.New(rand.NewPCG(0, 0))
	experts := make([]Expert, len(cfg.Experts))
	for k, se := range cfg.Experts {
		items, err := backbone.BuildTable(se.Items)
		if err != nil {
			return nil, fmt.Errorf("moe: expert %d (%q): %w", k, se.Name, err)
		}
		var enc backbone.Encoder
		if j := se.SharedEncoder; j >= 0 {
			if j >= k {
				return nil, fmt.Errorf("moe: expert %d (%q) shares the encoder of expert %d, not an earlier one", k, se.Name, j)
			}
			enc = experts[j].Enc
		} else if enc, err = backbone.NewEncoder(rng, se.Encoder); err != nil {
			return nil, fmt.Errorf("moe: expert %d (%q): %w", k, se.Name, err)
		}
		experts[k] = Expert{Name: se.Name, Enc: enc, Items: items}
	}
	if len(experts) == 0 {
		return nil, fmt.Errorf("moe: no experts")
	}
	gate, err := buildGate(rng, cfg.Gate, experts[0].Items.NumItems())
	if err != nil {
		return nil, err
	}
	return NewMixture(experts, gate, cfg.NumNeg)
}

// Load reads a Mixture written by Save: the structure from the file's
// metadata (or, when absent, from backbone.JSONPath(path)), then every
// parameter, which must be present with its shape; unexpected tensors are an
// error.
func Load(path string) (*Mixture, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("moe: load: %w", err)
	}
	defer f.Close()
	var raw []byte
	if s, ok := f.Metadata[metaKey]; ok {
		raw = []byte(s)
	} else if raw, err = os.ReadFile(backbone.JSONPath(path)); err != nil {
		return nil, fmt.Errorf("moe: load %s: no %q metadata and no config file: %w", path, metaKey, err)
	}
	var cfg SavedMixture
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("moe: load %s: config: %w", path, err)
	}
	m, err := Build(cfg)
	if err != nil {
		return nil, fmt.Errorf("moe: load %s: %w", path, err)
	}
	params := m.Params()
	if g, ok := m.Gate.(*FeatureGate); ok {
		v := autograd.NewParam(g.Features)
		params = append(params, nn.Param{Name: "gate.features", Value: v})
	}
	want := map[string]bool{}
	var missing, unexpected []string
	for _, p := range params {
		want[p.Name] = true
		if _, ok := f.Info(p.Name); !ok {
			missing = append(missing, p.Name)
			continue
		}
		t, err := f.Tensor(p.Name)
		if err != nil {
			return nil, fmt.Errorf("moe: load %s: %w", path, err)
		}
		if !tensor.SameShape(t.Shape, p.Value.Data.Shape) {
			return nil, fmt.Errorf("moe: load %s: tensor %s has shape %v, want %v", path, p.Name, t.Shape, p.Value.Data.Shape)
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("moe: load %s: tensor %s: non-finite value at element %d", path, p.Name, i)
			}
		}
		copy(p.Value.Data.Data, t.Data)
	}
	for _, n := range f.Names() {
		if !want[n] {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing) > 0 || len(unexpected) > 0 {
		return nil, fmt.Errorf("moe: load %s: missing tensors %v, unexpected tensors %v", path, missing, unexpected)
	}
	return m, nil
}

// LoadRecommender loads a Mixture written by Save and returns the
// backbone.Recommender that serves it, the same type (and the same TopK,
// Score, ScoreAll and ScoreCandidates) as backbone.LoadRecommender returns
// for a SeqModel.
func LoadRecommender(path string) (*backbone.Recommender, error) {
	s, err := LoadScorer(path)
	if err != nil {
		return nil, err
	}
	return s.Recommender, nil
}

// LoadScorer loads a Mixture written by Save and returns its Scorer (its
// Recommender and gate weights).
func LoadScorer(path string) (*Scorer, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	return m.NewScorer()
}

// IsCheckpoint reports whether path holds a Mixture written by Save (rather
// than, say, a backbone.SeqModel): its .safetensors metadata has the key
// "llmrec.moe" or, when the file has no llmrec metadata, the config beside
// it (backbone.JSONPath) has the format SavedFormat. Only the file's header
// is read. The error is about path not being a readable .safetensors file.
func IsCheckpoint(path string) (bool, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return false, fmt.Errorf("moe: %w", err)
	}
	defer f.Close()
	if _, ok := f.Metadata[metaKey]; ok {
		return true, nil
	}
	for k := range f.Metadata {
		if strings.HasPrefix(k, "llmrec.") {
			return false, nil // another llmrec model, e.g. "llmrec.backbone"
		}
	}
	raw, err := os.ReadFile(backbone.JSONPath(path))
	if err != nil {
		return false, nil
	}
	var head struct {
		Format string `json:"format"`
	}
	return json.Unmarshal(raw, &head) == nil && head.Format == SavedFormat, nil
}

// writeJSONSidecar writes b to path atomically (safetensors.WriteFileAtomic).
func writeJSONSidecar(path string, b []byte) error {
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("moe: write %s: %w", path, err)
	}
	return nil
}
