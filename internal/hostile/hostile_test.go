package hostile

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/moe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(f File) error {
	var err error
	if f.Kind == "moe" {
		_, err = moe.Load(f.Path)
	} else {
		_, err = backbone.Load(f.Path)
	}
	return err
}

func dir(t *testing.T) string {
	if d := os.Getenv("LLMREC_HOSTILE_DIR"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// Every hostile file of issue 12's table (rows 1-5 and 11, and a few more)
// is rejected by its loader with an error wrapping ErrBadCheckpoint, and the
// sentinel of its cause: no panic, no silent acceptance. Before the change
// rows 1-3 panicked and rows 5 (backbone) and 11 loaded.
func TestHostileFilesRejected(t *testing.T) {
	files, err := Write(dir(t))
	require.NoError(t, err)
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			err := load(f)
			if f.Loads {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			t.Logf("row %s: %v", f.Row, err)
			assert.ErrorIs(t, err, backbone.ErrBadCheckpoint)
			switch {
			case f.Name == "weights-nan" || f.Name == "weights-inf":
				assert.ErrorIs(t, err, backbone.ErrNonFinite)
			case f.Row == "11" || f.Row == "3" || f.Name == "config-trailing-data":
				assert.ErrorIs(t, err, backbone.ErrBadConfig)
			}
		})
	}
}

// Loading a tiny file that declares huge sizes allocates little: the sizes
// are checked against the tensors present before anything is built. Before
// the change row 4's file allocated 3.9 GiB and rows 1-2 panicked.
func TestHostileLoadAllocatesLittle(t *testing.T) {
	files, err := Write(t.TempDir())
	require.NoError(t, err)
	for _, f := range files {
		st, err := os.Stat(f.Path)
		require.NoError(t, err)
		if f.Loads || st.Size() > 4096 {
			continue // the files with real tensors
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err = load(f)
		runtime.ReadMemStats(&after)
		require.Error(t, err, f.Name)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s (%d bytes): allocated %d bytes: %v", f.Name, st.Size(), alloc, err)
		assert.Less(t, alloc, uint64(64<<20), "%s allocated %d bytes", f.Name, alloc)
	}
}

// The overflowing model loads (its weights are finite) but scores NaN or
// infinity: a service must refuse it (examples/serve does), and the
// Recommender reports it.
func TestOverflowScoresAreNotFinite(t *testing.T) {
	files, err := Write(t.TempDir())
	require.NoError(t, err)
	for _, f := range files {
		if f.Name != Overflow {
			continue
		}
		rec, err := backbone.LoadRecommender(f.Path)
		require.NoError(t, err)
		out := make([]float32, rec.NumItems()+1)
		err = rec.ScoreAll([][]int{{1}}, out)
		finite := 0
		for _, v := range out[1:] {
			if v == v && v-v == 0 {
				finite++
			}
		}
		assert.True(t, err != nil || finite < rec.NumItems(), "all scores finite: %v", out)
		if err != nil {
			assert.True(t, errors.Is(err, backbone.ErrNonFinite), "%v", err)
		}
	}
}

func TestGoodFilesLoad(t *testing.T) {
	d := t.TempDir()
	m, err := Tiny()
	require.NoError(t, err)
	require.NoError(t, m.Save(d+"/tiny.safetensors"))
	_, err = backbone.Load(d + "/tiny.safetensors")
	require.NoError(t, err)
	mx, err := Mixture()
	require.NoError(t, err)
	require.NoError(t, mx.Save(d+"/mix.safetensors"))
	_, err = moe.Load(d + "/mix.safetensors")
	require.NoError(t, err)
}
