package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths
)

// The pipelines read and write through Beam's filesystem registry, so the
// same flags work with local paths (direct runner, Prism) and with a
// cluster's object store (gs://... on Dataflow, s3://... when that
// filesystem is linked in).

// listGlob expands glob to its files, sorted by name; no match is an error.
func listGlob(ctx context.Context, glob string) ([]string, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	files, err := fs.List(ctx, glob)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", glob, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no file matches %s", glob)
	}
	slices.Sort(files)
	return files, nil
}

// openRead opens path for reading; closing the returned reader also closes
// the filesystem handle.
func openRead(ctx context.Context, path string) (io.ReadCloser, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &fsReader{ReadCloser: r, fs: fs}, nil
}

type fsReader struct {
	io.ReadCloser
	fs filesystem.Interface
}

func (r *fsReader) Close() error {
	err := r.ReadCloser.Close()
	if e := r.fs.Close(); err == nil {
		err = e
	}
	return err
}

// writeAtomic writes path through fill: into a temporary name beside it,
// then renamed over path, so that a retried or failed bundle never leaves a
// partial file under the final name (filesystems without rename get a
// direct write).
func writeAtomic(ctx context.Context, path string, fill func(w io.Writer) error) (err error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return err
	}
	defer fs.Close()
	rn, canRename := fs.(filesystem.Renamer)
	tmp := path
	if canRename {
		tmp = path + ".tmp-" + randomSuffix()
	}
	w, err := fs.OpenWrite(ctx, tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err = fill(bw); err == nil {
		err = bw.Flush()
	}
	if e := w.Close(); err == nil {
		err = e
	}
	if err != nil {
		if rm, ok := fs.(filesystem.Remover); ok && canRename {
			rm.Remove(ctx, tmp)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	if canRename {
		if err := rn.Rename(ctx, tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

var tmpCount atomic.Int64

// randomSuffix names a temporary file uniquely within the process (the pid
// keeps processes apart).
func randomSuffix() string {
	return fmt.Sprintf("%d-%d", os.Getpid(), tmpCount.Add(1))
}

// localCopy returns a local path holding the file at path: path itself when
// it is local, otherwise a copy in a temporary folder (a model kept in an
// object store is fetched once per worker).
func localCopy(ctx context.Context, path string) (string, error) {
	if !strings.Contains(path, "://") {
		return path, nil
	}
	r, err := openRead(ctx, path)
	if err != nil {
		return "", err
	}
	defer r.Close()
	dir, err := os.MkdirTemp("", "llmrec-beam-")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return "", fmt.Errorf("fetch %s: %w", path, err)
	}
	return dst, f.Close()
}
