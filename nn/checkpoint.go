package nn

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// SaveCheckpoint writes params to path as a .safetensors file whose keys are
// the parameter names (so PyTorch's safetensors.torch.load_file reads it as a
// state dict), with optional string metadata. The file is replaced
// atomically: a crash leaves either the old checkpoint or the new one. A
// parameter holding a NaN or an infinity is an error wrapping ErrNonFinite,
// and nothing is written.
func SaveCheckpoint(path string, params []Param, metadata map[string]string) error {
	if err := CheckNames(params); err != nil {
		return fmt.Errorf("nn: save checkpoint %s: %w", path, err)
	}
	if err := CheckFinite(params); err != nil {
		return fmt.Errorf("nn: save checkpoint %s: %w", path, err)
	}
	named := make([]safetensors.Named, len(params))
	for i, p := range params {
		if p.Value == nil || p.Value.Data == nil {
			return fmt.Errorf("nn: save checkpoint %s: parameter %q has no data", path, p.Name)
		}
		named[i] = safetensors.Named{Name: p.Name, Tensor: p.Value.Data}
	}
	if err := safetensors.WriteFile(path, named, metadata); err != nil {
		return fmt.Errorf("nn: save checkpoint: %w", err)
	}
	return nil
}

// LoadOptions relaxes LoadCheckpointWith's strict key matching. Shape
// mismatches are always errors. A plain value, safe to share.
type LoadOptions struct {
	// AllowMissing accepts parameters that the file does not contain; they
	// keep their current values.
	AllowMissing bool
	// AllowUnexpected accepts keys in the file that match no parameter; they
	// are ignored.
	AllowUnexpected bool
}

// LoadResult reports what a load skipped, and the file's metadata. A plain
// value owned by the caller; not safe for concurrent mutation.
type LoadResult struct {
	// Missing lists parameter names absent from the file, sorted.
	Missing []string
	// Unexpected lists file keys that match no parameter, sorted.
	Unexpected []string
	// Metadata is the file's "__metadata__" map (nil when absent).
	Metadata map[string]string
}

// Mismatch describes a key whose stored tensor cannot be loaded into the
// parameter of that name. A plain value, safe to read concurrently.
type Mismatch struct {
	Name string
	// Want is the parameter's shape, Got the stored one.
	Want, Got []int
	// DType is the stored dtype.
	DType safetensors.DType
}

// String describes the mismatch ("b: shape [2 3] in file, [3 2] in model").
func (m Mismatch) String() string {
	if !slices.Equal(m.Want, m.Got) {
		return fmt.Sprintf("%s: shape %v in file, %v in model", m.Name, m.Got, m.Want)
	}
	return fmt.Sprintf("%s: dtype %s is not a float type", m.Name, m.DType)
}

// CheckpointError is returned when a checkpoint's keys do not match the
// parameters. It lists every problem, each list sorted by name, like
// PyTorch's load_state_dict(strict=True). A plain value, safe to read
// concurrently.
type CheckpointError struct {
	Path       string
	Missing    []string
	Unexpected []string
	Mismatched []Mismatch
}

// Unwrap returns ErrBadCheckpoint, so that errors.Is(err,
// nn.ErrBadCheckpoint) holds for a *CheckpointError.
func (e *CheckpointError) Unwrap() error { return ErrBadCheckpoint }

// Error lists the path and every missing, unexpected and mismatched key.
func (e *CheckpointError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nn: load checkpoint %s: keys do not match the parameters", e.Path)
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; missing %d: %s", len(e.Missing), strings.Join(e.Missing, ", "))
	}
	if len(e.Unexpected) > 0 {
		fmt.Fprintf(&b, "; unexpected %d: %s", len(e.Unexpected), strings.Join(e.Unexpected, ", "))
	}
	if len(e.Mismatched) > 0 {
		fmt.Fprintf(&b, "; mismatched %d: ", len(e.Mismatched))
		for i, m := range e.Mismatched {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m.String())
		}
	}
	return b.String()
}

// LoadCheckpoint loads the checkpoint at path into params, strictly: every
// parameter must be in the file with the same shape, and the file must hold
// nothing else. Otherwise it returns a *CheckpointError listing all missing,
// unexpected and mismatched keys, and leaves params unchanged. F16, BF16 and
// F64 tensors are converted to float32. A malformed file is an error
// wrapping ErrBadCheckpoint (and safetensors.ErrFormat); a NaN or infinite
// weight one wrapping ErrBadCheckpoint and ErrNonFinite.
func LoadCheckpoint(path string, params []Param) error {
	_, err := LoadCheckpointWith(path, params, LoadOptions{})
	return err
}

// LoadCheckpointWith is LoadCheckpoint with relaxed key matching; it reports
// the keys it skipped. On any error no parameter is modified.
func LoadCheckpointWith(path string, params []Param, opts LoadOptions) (LoadResult, error) {
	if err := CheckNames(params); err != nil {
		return LoadResult{}, fmt.Errorf("nn: load checkpoint %s: %w", path, err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		if errors.Is(err, safetensors.ErrFormat) {
			return LoadResult{}, fmt.Errorf("nn: load checkpoint: %w: %w", ErrBadCheckpoint, err)
		}
		return LoadResult{}, fmt.Errorf("nn: load checkpoint: %w", err)
	}
	defer f.Close()

	res := LoadResult{Metadata: f.Metadata}
	cerr := &CheckpointError{Path: path}
	want := make(map[string]bool, len(params))
	for _, p := range params {
		if p.Value == nil || p.Value.Data == nil {
			return LoadResult{}, fmt.Errorf("nn: load checkpoint %s: parameter %q has no data", path, p.Name)
		}
		want[p.Name] = true
		info, ok := f.Info(p.Name)
		if !ok {
			res.Missing = append(res.Missing, p.Name)
			continue
		}
		switch {
		case !slices.Equal(info.Shape, p.Value.Data.Shape):
			cerr.Mismatched = append(cerr.Mismatched, Mismatch{Name: p.Name, Want: p.Value.Data.Shape, Got: info.Shape, DType: info.DType})
		case info.DType != safetensors.F32 && info.DType != safetensors.F64 &&
			info.DType != safetensors.F16 && info.DType != safetensors.BF16:
			cerr.Mismatched = append(cerr.Mismatched, Mismatch{Name: p.Name, Want: p.Value.Data.Shape, Got: info.Shape, DType: info.DType})
		}
	}
	for _, name := range f.Names() {
		if !want[name] {
			res.Unexpected = append(res.Unexpected, name)
		}
	}
	slices.Sort(res.Missing)
	slices.SortFunc(cerr.Mismatched, func(a, b Mismatch) int { return strings.Compare(a.Name, b.Name) })
	if !opts.AllowMissing {
		cerr.Missing = res.Missing
	}
	if !opts.AllowUnexpected {
		cerr.Unexpected = res.Unexpected
	}
	if len(cerr.Missing)+len(cerr.Unexpected)+len(cerr.Mismatched) > 0 {
		return res, cerr
	}

	// Read everything before touching the parameters, so that an I/O error
	// halfway leaves the model as it was.
	loaded := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		if _, ok := f.Info(p.Name); !ok {
			continue
		}
		t, err := f.Tensor(p.Name)
		if err != nil {
			return res, fmt.Errorf("nn: load checkpoint: %w", err)
		}
		if j := firstNonFinite(t.Data); j >= 0 {
			return res, fmt.Errorf("nn: load checkpoint %s: %w: %w: %s[%d] is %v", path, ErrBadCheckpoint, ErrNonFinite, p.Name, j, t.Data[j])
		}
		loaded[i] = t
	}
	for i, p := range params {
		if loaded[i] != nil {
			p.Value.Data.CopyFrom(loaded[i])
		}
	}
	return res, nil
}

// CheckFinite returns an error wrapping ErrNonFinite that names the first
// parameter holding a NaN or an infinity, and the element.
func CheckFinite(params []Param) error {
	for _, p := range params {
		if p.Value == nil || p.Value.Data == nil {
			continue
		}
		if i := firstNonFinite(p.Value.Data.Data); i >= 0 {
			return fmt.Errorf("%w: %s[%d] is %v", ErrNonFinite, p.Name, i, p.Value.Data.Data[i])
		}
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or infinity in v, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}
