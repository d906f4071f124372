package align

import (
	"math/rand/v2"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/stretchr/testify/require"
)

// Losses (and alignment terms) of a tiny anchored tower trained for 4
// epochs of batches of uneven sizes, recorded with the commit before the
// tables were recorded on the tape (TableOp) instead of being copied into
// fresh leaves: the rewiring must not change them beyond float rounding.
var anchoredLossesBefore = map[string][]float64{
	"MKMMD":   {3.568384031454722, 3.5255961418151855, 3.824631909529368, 3.696418305238088, 2.350433349609375},
	"InfoNCE": {4.184851706027985, 4.175695180892944, 4.412709752718608, 4.284434407949448, 1.7394272089004517},
}

func TestAnchoredLossesUnchangedByTapeWiring(t *testing.T) {
	for name, loss := range map[string]Loss{
		"MKMMD":   MKMMD{Estimator: UnbiasedOffset},
		"InfoNCE": InfoNCE{Temperature: 0.5, Cosine: true},
	} {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(31, 32))
			a := tinyAnchored(t, loss, r)
			a.MaxRows = 20 // draws a random subset when the batch has more items
			seqs := make([][]int, 27)
			for u := range seqs {
				for range 3 + r.IntN(6) {
					seqs[u] = append(seqs[u], 1+r.IntN(15))
				}
			}
			tc := backbone.DefaultTrainConfig()
			tc.Epochs, tc.BatchSize, tc.Seed = 4, 5, 9
			h, err := backbone.Train(t.Context(), a, seqs, tc, backbone.TrainOptions{KeepLast: true})
			require.NoError(t, err)
			var got []float64
			for _, e := range h.Epochs {
				got = append(got, e.Loss)
			}
			got = append(got, a.LastAlign)
			t.Logf("%s losses %#v", t.Name(), got)
			want := anchoredLossesBefore[name]
			require.Len(t, got, len(want))
			require.InDeltaSlice(t, want, got, 1e-6)
		})
	}
}
