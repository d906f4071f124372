package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// TestRunML100K runs the whole example at a small size on ML-100K: it
// trains, evaluates, saves, reloads through the registries with scores
// equal bit for bit, and serves every user from several goroutines. With
// LLMREC_LONG=1 it runs the default settings and checks the quality claim:
// better than the popularity baseline.
func TestRunML100K(t *testing.T) {
	dir := sharedtest.Dir(t, "ml-100k")
	args := []string{"-data", dir, "-epochs", "2", "-maxlen", "8", "-dim", "16", "-hidden", "16", "-rank", "8", "-servers", "4"}
	long := os.Getenv("LLMREC_LONG") != ""
	if long {
		args = []string{"-data", dir}
	}
	save := filepath.Join(t.TempDir(), "m.safetensors")
	var out, errb bytes.Buffer
	require.NoError(t, run(context.Background(), append(args, "-out", save), &out, &errb), errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var s summary
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &s))
	require.True(t, s.ReloadIdentity)
	require.Equal(t, 943, s.ServedUsers)
	require.Equal(t, 1682, s.Items)
	require.Greater(t, s.Test["ndcg@10"], 0.0)
	if long {
		require.True(t, s.BeatsPop, "test ndcg@10 %v, popularity %v", s.Test["ndcg@10"], s.Popularity["ndcg@10"])
	}
	// the saved files name the user's kinds, and load without this test's help
	cfg, err := os.ReadFile(backbone.JSONPath(save))
	require.NoError(t, err)
	require.Contains(t, string(cfg), gruKind)
	require.Contains(t, string(cfg), lowRankKind)
	m, err := backbone.Load(save)
	require.NoError(t, err)
	require.IsType(t, &backbone.TapeTable{}, m.Items)
	require.IsType(t, &lowRankTable{}, m.Items.(*backbone.TapeTable).Module)
}

func TestRunErrors(t *testing.T) {
	var out, errb bytes.Buffer
	require.ErrorContains(t, run(context.Background(), nil, &out, &errb), "-data is required")
	require.Error(t, run(context.Background(), []string{"-data", filepath.Join(t.TempDir(), "none")}, &out, &errb))
	_, err := newGRUEncoder(nil, backbone.EncoderConfig{Kind: gruKind, Dim: 4, MaxLen: 3, Custom: []byte(`{"hidden":0}`)})
	require.Error(t, err)
	_, err = buildLowRank(backbone.TableSpec{Kind: lowRankKind, NumItems: 5, Dim: 4})
	require.Error(t, err)
}

// asOneOp records a table through its ItemTable methods (Lookup, then
// Backward) as one op on the loss's tape, with the gradient on its way back
// multiplied by k: k = 1 is the table itself, any other k a planted bug.
type asOneOp struct {
	backbone.ItemTable
	k   float32
	buf tensor.Tensor
}

func (w *asOneOp) Backward(dOut *tensor.Tensor) error {
	g := tensor.Resize(&w.buf, dOut.Rows(), dOut.Cols())
	clear(g.Data)
	tensor.Axpy(w.k, dOut.Data, g.Data)
	return w.ItemTable.Backward(g)
}

// The low-rank table has no hand-written Backward: GradCheck checks the
// tape's gradients of A and B against central differences, for scores of
// the looked-up vectors against fixed user states, with the table recorded
// on the loss's tape op by op and as one op through its ItemTable methods.
// The padding row gets no gradient; a wrong gradient fails the check.
func TestLowRankTableGradCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tb, err := newLowRankTable(rng, 6, 3, 4)
	require.NoError(t, err)
	lr := tb.Module.(*lowRankTable)
	users := tensor.New(2, 4)
	for i := range users.Data {
		users.Data[i] = float32(rng.NormFloat64())
	}
	ids := []int{2, 1, 5, 2, 6} // not the padding id 0: see below
	gradCheck := func(items backbone.ItemTable) error {
		op := backbone.NewTableOp(items)
		scores := func(tp *autograd.Tape) *autograd.Value {
			v, err := op.Apply(tp, ids)
			require.NoError(t, err)
			return tp.Sigmoid(tp.MatMul(tp.Const(users), v, false, true)) // [users, ids]
		}
		return autograd.GradCheck(scores, []*autograd.Value{lr.A, lr.B}, autograd.GradCheckOptions{})
	}
	require.NoError(t, gradCheck(tb))
	require.NoError(t, gradCheck(&asOneOp{ItemTable: tb, k: 1}))
	// The padding id 0 looks up A[0]·B = 0 and sends no gradient to A[0]
	// (as torch's padding_idx): by design not the derivative, which
	// GradCheck would compare.
	nn.ZeroGrad(tb.Params())
	tp := autograd.NewTape()
	v, err := backbone.NewTableOp(tb).Apply(tp, []int{0, 3, 0})
	require.NoError(t, err)
	require.Equal(t, make([]float32, 4), v.Data.Row(0))
	require.NoError(t, tp.Backward(tp.Sum(v)))
	require.Equal(t, []float32{0, 0, 0}, lr.A.Grad.Data[:3], "no gradient to the padding row")
	require.NotEqual(t, []float32{0, 0, 0}, lr.A.Grad.Data[9:12], "a gradient to row 3")
	require.ErrorIs(t, gradCheck(&asOneOp{ItemTable: tb, k: 0.5}), autograd.ErrGradCheck)
	require.ErrorIs(t, gradCheck(&asOneOp{ItemTable: tb, k: -1}), autograd.ErrGradCheck)
}

// A model over the example's encoder and table, trained a little, saved and
// reloaded through the registries, scores every item bit-identically (a
// weight changed by one ulp after loading makes the comparison fail).
func TestSaveLoadBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	enc, err := newGRUEncoder(rng, backbone.EncoderConfig{Kind: gruKind, Dim: 8, MaxLen: 6, Dropout: 0.1, Custom: []byte(`{"hidden":8}`)})
	require.NoError(t, err)
	items, err := newLowRankTable(rng, 25, 4, 8)
	require.NoError(t, err)
	m, err := backbone.NewSeqModel(enc, items, backbone.ModelConfig{Loss: backbone.LossCrossEntropy})
	require.NoError(t, err)
	seqs := make([][]int, 30)
	for u := range seqs {
		for range 2 + rng.IntN(6) {
			seqs[u] = append(seqs[u], 1+rng.IntN(25))
		}
	}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 2, 8
	_, err = backbone.Train(t.Context(), m, seqs, tc, backbone.TrainOptions{KeepLast: true})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, m.Save(path))
	served, err := backbone.LoadRecommender(path)
	require.NoError(t, err)
	a, b := make([]float32, len(seqs)*26), make([]float32, len(seqs)*26)
	require.NoError(t, backbone.NewRecommender(m).ScoreAll(seqs, a))
	require.NoError(t, served.ScoreAll(seqs, b))
	require.Equal(t, a, b)

	back, err := backbone.Load(path)
	require.NoError(t, err)
	w := back.Items.(*backbone.TapeTable).Module.(*lowRankTable).B.Data.Data
	w[0] = math.Nextafter32(w[0], 1)
	require.NoError(t, backbone.NewRecommender(back).ScoreAll(seqs, b))
	require.NotEqual(t, a, b)
}
