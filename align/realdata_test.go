package align

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
)

// pantryEmbeddings loads the USE-lite title embeddings of Amazon Prime
// Pantry (8348 x 512, row 0 padding) from ../shared/data.
func pantryEmbeddings(tb testing.TB) *tensor.Tensor {
	tb.Helper()
	emb, err := data.LoadNPY(sharedtest.File(tb, "amazon-pantry/item_emb_use_lite_512.npy"))
	require.NoError(tb, err)
	require.Equal(tb, []int{8348, 512}, emb.Shape)
	return emb
}

// rowsOf copies the rows ids of t into a new tensor.
func rowsOf(t *tensor.Tensor, ids []int) *tensor.Tensor {
	return tensor.Gather(&tensor.Tensor{}, t, ids)
}

// TestMKMMDOnPantryEmbeddings: two disjoint random halves of the same item
// set are one distribution (MMD ≈ 0); the item embeddings against the same
// rows with their coordinates permuted (same norms, different directions)
// are not.
func TestMKMMDOnPantryEmbeddings(t *testing.T) {
	emb := pantryEmbeddings(t)
	r := rand.New(rand.NewPCG(21, 22))
	perm := r.Perm(emb.Shape[0] - 1)
	const n = 512
	a, b := make([]int, n), make([]int, n)
	for i := range n {
		a[i], b[i] = perm[i]+1, perm[n+i]+1
	}
	x, y := rowsOf(emb, a), rowsOf(emb, b)
	cperm := r.Perm(512)
	z := tensor.New(n, 512)
	for i := range n {
		for j, c := range cperm {
			z.Data[i*512+j] = y.Data[i*512+c]
		}
	}
	same := lossValue(MKMMD{}, x, y)
	diff := lossValue(MKMMD{}, x, z)
	t.Logf("Pantry USE-lite embeddings, N=%d: MK-MMD(half, other half) = %.4f, MK-MMD(half, coordinate-permuted half) = %.4f", n, same, diff)
	assert.Less(t, same, 0.02)
	assert.Greater(t, same, -0.02)
	assert.Greater(t, diff, 10*max(same, 0.01))
}

// BenchmarkMKMMD measures forward + backward of the estimators on batches
// of Pantry item embeddings (d = 512), side by side:
//
//	go test -run '^$' -bench MKMMD -benchtime 20x ./align/
func BenchmarkMKMMD(b *testing.B) {
	emb := pantryEmbeddings(b)
	for _, n := range []int{256, 1024} {
		ids := make([]int, 2*n)
		for i := range ids {
			ids[i] = 1 + i
		}
		x := autograd.NewParam(rowsOf(emb, ids[:n]))
		y := autograd.NewParam(rowsOf(emb, ids[n:]))
		for _, est := range []Estimator{Unbiased, Linear} {
			b.Run(est.String()+"/N="+itoa(n), func(b *testing.B) {
				l := MKMMD{Estimator: est}
				t := autograd.NewTape()
				for b.Loop() {
					t.Reset()
					if err := t.Backward(l.Loss(t, x, y)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n /= 10 {
		s = append([]byte{byte('0' + n%10)}, s...)
	}
	return string(s)
}
