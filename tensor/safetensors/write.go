package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/llmrec/llmrec/tensor"
)

// Named is a tensor with the key it is stored under. Write only reads the
// tensor, so several goroutines may write the same tensors concurrently as
// long as nobody modifies them.
type Named struct {
	Name   string
	Tensor *tensor.Tensor
}

// Write writes tensors (as F32, in the given order) and optional metadata in
// the safetensors format. The header is padded with spaces to a multiple of 8
// bytes so that the data buffer is aligned. Names must be non-empty, unique
// and not "__metadata__"; each tensor's Data must match its Shape.
func Write(w io.Writer, tensors []Named, metadata map[string]string) error {
	hdr, err := header(tensors, metadata)
	if err != nil {
		return err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	// Encode the data in chunks: one Write per 64 KiB, not per element.
	buf := make([]byte, 0, chunk)
	for _, nt := range tensors {
		for _, v := range nt.Tensor.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return fmt.Errorf("safetensors: write: %w", err)
				}
				buf = buf[:0]
			}
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

func header(tensors []Named, metadata map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	key := func(s string) {
		enc.Encode(s) // cannot fail for a string
		buf.Truncate(buf.Len() - 1)
		buf.WriteByte(':')
	}
	buf.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		key(metaKey)
		if err := enc.Encode(metadata); err != nil {
			return nil, fmt.Errorf("safetensors: metadata: %w", err)
		}
		buf.Truncate(buf.Len() - 1)
		first = false
	}
	seen := make(map[string]bool, len(tensors))
	var off int64
	for i, nt := range tensors {
		switch {
		case nt.Name == "":
			return nil, fmt.Errorf("safetensors: tensor %d has an empty name", i)
		case nt.Name == metaKey:
			return nil, fmt.Errorf("safetensors: tensor %d: the name %q is reserved", i, metaKey)
		case seen[nt.Name]:
			return nil, fmt.Errorf("safetensors: duplicate tensor name %q", nt.Name)
		case nt.Tensor == nil:
			return nil, fmt.Errorf("safetensors: tensor %q is nil", nt.Name)
		}
		seen[nt.Name] = true
		n := 1
		for _, d := range nt.Tensor.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q has negative dimension in shape %v", nt.Name, nt.Tensor.Shape)
			}
			n *= d
		}
		if n != len(nt.Tensor.Data) {
			return nil, fmt.Errorf("safetensors: tensor %q has %d elements for shape %v", nt.Name, len(nt.Tensor.Data), nt.Tensor.Shape)
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		key(nt.Name)
		end := off + 4*int64(n)
		fmt.Fprintf(&buf, `{"dtype":"F32","shape":[`)
		for j, d := range nt.Tensor.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, "%d", d)
		}
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes(), nil
}

// WriteFile writes the tensors and metadata to path atomically (see
// WriteFileAtomic): a reader sees either the old file or the complete new
// one, never a partial write.
func WriteFile(path string, tensors []Named, metadata map[string]string) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}

// WriteFileAtomic creates or replaces path with what write writes, so that a
// reader sees either the old file or the complete new one: the bytes go to a
// temporary file in the same directory, which is synced, given mode 0644 and
// renamed over path; on any error the temporary file is removed and path is
// untouched. The library's other writers (checkpoint sidecars, .npy) use it
// too, so that every file it writes is written the same way.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: sync %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	// Make the rename itself durable; not every platform can sync a
	// directory, so a failure here is not reported.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
