package moe

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/stretchr/testify/require"
)

// Losses of a tiny mixture trained for 4 epochs of batches of uneven sizes
// (so the shapes change from step to step), recorded with the commit before
// the experts were recorded on the tape (EncoderOp/TableOp) instead of being
// copied into fresh leaves: the rewiring must not change them beyond float
// rounding.
var mixtureLossesBefore = []float64{1.626336892445882, 1.5453411936759949, 1.5556351741154988, 1.4689945379892986}

func TestMixtureLossesUnchangedByTapeWiring(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	m := tinyMixture(t, 30, 8, r)
	m.Loss = backbone.LossBCE // the losses were recorded under BCE
	seqs := synthSeqs(r, 45, 30)
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize, tc.Seed = 4, 8, 5
	h, err := backbone.Train(t.Context(), m, seqs, tc, backbone.TrainOptions{KeepLast: true})
	require.NoError(t, err)
	var got []float64
	for _, e := range h.Epochs {
		got = append(got, e.Loss)
	}
	t.Logf("losses %#v", got)
	require.Len(t, got, len(mixtureLossesBefore))
	require.InDeltaSlice(t, mixtureLossesBefore, got, 1e-6)
}
