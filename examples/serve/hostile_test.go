package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/llmrec/llmrec/internal/hostile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The service refuses to start on every hostile file of issue 12 (rows 1-5
// and 11, and more): run returns an error whose message is one line, and
// does not panic. Before, rows 1-3 crashed the command and rows 5 and 11
// started a server that answered 200 {"items":[]}.
func TestRunRefusesHostileFiles(t *testing.T) {
	files, err := hostile.Write(t.TempDir())
	require.NoError(t, err)
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := false
			err := run(ctx, []string{"-model", f.Path, "-addr", "127.0.0.1:0"}, io.Discard, func(string) { started = true; cancel() })
			require.Error(t, err)
			assert.False(t, started, "the server started")
			msg := strings.Join(strings.Fields(err.Error()), " ")
			assert.NotContains(t, msg, "panic")
			t.Logf("row %s: serve: %s", f.Row, msg)
		})
	}
}
