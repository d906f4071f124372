package backbone

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// SavedConfig is the structure of a saved SeqModel: enough to rebuild it
// before its weights are loaded. Save writes it into the .safetensors
// metadata (key "llmrec.backbone") and beside it as a .json file. It is a
// plain value, safe for concurrent reads.
type SavedConfig struct {
	// Format identifies the layout ("llmrec.backbone/v1").
	Format string `json:"format"`
	// Encoder configures the encoder.
	Encoder EncoderConfig `json:"encoder"`
	// Items describes the item table.
	Items TableSpec `json:"items"`
	// Model holds the task and loss settings.
	Model ModelConfig `json:"model"`
}

const (
	savedFormat = "llmrec.backbone/v1"
	metaKey     = "llmrec.backbone"
)

// Config returns the model's structure for saving.
func (m *SeqModel) Config() SavedConfig {
	return SavedConfig{Format: savedFormat, Encoder: m.Enc.Config(), Items: m.Items.Spec(), Model: m.Cfg}
}

// JSONPath returns the path of the JSON config written beside a model file:
// the path with its extension replaced by ".json".
func JSONPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".json"
}

// Save writes the model's parameters to path as .safetensors (keys = the
// names of Params, so PyTorch can read them) with its SavedConfig in the
// metadata, and the same config, indented, to JSONPath(path). Both files are
// written atomically (temporary file in the same folder, then rename). A
// model whose encoder or table kind is not registered (RegisterEncoder,
// RegisterTable) is not saved: Load could not rebuild it.
func (m *SeqModel) Save(path string) error {
	if err := CheckKinds(m.Enc.Config(), m.Items.Spec()); err != nil {
		return fmt.Errorf("backbone: save %s: %w", path, err)
	}
	cfg, err := json.Marshal(m.Config())
	if err != nil {
		return fmt.Errorf("backbone: save %s: %w", path, err)
	}
	var ts []safetensors.Named
	for _, p := range m.Params() {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	if err := safetensors.WriteFile(path, ts, map[string]string{metaKey: string(cfg)}); err != nil {
		return fmt.Errorf("backbone: save %s: %w", path, err)
	}
	pretty, _ := json.MarshalIndent(m.Config(), "", "  ")
	return writeJSONSidecar(JSONPath(path), append(pretty, '\n'))
}

// Build returns a SeqModel with cfg's structure and freshly initialized
// weights (see NewEncoder; the item table is built by BuildTable, zeroed).
func Build(rng *rand.Rand, cfg SavedConfig) (*SeqModel, error) {
	return buildWith(rng, cfg, BuildTable)
}

func buildWith(rng *rand.Rand, cfg SavedConfig, build TableBuilder) (*SeqModel, error) {
	enc, err := NewEncoder(rng, cfg.Encoder)
	if err != nil {
		return nil, err
	}
	items, err := build(cfg.Items)
	if err != nil {
		return nil, err
	}
	return NewSeqModel(enc, items, cfg.Model)
}

// Load reads a model written by Save. The structure comes from the file's
// metadata (or, when absent, from JSONPath(path)); every parameter must be
// present with its shape, and unexpected tensors are an error. The encoder
// and item-table kinds must be registered (RegisterEncoder, RegisterTable;
// the built-in ones are, and importing align registers PAD's).
func Load(path string) (*SeqModel, error) {
	return LoadWith(path, BuildTable)
}

// LoadWith is Load with build making the item table instead of BuildTable.
// It predates RegisterTable, which makes a kind known to Load itself, and is
// kept for compatibility.
func LoadWith(path string, build TableBuilder) (*SeqModel, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: load: %w", err)
	}
	defer f.Close()
	raw, ok := f.Metadata[metaKey]
	var cfgBytes []byte
	if ok {
		cfgBytes = []byte(raw)
	} else if cfgBytes, err = os.ReadFile(JSONPath(path)); err != nil {
		return nil, fmt.Errorf("backbone: load %s: no %q metadata and no config file: %w", path, metaKey, err)
	}
	var cfg SavedConfig
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return nil, fmt.Errorf("backbone: load %s: config: %w", path, err)
	}
	if cfg.Format != savedFormat {
		return nil, fmt.Errorf("backbone: load %s: format %q, want %q", path, cfg.Format, savedFormat)
	}
	m, err := buildWith(rand.New(rand.NewPCG(0, 0)), cfg, build)
	if err != nil {
		return nil, fmt.Errorf("backbone: load %s: %w", path, err)
	}
	if err := loadParams(f, path, m.Params()); err != nil {
		return nil, err
	}
	return m, nil
}

func loadParams(f *safetensors.File, path string, params []nn.Param) error {
	want := map[string]bool{}
	var missing []string
	for _, p := range params {
		want[p.Name] = true
		t, err := f.Tensor(p.Name)
		if err != nil {
			if _, ok := f.Info(p.Name); !ok {
				missing = append(missing, p.Name)
				continue
			}
			return fmt.Errorf("backbone: load %s: %w", path, err)
		}
		if !tensor.SameShape(t.Shape, p.Value.Data.Shape) {
			return fmt.Errorf("backbone: load %s: tensor %s has shape %v, want %v", path, p.Name, t.Shape, p.Value.Data.Shape)
		}
		copy(p.Value.Data.Data, t.Data)
	}
	var unexpected []string
	for _, n := range f.Names() {
		if !want[n] {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing) > 0 || len(unexpected) > 0 {
		return fmt.Errorf("backbone: load %s: missing tensors %v, unexpected tensors %v", path, missing, unexpected)
	}
	return nil
}

// LoadRecommender loads a model written by Save and returns its Recommender.
func LoadRecommender(path string) (*Recommender, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	return NewRecommender(m), nil
}

// writeJSONSidecar writes b to path atomically (safetensors.WriteFileAtomic).
func writeJSONSidecar(path string, b []byte) error {
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("backbone: write %s: %w", path, err)
	}
	return nil
}
