package backbone

import (
	"bytes"
	"encoding/json"
	"errors"
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
//
// The .json is a readable copy for people and other tools, not the source
// of truth: a model written by Save (or moe.Mixture.Save) carries its
// config in the .safetensors metadata, and Load reads it from there.
// Editing or deleting the .json of such a model changes nothing. Only a
// .safetensors file without llmrec metadata (written by another tool) takes
// its config from the .json, read through ReadSidecar (size-limited).
func JSONPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".json"
}

// MaxSidecarBytes bounds the .json config ReadSidecar reads beside a model
// file (1 MiB; a saved config is a few KiB).
const MaxSidecarBytes = 1 << 20

// ReadSidecar reads the JSON config beside the model file at path
// (JSONPath(path)). It reads at most MaxSidecarBytes and only from a regular
// file, so a sidecar that is a link to an endless file (/dev/zero, a FIFO)
// or a huge one is an error wrapping ErrBadCheckpoint, not an endless read.
// A missing file is the os error (errors.Is(err, fs.ErrNotExist)).
func ReadSidecar(path string) ([]byte, error) {
	jp := JSONPath(path)
	fh, err := os.Open(jp)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: config %s is not a regular file (%v)", ErrBadCheckpoint, jp, st.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxSidecarBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSidecarBytes {
		return nil, fmt.Errorf("%w: config %s is larger than %d bytes", ErrBadCheckpoint, jp, MaxSidecarBytes)
	}
	return b, nil
}

// Save writes the model's parameters to path as .safetensors (keys = the
// names of Params, so PyTorch can read them) with its SavedConfig in the
// metadata, and the same config, indented, to JSONPath(path).
//
// The two files are one unit (safetensors.WriteFilesAtomic): both are
// written in full to temporary files first, and neither is replaced unless
// both were written; then the .json is renamed into place and the model
// last, and a failed rename puts the old .json back. The .safetensors
// metadata is the authority (Load reads the structure from it, and the
// .json only for files without it), so even a crash between the two renames
// leaves a loadable, self-consistent model. Temporary files left by an
// interrupted save are removed by the next save of the same path.
//
// A model whose encoder or table kind is not registered (RegisterEncoder,
// RegisterTable) is not saved: Load could not rebuild it. Nor is a model
// with a NaN or infinite weight: the error wraps ErrNonFinite.
func (m *SeqModel) Save(path string) error {
	if err := CheckKinds(m.Enc.Config(), m.Items.Spec()); err != nil {
		return fmt.Errorf("backbone: save %s: %w", path, err)
	}
	params := m.Params()
	if err := nn.CheckFinite(params); err != nil {
		return fmt.Errorf("backbone: save %s: %w", path, err)
	}
	var ts []safetensors.Named
	for _, p := range params {
		ts = append(ts, safetensors.Named{Name: p.Name, Tensor: p.Value.Data})
	}
	if err := WriteCheckpoint(path, metaKey, m.Config(), nil, ts); err != nil {
		return fmt.Errorf("backbone: save %s: %w", path, err)
	}
	return nil
}

// WriteCheckpoint writes ts to path as .safetensors with cfg, JSON-encoded,
// in the metadata under key, and readable (cfg when nil), indented, to
// JSONPath(path), the two files as one unit (see SeqModel.Save). Savers of
// other packages (moe) use it too.
func WriteCheckpoint(path, key string, cfg, readable any, ts []safetensors.Named) error {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if readable == nil {
		readable = cfg
	}
	pretty, err := json.MarshalIndent(readable, "", "  ")
	if err != nil {
		return err
	}
	meta := map[string]string{key: string(raw)}
	return safetensors.WriteFilesAtomic(
		safetensors.AtomicFile{Path: JSONPath(path), Write: func(w io.Writer) error {
			_, err := w.Write(append(pretty, '\n'))
			return err
		}},
		safetensors.AtomicFile{Path: path, Write: func(w io.Writer) error { return safetensors.Write(w, ts, meta) }},
	)
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
// metadata (or, when absent, from JSONPath(path), size-limited: see
// ReadSidecar; editing the .json of a file with metadata changes nothing);
// every parameter must be
// present with its shape, and unexpected tensors are an error. The encoder
// and item-table kinds must be registered (RegisterEncoder, RegisterTable;
// the built-in ones are, and importing align registers PAD's).
//
// Load is total and bounded: every malformed file is an error, never a
// panic. The config is decoded strictly (an unknown field is an error) and
// validated (SavedConfig.Validate), and the sizes it declares are checked
// against the tensors the file holds (CheckSizes) before anything is
// allocated, so a small file declaring huge sizes fails fast with little
// memory. Errors about the file wrap ErrBadCheckpoint (config problems also
// ErrBadConfig, NaN or infinite weights also ErrNonFinite); a file that
// cannot be opened is the os error.
func Load(path string) (*SeqModel, error) {
	return LoadWith(path, BuildTable)
}

// LoadWith is Load with build making the item table instead of BuildTable.
// It predates RegisterTable, which makes a kind known to Load itself, and is
// kept for compatibility.
func LoadWith(path string, build TableBuilder) (*SeqModel, error) {
	f, err := OpenCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: load: %w", err)
	}
	defer f.Close()
	return loadFrom(f, path, build)
}

// loadFrom is LoadWith on an opened file (the fuzz target reads it from
// memory).
func loadFrom(f *safetensors.File, path string, build TableBuilder) (*SeqModel, error) {
	var cfg SavedConfig
	if err := ReadConfig(f, path, metaKey, &cfg); err != nil {
		return nil, fmt.Errorf("backbone: load %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("backbone: load %s: %w: %w", path, ErrBadCheckpoint, err)
	}
	need := cfg.Encoder.MinWeights() + cfg.Items.MinWeights()
	if err := CheckSizes(f, need, cfg.Items.NumItems, cfg.Items.Dim); err != nil {
		return nil, fmt.Errorf("backbone: load %s: %w", path, err)
	}
	m, err := buildWith(rand.New(rand.NewPCG(0, 0)), cfg, build)
	if err != nil {
		return nil, fmt.Errorf("backbone: load %s: %w: %w", path, ErrBadCheckpoint, asBadConfig(err))
	}
	if err := LoadTensors(f, path, m.Params()); err != nil {
		return nil, fmt.Errorf("backbone: load %s: %w", path, err)
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

// OpenCheckpoint opens a .safetensors checkpoint; a malformed file is an
// error wrapping both ErrBadCheckpoint and safetensors.ErrFormat.
func OpenCheckpoint(path string) (*safetensors.File, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		if errors.Is(err, safetensors.ErrFormat) {
			return nil, fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
		}
		return nil, err
	}
	return f, nil
}

// ReadConfig decodes the JSON config stored in f's metadata under key (or,
// when f has none, in JSONPath(path)) into v, strictly: unknown fields,
// trailing data and wrong types are errors wrapping ErrBadCheckpoint and
// ErrBadConfig. Loaders of other packages (moe) use it too.
func ReadConfig(f *safetensors.File, path, key string, v any) error {
	var raw []byte
	if s, ok := f.Metadata[key]; ok {
		raw = []byte(s)
	} else {
		b, err := ReadSidecar(path)
		if err != nil {
			return fmt.Errorf("%w: no %q metadata and no config file: %w", ErrBadCheckpoint, key, err)
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w: config: %w", ErrBadCheckpoint, ErrBadConfig, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %w: config: data after the JSON object", ErrBadCheckpoint, ErrBadConfig)
	}
	return nil
}

// LoadTensors fills params from f: the names must match exactly (a missing
// or unexpected tensor is an error), every shape must match, and every value
// must be finite. Shapes and names are checked before any tensor is read.
// Errors wrap ErrBadCheckpoint, and ErrNonFinite for a NaN or infinity.
func LoadTensors(f *safetensors.File, path string, params []nn.Param) error {
	want := map[string]bool{}
	var missing []string
	for _, p := range params {
		want[p.Name] = true
		in, ok := f.Info(p.Name)
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if !tensor.SameShape(in.Shape, p.Value.Data.Shape) {
			return fmt.Errorf("%w: tensor %s has shape %v, want %v", ErrBadCheckpoint, p.Name, in.Shape, p.Value.Data.Shape)
		}
	}
	var unexpected []string
	for _, n := range f.Names() {
		if !want[n] {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing) > 0 || len(unexpected) > 0 {
		return fmt.Errorf("%w: missing tensors %v, unexpected tensors %v", ErrBadCheckpoint, clipNames(missing), clipNames(unexpected))
	}
	for _, p := range params {
		t, err := f.Tensor(p.Name)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
		}
		copy(p.Value.Data.Data, t.Data)
	}
	if err := nn.CheckFinite(params); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
	}
	return nil
}

// clipNames keeps an error message short when a file has many names.
func clipNames(names []string) []string {
	if len(names) > 10 {
		return append(names[:10:10], fmt.Sprintf("... (%d more)", len(names)-10))
	}
	return names
}

// LoadRecommender loads a model written by Save and returns its Recommender.
func LoadRecommender(path string) (*Recommender, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	return NewRecommender(m), nil
}
