// Package cli is the command-line plumbing that llmrec's example programs
// share: the main function around a testable run function, the progress
// printer, flag parsing without positional arguments, a dataset folder with
// its LLM item embeddings, and the JSON object every example prints as its
// last line.
//
// It is internal to the examples (not part of llmrec's API) and keeps no
// state.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/tensor"
)

// RunFunc is an example's body: it parses args, writes its report to
// stdout and flag errors to stderr, and stops early when ctx is done.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with the process's arguments and standard streams. The
// context is cancelled by any of signals (none: it never is). An error other
// than flag.ErrHelp (-h, whose usage the flag set has printed) is logged with
// slog under name; any error exits with status 1.
func Main(name string, run RunFunc, signals ...os.Signal) {
	ctx := context.Background()
	if len(signals) > 0 {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, signals...)
		defer stop()
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			slog.Error(name, "err", err)
		}
		os.Exit(1)
	}
}

// ParseFlags parses args with fs and refuses positional arguments (the
// examples take flags only).
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	return nil
}

// ErrNoEmbeddings is wrapped by LoadWithEmbeddings when a folder has no
// item-embedding file and none is named.
var ErrNoEmbeddings = errors.New("no item-embedding .npy file")

// LoadWithEmbeddings loads the dataset folder dir (data.LoadDir) and the LLM
// item embeddings aligned with its items (data.LoadItemEmbeddings) from emb,
// or, when emb is "", from the folder's own item_emb*.npy. It returns the
// path of the embedding file it read.
func LoadWithEmbeddings(dir, emb string) (*data.Dataset, *tensor.Tensor, string, error) {
	fo, err := data.LoadDir(dir, data.Options{})
	if err != nil {
		return nil, nil, "", err
	}
	if emb == "" {
		emb = fo.EmbeddingFile
	}
	if emb == "" {
		return nil, nil, "", fmt.Errorf("%s: %w (item_emb*.npy, row i = item i, row 0 padding)", dir, ErrNoEmbeddings)
	}
	x, _, err := data.LoadItemEmbeddings(emb, fo.Dataset, data.EmbeddingOptions{})
	if err != nil {
		return nil, nil, "", err
	}
	return fo.Dataset, x, emb, nil
}

// Sayer returns the examples' progress printer: a Printf to w that ends
// every message with a newline.
func Sayer(w io.Writer) func(format string, a ...any) {
	return func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
}

// PrintJSON writes v as one line of JSON to w: the machine-readable last
// line of an example's output.
func PrintJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
