package serve

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
)

// externalMain is a service in its own module: it registers its own
// encoder kind and serves it through this package. The test counts its
// lines (the acceptance of issue 21: under 40).
const externalMain = `package main

import (
	"flag"
	"log"
	"math/rand/v2"
	"net/http"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/backbone/serve"
	"github.com/llmrec/llmrec/nn"
)

// norm is this service's own encoder kind: a layer norm of the last item.
type norm struct{ LN *nn.LayerNorm }

func (m *norm) Params() []nn.Param { return nn.Prefix("ln", m.LN.Params()) }

func (m *norm) Forward(t *autograd.Tape, b *backbone.Batch, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	return m.LN.Forward(t, x)
}

func main() {
	backbone.RegisterEncoder("ext-norm", func(_ *rand.Rand, cfg backbone.EncoderConfig) (backbone.Encoder, error) {
		return backbone.NewTapeEncoder(&norm{nn.NewLayerNorm(cfg.Dim, 1e-8)}, cfg)
	})
	model, addr := flag.String("model", "", "model file"), flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	h, err := serve.Open(*model, serve.Options{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("v1\n")) })
	log.Fatal(http.ListenAndServe(*addr, mux))
}
`

// extNorm is externalMain's encoder, registered here too so that the test
// can save a model of that kind.
type extNorm struct{ LN *nn.LayerNorm }

func (m *extNorm) Params() []nn.Param { return nn.Prefix("ln", m.LN.Params()) }

func (m *extNorm) Forward(t *autograd.Tape, b *backbone.Batch, x *autograd.Value, train bool, rng *rand.Rand) *autograd.Value {
	return m.LN.Forward(t, x)
}

// moduleRoot returns the directory of the llmrec go.mod.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test")
		dir = parent
	}
}

// Issue 21 acceptance: a program in a separate module (a replace to this
// checkout) registers its own encoder and serves it through the package in
// under 40 lines. The test builds it with the go command (offline, from the
// module cache: CI runs go mod download first), runs it on a model of its
// kind and asks it for recommendations. It skips without a go command.
func TestExternalModuleServesItsOwnEncoder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	lines := 0
	for _, l := range strings.Split(externalMain, "\n") {
		if strings.TrimSpace(l) != "" {
			lines++
		}
	}
	t.Logf("the program is %d non-blank lines", lines)
	require.Less(t, lines, 40, "the program should take under 40 lines")

	root := moduleRoot(t)
	dir := t.TempDir()
	gomod := fmt.Sprintf("module example.com/myservice\n\ngo 1.26\n\nrequire github.com/llmrec/llmrec v0.0.0\n\nreplace github.com/llmrec/llmrec => %s\n", root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(externalMain), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	bin := filepath.Join(dir, "myservice")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)

	// a model of the program's kind
	if !slices.Contains(backbone.EncoderKinds(), "ext-norm") { // -count=2 runs this twice
		backbone.RegisterEncoder("ext-norm", func(_ *rand.Rand, cfg backbone.EncoderConfig) (backbone.Encoder, error) {
			return backbone.NewTapeEncoder(&extNorm{nn.NewLayerNorm(cfg.Dim, 1e-8)}, cfg)
		})
	}
	rng := rand.New(rand.NewPCG(4, 5))
	enc, err := backbone.NewEncoder(rng, backbone.EncoderConfig{Kind: "ext-norm", Dim: 8, MaxLen: 4})
	require.NoError(t, err)
	m, err := backbone.NewSeqModel(enc, backbone.NewIDTable(rng, 15, 8), backbone.ModelConfig{})
	require.NoError(t, err)
	model := filepath.Join(dir, "model.safetensors")
	require.NoError(t, m.Save(model))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := exec.CommandContext(ctx, bin, "-model", model, "-addr", addr)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	require.NoError(t, run.Start())
	defer func() { _ = run.Process.Kill(); _ = run.Wait() }()
	c := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err = c.Post("http://"+addr+"/recommend", "application/json", strings.NewReader(`{"history":[3,4],"k":5}`))
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the program did not answer: %v\n%s", err, stderr.String())
		time.Sleep(50 * time.Millisecond)
	}
	var got RecommendResponse
	decodeStrict(t, readAll(t, resp), &got)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, got.Items, 5)
	want, err := backbone.NewRecommender(m).TopK([]int{3, 4}, 5, []int{3, 4})
	require.NoError(t, err)
	for i, s := range want {
		require.Equal(t, s.Item, got.Items[i])
	}
	resp, err = c.Get("http://" + addr + "/version")
	require.NoError(t, err)
	require.Equal(t, "v1\n", string(readAll(t, resp)), "the program's own route beside the handler")
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	require.NoError(t, err)
	return b.Bytes()
}
