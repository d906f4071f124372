package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

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
//
// Temporary files are named "." + base(path) + ".tmp" + digits. A save that
// is killed leaves one behind; the next WriteFileAtomic (or WriteFilesAtomic)
// of the same path removes every file of that pattern first, so none
// outlives the next successful save. (Two processes saving the same path at
// once is a race in any case; here the loser's rename fails with an error.)
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return WriteFilesAtomic(AtomicFile{Path: path, Write: write})
}

// AtomicFile is one file of WriteFilesAtomic: its path and what to write
// into it. A plain value.
type AtomicFile struct {
	Path  string
	Write func(io.Writer) error
}

// WriteFilesAtomic writes several files as one unit, for a model and the
// config beside it: every file is first written in full to its temporary
// file (see WriteFileAtomic) and synced; if any write fails, every temporary
// file is removed and no target is touched. Then the targets are replaced
// in the order given, the last one being the commit point; if a rename
// fails, the files already replaced get their old contents back (kept as
// hard links while renaming), so that on every error the targets are as
// they were. Only a crash between two renames can leave the first files new
// and the last old; put the file that readers treat as the authority last.
func WriteFilesAtomic(files ...AtomicFile) (err error) {
	tmps := make([]string, len(files))
	defer func() {
		if err != nil {
			for _, t := range tmps {
				if t != "" {
					os.Remove(t)
				}
			}
		}
	}()
	for i, f := range files {
		removeStaleTemps(f.Path)
		if tmps[i], err = writeTemp(f.Path, f.Write); err != nil {
			return err
		}
	}
	// Replace the targets in order, keeping the old contents of the ones
	// replaced so far until the last rename succeeded.
	type done struct {
		path, backup string // backup "" when path did not exist or could not be kept
		existed      bool
	}
	var replaced []done
	for i, f := range files {
		d := done{path: f.Path}
		if _, serr := os.Lstat(f.Path); serr == nil {
			d.existed = true
			if i < len(files)-1 {
				d.backup = linkBackup(f.Path)
			}
		}
		if rerr := os.Rename(tmps[i], f.Path); rerr != nil {
			os.Remove(d.backup)
			for j := len(replaced) - 1; j >= 0; j-- {
				r := replaced[j]
				switch {
				case r.backup != "":
					os.Rename(r.backup, r.path)
				case !r.existed:
					os.Remove(r.path)
				}
			}
			return fmt.Errorf("safetensors: %w", rerr)
		}
		tmps[i] = ""
		replaced = append(replaced, d)
	}
	for _, r := range replaced {
		if r.backup != "" {
			os.Remove(r.backup)
		}
	}
	// Make the renames durable; not every platform can sync a directory,
	// so a failure here is not reported.
	dirs := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f.Path)
		if dirs[dir] {
			continue
		}
		dirs[dir] = true
		if d, derr := os.Open(dir); derr == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

// tempPattern is the os.CreateTemp pattern of path's temporary files.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp*" }

// isTempOf reports whether name (a base name) is one of path's temporary
// files: the pattern with only digits in place of the '*'.
func isTempOf(name, path string) bool {
	rest, ok := strings.CutPrefix(name, "."+filepath.Base(path)+".tmp")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// removeStaleTemps removes the temporary files an interrupted save of path
// left behind. Errors are ignored: a leftover that cannot be removed is
// harmless, and the save itself reports real problems with the directory.
func removeStaleTemps(path string) {
	dir := filepath.Dir(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Type().IsRegular() && isTempOf(e.Name(), path) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// writeTemp writes a temporary file for path, synced and of mode 0644, and
// returns its name; on error it removes it.
func writeTemp(path string, write func(io.Writer) error) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		return "", fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return "", fmt.Errorf("%w (writing %s)", err, path)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("safetensors: sync %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return "", fmt.Errorf("safetensors: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("safetensors: close %s: %w", path, err)
	}
	return tmp.Name(), nil
}

// linkBackup hard-links path's current file under a temporary name and
// returns it, so that it can be put back; "" when the file system cannot
// (the save then goes on without that safety net).
func linkBackup(path string) string {
	base := time.Now().UnixNano()
	for i := range int64(10) {
		name := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.tmp%d", filepath.Base(path), base+i))
		err := os.Link(path, name)
		if err == nil {
			return name
		}
		if !errors.Is(err, fs.ErrExist) {
			return ""
		}
	}
	return ""
}
