package recpca

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/llmrec/llmrec/data/sharedtest"
	"github.com/llmrec/llmrec/tensor"
)

// readNpy32 reads a 2-D little-endian float32 .npy (v1.0 header), the format
// of the shared item embedding files. A private test helper: the data
// package's reader may not exist yet.
func readNpy32(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if string(pre[:6]) != "\x93NUMPY" || pre[6] != 1 {
		return nil, fmt.Errorf("%s: not a v1 .npy file", path)
	}
	hl := int(binary.LittleEndian.Uint16(pre[8:]))
	hdr := make([]byte, hl)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	h := string(hdr)
	if !strings.Contains(h, "'<f4'") || strings.Contains(h, "'fortran_order': True") {
		return nil, fmt.Errorf("%s: want C-order <f4, header %q", path, h)
	}
	m := regexp.MustCompile(`'shape': \((\d+), (\d+)\)`).FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("%s: not 2-D: %q", path, h)
	}
	rows, _ := strconv.Atoi(m[1])
	cols, _ := strconv.Atoi(m[2])
	buf := make([]byte, rows*cols*4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%s: data: %w", path, err)
	}
	t := tensor.New(rows, cols)
	for i := range t.Data {
		t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return t, nil
}

// readTrainSeqs parses `user item item ...` lines and keeps each user's items
// minus the last two (users with fewer than 3 items keep all), the
// leave-one-out training part. It returns the sequences and the largest id.
func readTrainSeqs(path string) ([][]int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var seqs [][]int
	maxID := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for ln := 1; sc.Scan(); ln++ {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		s := make([]int, 0, len(fs)-1)
		for _, w := range fs[1:] {
			v, err := strconv.Atoi(w)
			if err != nil {
				return nil, 0, fmt.Errorf("%s:%d: %w", path, ln, err)
			}
			s = append(s, v)
			maxID = max(maxID, v)
		}
		if len(s) >= 3 {
			s = s[:len(s)-2]
		}
		seqs = append(seqs, s)
	}
	return seqs, maxID, sc.Err()
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
		x, err := readNpy32(ep)
		if err != nil {
			beauty.err = err
			return
		}
		seqs, maxID, err := readTrainSeqs(sp)
		if err != nil {
			beauty.err = err
			return
		}
		if maxID != x.Rows()-1 {
			beauty.err = fmt.Errorf("max item id %d vs %d embedding rows", maxID, x.Rows())
			return
		}
		g, err := BuildGraph(seqs, maxID, GraphOptions{})
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
