package recpca

import (
	"fmt"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
)

// longTests reports whether the long real-data tests run: they are opt-in
// with LLMREC_LONG=1 so that the default `go test ./recpca/` stays inside the
// CI budget (about 30 s of CPU).
func longTests(tb testing.TB) {
	tb.Helper()
	if os.Getenv("LLMREC_LONG") != "1" {
		tb.Skip("long real-data test: set LLMREC_LONG=1 to run it")
	}
}

type beautyData struct {
	x    *tensor.Tensor
	seqs [][]int
	g    *Graph
	err  error
}

var (
	beautyOnce sync.Once
	beauty     beautyData
)

// loadBeauty returns the Beauty USE-lite embeddings, the training sequences
// and the window-1 graph (cached across tests; read-only).
func loadBeauty(tb testing.TB) beautyData {
	tb.Helper()
	ep := sharedtest.File(tb, "amazon-beauty/item_emb_use_lite_512.npy")
	sp := sharedtest.File(tb, "amazon-beauty/Beauty.txt")
	beautyOnce.Do(func() {
		x, err := data.LoadNPY(ep)
		if err != nil {
			beauty.err = err
			return
		}
		ds, err := data.Load(sp, data.Options{Format: data.FormatSeq})
		if err != nil {
			beauty.err = err
			return
		}
		if ds.NumItems != x.Rows()-1 {
			beauty.err = fmt.Errorf("%d items vs %d embedding rows", ds.NumItems, x.Rows())
			return
		}
		seqs := data.LeaveOneOut(ds).Train
		g, err := BuildGraph(seqs, ds.NumItems, GraphOptions{})
		beauty = beautyData{x: x, seqs: seqs, g: g, err: err}
	})
	require.NoError(tb, beauty.err)
	return beauty
}

// principalAngles returns the principal angles (radians, ascending) between
// the column spans of a and b (same column count), in float64: after
// orthonormalizing both, the cosines are the singular values of QaᵀQb; the
// small angles are taken from the sines, the singular values of
// Qb − Qa(QaᵀQb), which keeps them accurate below 1e-8.
func principalAngles(a, b *mat.Dense) []float64 {
	qa, qb := orthoBasis(a), orthoBasis(b)
	var m, proj, res mat.Dense
	m.Mul(qa.T(), qb)
	proj.Mul(qa, &m)
	res.Sub(qb, &proj)
	var svd mat.SVD
	if !svd.Factorize(&res, mat.SVDNone) {
		panic("svd failed")
	}
	s := svd.Values(nil) // descending sines
	out := make([]float64, len(s))
	for i, v := range s {
		out[len(s)-1-i] = math.Asin(math.Min(1, v))
	}
	return out
}

func orthoBasis(a *mat.Dense) *mat.Dense {
	r, c := a.Dims()
	var qr mat.QR
	qr.Factorize(a)
	var q mat.Dense
	qr.QTo(&q)
	return mat.DenseCopyOf(q.Slice(0, r, 0, c))
}
