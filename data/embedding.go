package data

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// maxEmbeddingDim bounds the width of an embedding file (LLM embeddings are
// at most a few thousand wide), so that a file of a few rows cannot make
// AlignEmbeddings allocate NumItems x a huge width.
const maxEmbeddingDim = 1 << 16

// EmbeddingOptions configures AlignEmbeddings and LoadItemEmbeddings. It is
// only read, so it is safe for concurrent use.
type EmbeddingOptions struct {
	// RowKeys, when non-nil, gives the raw item id of every file row (so
	// len(RowKeys) must equal the row count); rows are matched to items
	// through Dataset.ItemID. When nil, file row i is internal item i and
	// row 0 is padding (the layout of ../shared/data's .npy files).
	RowKeys []string
	// AllowExtraRows accepts files with more rows than items: without
	// RowKeys, rows above NumItems are ignored; with RowKeys, rows whose key
	// is not an item are ignored (counted in UnusedRows either way).
	AllowExtraRows bool
	// AllowMissing accepts items with no row (RowKeys mode); their vectors
	// stay zero and are listed in MissingItems.
	AllowMissing bool
	// Key names the tensor in a .safetensors file; empty means the file's
	// only tensor.
	Key string
}

// EmbeddingReport describes the checks made while aligning embeddings. It is
// not modified after it is returned; safe for concurrent reads.
type EmbeddingReport struct {
	// FileRows and Dim are the shape of the matrix read.
	FileRows, Dim int
	// ZeroRows lists the internal item ids (>= 1) whose vector is all zeros
	// (not an error: items without text have zero vectors).
	ZeroRows []int
	// MissingItems lists the internal item ids with no file row (RowKeys
	// mode with AllowMissing).
	MissingItems []int
	// UnusedRows counts file rows that matched no item (padding row 0
	// excluded).
	UnusedRows int
	// Row0NonZero is true when file row 0 (padding, in the default layout)
	// was not all zeros; the output row 0 is zero regardless.
	Row0NonZero bool
}

// NumericRowKeys returns the keys "0", "1", ..., strconv.Itoa(n-1): use it as
// EmbeddingOptions.RowKeys for a file whose row i belongs to raw item id i
// when the Dataset's ids no longer equal the file's (after a filter).
func NumericRowKeys(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = strconv.Itoa(i)
	}
	return k
}

// AlignEmbeddings checks the 2-D matrix m against d and returns a
// [NumItems+1, D] tensor whose row i is item i's vector and row 0 is zeros.
// name labels errors (usually the file name). It returns an error for a
// wrong row count, a missing item (unless allowed) or a NaN/Inf value (naming
// the file row and column); all-zero rows are reported, not rejected.
func AlignEmbeddings(m *tensor.Tensor, d *Dataset, name string, opts EmbeddingOptions) (*tensor.Tensor, *EmbeddingReport, error) {
	if len(m.Shape) != 2 {
		return nil, nil, fmt.Errorf("data: %s: embeddings have shape %v, want 2-D: %w", name, m.Shape, ErrBadInput)
	}
	rows, dim := m.Shape[0], m.Shape[1]
	rep := &EmbeddingReport{FileRows: rows, Dim: dim}
	if dim == 0 || rows == 0 {
		return nil, rep, fmt.Errorf("data: %s: embeddings have shape %v: no rows or no columns: %w", name, m.Shape, ErrBadInput)
	}
	if dim > maxEmbeddingDim {
		return nil, rep, fmt.Errorf("data: %s: embedding dimension %d above %d: %w", name, dim, maxEmbeddingDim, ErrBadInput)
	}
	for r := 0; r < rows; r++ {
		for c, v := range m.Data[r*dim : (r+1)*dim] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, rep, fmt.Errorf("data: %s: row %d column %d is %v: %w", name, r, c, v, ErrNonFinite)
			}
		}
	}
	n := d.NumItems
	out := tensor.New(n+1, dim)
	if opts.RowKeys == nil {
		switch {
		case rows < n+1:
			return nil, rep, fmt.Errorf("data: %s: %d rows, need NumItems+1 = %d (row i = item i, row 0 = padding): %w", name, rows, n+1, ErrBadInput)
		case rows > n+1 && !opts.AllowExtraRows:
			return nil, rep, fmt.Errorf("data: %s: %d rows but only %d items (+1 padding); set AllowExtraRows to ignore the rest: %w", name, rows, n, ErrBadInput)
		}
		copy(out.Data[dim:], m.Data[dim:(n+1)*dim])
		rep.UnusedRows = rows - (n + 1)
		rep.Row0NonZero = !allZero(m.Data[:dim])
	} else {
		if len(opts.RowKeys) != rows {
			return nil, rep, fmt.Errorf("data: %s: %d rows but %d row keys: %w", name, rows, len(opts.RowKeys), ErrBadInput)
		}
		have := make([]bool, n+1)
		for r, key := range opts.RowKeys {
			id, ok := d.ItemID(key)
			if !ok {
				if r == 0 && (key == "" || key == "0") {
					rep.Row0NonZero = !allZero(m.Data[:dim])
					continue
				}
				if !opts.AllowExtraRows {
					return nil, rep, fmt.Errorf("data: %s: row %d has key %q, which is not an item; set AllowExtraRows to ignore it: %w", name, r, clip(key), ErrBadInput)
				}
				rep.UnusedRows++
				continue
			}
			if have[id] {
				return nil, rep, fmt.Errorf("data: %s: row %d repeats key %q: %w", name, r, clip(key), ErrBadInput)
			}
			have[id] = true
			copy(out.Row(id), m.Data[r*dim:(r+1)*dim])
		}
		for i := 1; i <= n; i++ {
			if !have[i] {
				rep.MissingItems = append(rep.MissingItems, i)
			}
		}
		if len(rep.MissingItems) > 0 && !opts.AllowMissing {
			first := rep.MissingItems[0]
			return nil, rep, fmt.Errorf("data: %s: %w: %d items have no row (first: item %d, raw id %q); set AllowMissing to keep them zero",
				name, ErrBadInput, len(rep.MissingItems), first, clip(d.ItemRaw[first]))
		}
	}
	for i := 1; i <= n; i++ {
		if allZero(out.Row(i)) {
			rep.ZeroRows = append(rep.ZeroRows, i)
		}
	}
	return out, rep, nil
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// LoadItemEmbeddings reads an item-embedding file (.npy, or .safetensors
// with opts.Key) and aligns it with d as AlignEmbeddings does.
func LoadItemEmbeddings(path string, d *Dataset, opts EmbeddingOptions) (*tensor.Tensor, *EmbeddingReport, error) {
	name := filepath.Base(path)
	var m *tensor.Tensor
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		m, err = LoadNPY(path)
	case ".safetensors":
		m, err = loadSafetensor(path, opts.Key)
	default:
		return nil, nil, fmt.Errorf("data: %s: %w: unknown embedding file type (want .npy or .safetensors)", name, ErrBadInput)
	}
	if err != nil {
		return nil, nil, err
	}
	return AlignEmbeddings(m, d, name, opts)
}

func loadSafetensor(path, key string) (*tensor.Tensor, error) {
	name := filepath.Base(path)
	f, err := safetensors.Open(path)
	if err != nil {
		if errors.Is(err, safetensors.ErrFormat) {
			return nil, fmt.Errorf("data: %s: %w: %w", name, err, ErrBadInput)
		}
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	defer f.Close()
	if key == "" {
		names := f.Names()
		if len(names) != 1 {
			return nil, fmt.Errorf("data: %s: %d tensors %q; set EmbeddingOptions.Key: %w", name, len(names), names, ErrBadInput)
		}
		key = names[0]
	}
	if _, ok := f.Info(key); !ok {
		return nil, fmt.Errorf("data: %s: no tensor named %q (have %q): %w", name, key, f.Names(), ErrBadInput)
	}
	if in, _ := f.Info(key); len(in.Shape) != 2 {
		return nil, fmt.Errorf("data: %s: tensor %q has shape %v, want 2-D: %w", name, key, in.Shape, ErrBadInput)
	}
	t, err := f.Tensor(key)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w: %w", name, err, ErrBadInput)
	}
	return t, nil
}
