package moe

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	_ "github.com/llmrec/llmrec/align" // registers PAD's table kinds
	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
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
// backbone.JSONPath(path), the two as one unit, as backbone's SeqModel.Save
// does (the .safetensors metadata is the authority; neither file is
// replaced unless both were written). A Mixture with a NaN or infinite
// weight is not saved (the error wraps ErrNonFinite).
func (m *Mixture) Save(path string) error {
	cfg, err := m.Config()
	if err != nil {
		return err
	}
	params := m.savedParams()
	if err := nn.CheckFinite(params); err != nil {
		return fmt.Errorf("moe: save %s: %w", path, err)
	}
	var ts []safetensors.Named
	for _, p := range params {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	readable := cfg
	readable.Gate.Bins = nil // the bins are in the .safetensors metadata; keep the .json readable
	if err := backbone.WriteCheckpoint(path, metaKey, cfg, readable, ts); err != nil {
		return fmt.Errorf("moe: save %s: %w", path, err)
	}
	return nil
}

// savedParams returns Params and, for a FeatureGate, its features as
// "gate.features" (saved and loaded like a parameter).
func (m *Mixture) savedParams() []nn.Param {
	params := m.Params()
	if g, ok := m.Gate.(*FeatureGate); ok {
		params = append(params, nn.Param{Name: "gate.features", Value: autograd.NewParam(g.Features)})
	}
	return params
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
// cfg is validated first (SavedMixture.Validate).
func Build(cfg SavedMixture) (*Mixture, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("moe: %w", err)
	}
	rng := rand.New(rand.NewPCG(0, 0))
	experts := make([]Expert, len(cfg.Experts))
	for k, se := range cfg.Experts {
		items, err := backbone.BuildTable(se.Items)
		if err != nil {
			return nil, fmt.Errorf("moe: expert %d (%q): %w", k, se.Name, err)
		}
		var enc backbone.Encoder
		if j := se.SharedEncoder; j >= 0 { // j < k: checked by Validate
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
// parameter, which must be present with its shape and finite; unexpected
// tensors are an error.
//
// Like backbone.Load it is total and bounded: the config is decoded
// strictly and validated (SavedMixture.Validate), and the sizes it declares
// are checked against the tensors the file holds before anything is
// allocated. Errors about the file wrap ErrBadCheckpoint (config problems
// also ErrBadConfig, NaN or infinite weights also ErrNonFinite).
func Load(path string) (*Mixture, error) {
	f, err := backbone.OpenCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("moe: load: %w", err)
	}
	defer f.Close()
	return loadFrom(f, path)
}

// loadFrom is Load on an opened file (the fuzz target reads it from memory).
func loadFrom(f *safetensors.File, path string) (*Mixture, error) {
	var cfg SavedMixture
	if err := backbone.ReadConfig(f, path, metaKey, &cfg); err != nil {
		return nil, fmt.Errorf("moe: load %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("moe: load %s: %w: %w", path, ErrBadCheckpoint, err)
	}
	n := cfg.Experts[0].Items.NumItems
	if err := backbone.CheckSizes(f, cfg.minWeights(), n, cfg.sumDim()); err != nil {
		return nil, fmt.Errorf("moe: load %s: %w", path, err)
	}
	m, err := Build(cfg)
	if err != nil {
		return nil, fmt.Errorf("moe: load %s: %w: %w", path, ErrBadCheckpoint, asBadConfig(err))
	}
	if err := backbone.LoadTensors(f, path, m.savedParams()); err != nil {
		return nil, fmt.Errorf("moe: load %s: %w", path, err)
	}
	return m, nil
}

// asBadConfig returns err, wrapped with ErrBadConfig unless it already is.
func asBadConfig(err error) error {
	if errors.Is(err, ErrBadConfig) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadConfig, err)
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
// is read. The error is about path not being a readable .safetensors file
// (wrapping ErrBadCheckpoint when it is not one at all).
func IsCheckpoint(path string) (bool, error) {
	f, err := backbone.OpenCheckpoint(path)
	if err != nil {
		return false, fmt.Errorf("moe: IsCheckpoint: %w", err)
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
	raw, err := backbone.ReadSidecar(path)
	if err != nil {
		return false, nil
	}
	var head struct {
		Format string `json:"format"`
	}
	return json.Unmarshal(raw, &head) == nil && head.Format == SavedFormat, nil
}
