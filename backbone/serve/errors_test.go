package serve

import (
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scoreModel is an ItemScorer whose scores are all v, or which fails with
// err, once broken is set (so that it passes New's probe first). A window
// and a failing length let it be finite for short histories only.
type scoreModel struct {
	items   int
	v       float32
	err     error
	broken  *atomic.Bool // nil: broken from the start
	window  int
	nanFrom int // histories of at least this length score NaN (0: never)
}

func (m scoreModel) NumItems() int { return m.items }

func (m scoreModel) Window() int { return m.window }

func (m scoreModel) ScoreItems(inputs, cands [][]int, out []float32) error {
	on := m.broken == nil || m.broken.Load()
	if on && m.err != nil {
		return m.err
	}
	v := float32(0.5)
	if on {
		v = m.v
	}
	if cands == nil {
		for u, in := range inputs {
			row := out[u*(m.items+1) : (u+1)*(m.items+1)]
			for i := range row {
				row[i] = v
				if m.nanFrom > 0 && min(len(in), m.window) >= m.nanFrom {
					row[i] = float32(math.NaN())
				}
			}
		}
		return nil
	}
	for i := range out {
		out[i] = v
	}
	return nil
}

// The handler maps the library's errors with errors.Is: bad input is the
// client's fault (400), anything else the model's (500). Issue 12 row 12.
func TestRecommendMapsLibraryErrors(t *testing.T) {
	cases := []struct {
		name   string
		model  scoreModel
		body   string
		status int
		msg    string
	}{
		{"id out of range from the library", scoreModel{items: 20}, `{"history":[21]}`, 400, "item id 21 outside 1..20"},
		{"empty history from the model", scoreModel{items: 20, err: fmt.Errorf("m: %w", backbone.ErrEmptyHistory)}, `{"history":[1]}`, 400, "empty history"},
		{"non-finite from the model", scoreModel{items: 20, err: fmt.Errorf("m: %w", backbone.ErrNonFinite)}, `{"history":[1]}`, 500, "non-finite"},
		{"broken model", scoreModel{items: 20, err: fmt.Errorf("m: disk on fire")}, `{"history":[1]}`, 500, "disk on fire"},
		{"infinite scores", scoreModel{items: 20, v: float32(math.Inf(1))}, `{"history":[1]}`, 500, "score"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.model.broken = new(atomic.Bool)
			c.model.v += 1
			h := newTestHandler(t, backbone.NewRecommenderFor(c.model), testLimits)
			c.model.broken.Store(true)
			rr := post(h, c.body)
			require.Equal(t, c.status, rr.Code, "body %s", rr.Body)
			assertJSONError(t, rr, c.msg)
		})
	}
}

func TestStatusOf(t *testing.T) {
	assert.Equal(t, http.StatusBadRequest, statusOf(fmt.Errorf("x: %w", backbone.ErrItemOutOfRange)))
	assert.Equal(t, http.StatusBadRequest, statusOf(fmt.Errorf("x: %w", backbone.ErrEmptyHistory)))
	assert.Equal(t, http.StatusBadRequest, statusOf(fmt.Errorf("x: %w", backbone.ErrBadK)))
	assert.Equal(t, http.StatusInternalServerError, statusOf(fmt.Errorf("x: %w", backbone.ErrNonFinite)))
	assert.Equal(t, http.StatusInternalServerError, statusOf(fmt.Errorf("x: %w", backbone.ErrBadCheckpoint)))
}

// checkServable refuses a model whose scores overflow.
func TestCheckServable(t *testing.T) {
	require.NoError(t, checkServable(backbone.NewRecommenderFor(scoreModel{items: 5, v: 1}), 50))
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		err := checkServable(backbone.NewRecommenderFor(scoreModel{items: 5, v: v}), 50)
		require.ErrorIs(t, err, backbone.ErrNonFinite, "score %v", v)
		require.ErrorIs(t, err, ErrNotServable)
	}
}

// Issue 21, row 9: a model finite for the history [1] but not for long
// histories is refused before it serves (before: the start-up check scored
// [1] only, and the service answered 500 for histories of 30-50 items).
// The probe lengths reach the window whatever it is.
func TestProbeReachesTheWindow(t *testing.T) {
	m := scoreModel{items: 40, v: 1, window: 50, nanFrom: 30}
	_, err := New(backbone.NewRecommenderFor(m), Options{})
	require.ErrorIs(t, err, ErrNotServable)
	require.ErrorIs(t, err, backbone.ErrNonFinite)
	require.ErrorContains(t, err, "probe history of length")

	m.nanFrom = 50 // only a full window fails
	_, err = New(backbone.NewRecommenderFor(m), Options{})
	require.ErrorIs(t, err, ErrNotServable)

	m.nanFrom = 51 // never reached: the window cuts longer histories
	_, err = New(backbone.NewRecommenderFor(m), Options{})
	require.NoError(t, err)

	for _, w := range []int{1, 2, 3, 7, 50, 200} {
		ls := probeLengths(w)
		require.Equal(t, 1, ls[0])
		require.Equal(t, w, ls[len(ls)-1], "window %d", w)
		if w >= 8 {
			require.GreaterOrEqual(t, len(ls), 5, "several lengths for window %d", w)
		}
	}
}
