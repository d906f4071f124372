package backbone_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/tensor"
)

// genreKind names the table in saved models.
const genreKind = "example-genre"

// genreTable is a user's item table written with tape ops: an item's
// vector is its own free vector plus its genre's, so the items of a genre
// share a direction and a rarely seen item borrows its genre's. There is
// no Backward: the tape differentiates Lookup.
type genreTable struct {
	Items  *autograd.Value // (items+1) x dim, row 0 (padding) zero
	Genres *autograd.Value // (genres+1) x dim, row 0 zero
	Genre  []int           // Genre[i] is item i's genre in 1..genres; Genre[0] = 0
}

// genreSettings are the module's own settings, saved in TableSpec.Custom.
type genreSettings struct {
	Genre     []int `json:"genre"`
	NumGenres int   `json:"num_genres"`
}

func (m *genreTable) Params() []nn.Param {
	return []nn.Param{{Name: "items", Value: m.Items}, {Name: "genres", Value: m.Genres}}
}

// Lookup gathers the items' rows and their genres' rows and adds them. The
// genre index of this call is tape memory: the call holds it, not the table.
func (m *genreTable) Lookup(t *autograd.Tape, ids []int) *autograd.Value {
	g := t.ScratchInts(len(ids))
	for i, id := range ids {
		g[i] = m.Genre[id]
	}
	return t.Add(t.Gather(m.Items, ids, 0), t.Gather(m.Genres, g, 0))
}

// newGenreTable makes the table and wraps it as a backbone.ItemTable; with
// a nil rng the weights are zero (the builder's case: Load fills them).
func newGenreTable(rng *rand.Rand, s genreSettings, dim int) (*backbone.TapeTable, error) {
	if len(s.Genre) < 2 || s.NumGenres < 1 || s.Genre[0] != 0 {
		return nil, fmt.Errorf("%s: want genres of items 1.. after a 0 for padding, got %d genres %v", genreKind, s.NumGenres, s.Genre)
	}
	for _, g := range s.Genre[1:] {
		if g < 1 || g > s.NumGenres {
			return nil, fmt.Errorf("%s: genre %d outside 1..%d", genreKind, g, s.NumGenres)
		}
	}
	m := &genreTable{Items: autograd.NewParam(tensor.New(len(s.Genre), dim)),
		Genres: autograd.NewParam(tensor.New(s.NumGenres+1, dim)), Genre: s.Genre}
	if rng != nil {
		nn.XavierNormal(rng, m.Items.Data)
		nn.XavierNormal(rng, m.Genres.Data)
		clear(m.Items.Data.Row(0))
		clear(m.Genres.Data.Row(0))
	}
	custom, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return backbone.NewTapeTable(m, backbone.TableSpec{Kind: genreKind, NumItems: len(s.Genre) - 1, Dim: dim, Custom: custom})
}

// buildGenreTable is the registered builder: a zeroed table of spec's
// structure.
func buildGenreTable(spec backbone.TableSpec) (backbone.ItemTable, error) {
	var s genreSettings
	if err := json.Unmarshal(spec.Custom, &s); err != nil {
		return nil, fmt.Errorf("%s: settings: %w", genreKind, err)
	}
	return newGenreTable(nil, s, spec.Dim)
}

// Registered once, as a service that loads such models would in the package
// that defines the table.
func init() { backbone.RegisterTable(genreKind, buildGenreTable) }

// A user's item table written with tape ops stands where an IDTable would:
// it trains with Train (the tape computes its gradients), saves, and, its
// kind registered, reloads and serves the same scores.
func ExampleTapeTable() {
	rng := rand.New(rand.NewPCG(3, 4))
	genre := []int{0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 1, 2, 3} // items 1..12 in 3 genres
	items, err := newGenreTable(rng, genreSettings{Genre: genre, NumGenres: 3}, 8)
	if err != nil {
		panic(err)
	}
	cfg, _ := backbone.DefaultEncoderConfig(backbone.KindGRU4Rec)
	cfg.Dim, cfg.MaxLen = 8, 5
	enc, _ := backbone.NewEncoder(rng, cfg)
	m, err := backbone.NewSeqModel(enc, items, backbone.ModelConfig{})
	if err != nil {
		panic(err)
	}
	seqs := [][]int{{1, 2, 3, 10}, {4, 5, 6, 11}, {7, 8, 9, 12}, {1, 2, 10}}
	tc := backbone.DefaultTrainConfig()
	tc.Epochs, tc.BatchSize = 3, 2
	if _, err := backbone.Train(context.Background(), m, seqs, tc, backbone.TrainOptions{KeepLast: true}); err != nil {
		panic(err)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("genre-%d.safetensors", os.Getpid()))
	defer os.Remove(backbone.JSONPath(path))
	defer os.Remove(path)
	if err := m.Save(path); err != nil {
		panic(err)
	}
	served, err := backbone.LoadRecommender(path) // builds the table with buildGenreTable
	if err != nil {
		panic(err)
	}
	// the reloaded model gives every item of every sequence the same score,
	// bit for bit
	trained, reloaded := make([]float32, len(seqs)*len(genre)), make([]float32, len(seqs)*len(genre))
	if err := errors.Join(backbone.NewRecommender(m).ScoreAll(seqs, trained), served.ScoreAll(seqs, reloaded)); err != nil {
		panic(err)
	}
	fmt.Println("table:", served.SeqModel().Items.Spec().Kind)
	fmt.Println("reloaded scores identical:", slices.Equal(trained, reloaded))
	// Output:
	// table: example-genre
	// reloaded scores identical: true
}
