package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/tensor"
)

func TestParseFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("n", 1, "")
	require.NoError(t, ParseFlags(fs, []string{"-n", "3"}))
	require.Equal(t, 3, *n)
	require.ErrorContains(t, ParseFlags(fs, []string{"-n", "4", "stray"}), `unexpected argument "stray"`)
	require.ErrorIs(t, ParseFlags(fs, []string{"-h"}), flag.ErrHelp)
}

func TestPrintJSON(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, PrintJSON(&b, map[string]any{"b": []int{1, 2}, "a": "x"}))
	require.Equal(t, "{\"a\":\"x\",\"b\":[1,2]}\n", b.String())
	b.Reset()
	require.Error(t, PrintJSON(&b, math.NaN()))
	require.Empty(t, b.String())
}

func TestSayer(t *testing.T) {
	var b bytes.Buffer
	say := Sayer(&b)
	say("epoch %d loss %.2f", 3, 0.125)
	say("100%% done")
	require.Equal(t, "epoch 3 loss 0.12\n100% done\n", b.String())
}

func TestLoadWithEmbeddings(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x_seq.txt"), []byte("1 1 2 3\n2 2 3 1\n"), 0o644))
	_, _, _, err := LoadWithEmbeddings(dir, "")
	require.ErrorIs(t, err, ErrNoEmbeddings)
	require.ErrorContains(t, err, dir)

	emb := func(name string, scale float32) string {
		x := tensor.New(4, 2) // row i = item i, row 0 padding
		for i := 1; i < 4; i++ {
			x.Row(i)[0], x.Row(i)[1] = scale*float32(i), -scale*float32(i)
		}
		p := filepath.Join(dir, name)
		require.NoError(t, data.WriteNPY(p, x))
		return p
	}
	own := emb("item_emb_test.npy", 1)
	ds, x, path, err := LoadWithEmbeddings(dir, "")
	require.NoError(t, err)
	require.Equal(t, own, path)
	require.Equal(t, 3, ds.NumItems)
	require.Equal(t, []float32{0, 0, 1, -1, 2, -2, 3, -3}, x.Data)

	// -emb names another file.
	other := emb("other.npy", 10)
	_, x, path, err = LoadWithEmbeddings(dir, other)
	require.NoError(t, err)
	require.Equal(t, other, path)
	require.Equal(t, []float32{0, 0, 10, -10, 20, -20, 30, -30}, x.Data)

	_, _, _, err = LoadWithEmbeddings(filepath.Join(dir, "missing"), "")
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrNoEmbeddings))
}

// Main is run in a child process (it exits): an error is logged under the
// program's name with status 1; -h exits 1 without a log line.
func TestMainExit(t *testing.T) {
	if v := os.Getenv("CLI_TEST_MAIN"); v != "" {
		Main("prog", func(_ context.Context, args []string, stdout, _ io.Writer) error {
			if v == "help" {
				return flag.ErrHelp
			}
			_, _ = stdout.Write([]byte("ran\n"))
			if v == "fail" {
				return errors.New("boom")
			}
			return nil
		}, os.Interrupt)
		return
	}
	for _, c := range []struct {
		mode, stdout, stderr string
		code                 int
	}{{"ok", "ran\n", "", 0}, {"fail", "ran\n", "prog", 1}, {"help", "", "", 1}} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMainExit$")
		cmd.Env = append(os.Environ(), "CLI_TEST_MAIN="+c.mode)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, c.code, code, c.mode)
		require.Contains(t, stdout.String(), c.stdout, c.mode)
		if c.stderr == "" {
			require.NotContains(t, stderr.String(), "prog", c.mode)
		} else {
			require.Contains(t, stderr.String(), "ERROR prog err=boom", c.mode)
		}
	}
}
