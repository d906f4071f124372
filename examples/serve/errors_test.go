package main

import (
	"fmt"
	"math"
	"net/http"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scoreModel is an ItemScorer whose scores are all v, or which fails with err.
type scoreModel struct {
	items int
	v     float32
	err   error
}

func (m scoreModel) NumItems() int { return m.items }

func (m scoreModel) ScoreItems(inputs, cands [][]int, out []float32) error {
	if m.err != nil {
		return m.err
	}
	for i := range out {
		out[i] = m.v
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
			h := newHandler(backbone.NewRecommenderFor(c.model), testLimits)
			rr := post(h, c.body)
			require.Equal(t, c.status, rr.Code, "body %s", rr.Body)
			assertJSONError(t, rr, c.msg)
		})
	}
}

func TestStatusOf(t *testing.T) {
	assert.Equal(t, http.StatusBadRequest, statusOf(fmt.Errorf("x: %w", backbone.ErrItemOutOfRange)))
	assert.Equal(t, http.StatusBadRequest, statusOf(fmt.Errorf("x: %w", backbone.ErrEmptyHistory)))
	assert.Equal(t, http.StatusInternalServerError, statusOf(fmt.Errorf("x: %w", backbone.ErrNonFinite)))
	assert.Equal(t, http.StatusInternalServerError, statusOf(fmt.Errorf("x: %w", backbone.ErrBadCheckpoint)))
}

// checkServable refuses a model whose scores overflow.
func TestCheckServable(t *testing.T) {
	require.NoError(t, checkServable(backbone.NewRecommenderFor(scoreModel{items: 5, v: 1})))
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		err := checkServable(backbone.NewRecommenderFor(scoreModel{items: 5, v: v}))
		require.ErrorIs(t, err, backbone.ErrNonFinite, "score %v", v)
	}
}
