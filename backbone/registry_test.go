package backbone

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shiftedEncoder is a user's encoder kind: a SASRec whose hidden states are
// moved by a constant taken from its own (Custom) config, so a reload that
// lost the config would score differently.
type shiftedEncoder struct {
	*SASRec
	Shift float32 `json:"shift"`
}

func (e *shiftedEncoder) Forward(s Scratch, b *Batch, x *tensor.Tensor, train bool, rng *rand.Rand) *tensor.Tensor {
	h := e.SASRec.Forward(s, b, x, train, rng)
	for i := range h.Data {
		h.Data[i] += e.Shift
	}
	return h
}

func (e *shiftedEncoder) Config() EncoderConfig {
	c := e.SASRec.Config()
	c.Kind = "test-shifted"
	c.Custom, _ = json.Marshal(struct {
		Shift float32 `json:"shift"`
	}{e.Shift})
	return c
}

// halfTable is a user's item-table kind: an ID table whose Spec carries a
// custom field.
type halfTable struct {
	*IDTable
	note string
}

func (t *halfTable) Spec() TableSpec {
	s := t.IDTable.Spec()
	s.Kind = "test-half"
	s.Custom, _ = json.Marshal(map[string]string{"note": t.note})
	return s
}

var registerTestKinds = sync.OnceFunc(func() {
	RegisterEncoder("test-shifted", func(rng *rand.Rand, cfg EncoderConfig) (Encoder, error) {
		var c struct {
			Shift float32 `json:"shift"`
		}
		if err := json.Unmarshal(cfg.Custom, &c); err != nil {
			return nil, err
		}
		cfg.Kind = "sasrec"
		s, err := NewSASRec(rng, cfg)
		if err != nil {
			return nil, err
		}
		return &shiftedEncoder{SASRec: s, Shift: c.Shift}, nil
	})
	RegisterTable("test-half", func(spec TableSpec) (ItemTable, error) {
		var c map[string]string
		if err := json.Unmarshal(spec.Custom, &c); err != nil {
			return nil, err
		}
		spec.Kind = "id"
		t, err := BuildTable(spec)
		if err != nil {
			return nil, err
		}
		return &halfTable{IDTable: t.(*IDTable), note: c["note"]}, nil
	})
})

func TestRegisteredKindsRoundTrip(t *testing.T) {
	registerTestKinds()
	rng := rand.New(rand.NewPCG(3, 9))
	cfg, cerr := DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks = 8, 6, 1
	s, err := NewSASRec(rng, cfg)
	require.NoError(t, err)
	enc := &shiftedEncoder{SASRec: s, Shift: 0.25}
	items := &halfTable{IDTable: NewIDTable(rng, 20, 8), note: "mine"}
	// nested inside a built-in kind, too
	m, err := NewSeqModel(enc, NewNormalizedTable(items, 3, false), ModelConfig{})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, m.Save(path))
	r2, err := LoadRecommender(path)
	require.NoError(t, err)
	m2, err := Load(path)
	require.NoError(t, err)
	require.IsType(t, &shiftedEncoder{}, m2.Enc)
	assert.Equal(t, float32(0.25), m2.Enc.(*shiftedEncoder).Shift)
	assert.Equal(t, m.Config(), m2.Config())
	a, err := NewRecommender(m).Score(nil, []int{1, 2, 3}, []int{4, 5, 6})
	require.NoError(t, err)
	b, err := r2.Score(nil, []int{1, 2, 3}, []int{4, 5, 6})
	require.NoError(t, err)
	assert.Equal(t, a, b) // bit-identical
}

func TestUnknownKinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	_, err := NewEncoder(rng, EncoderConfig{Kind: "nope"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrUnknownKind))
	assert.True(t, errors.Is(err, ErrBadConfig))
	assert.ErrorContains(t, err, `backbone.RegisterEncoder("nope"`)
	assert.ErrorContains(t, err, "gru4rec") // lists what is registered
	_, err = BuildTable(TableSpec{Kind: "concat", Parts: []TableSpec{{Kind: "id", NumItems: 3, Dim: 2}, {Kind: "nope2"}}})
	assert.True(t, errors.Is(err, ErrUnknownKind))
	assert.ErrorContains(t, err, `backbone.RegisterTable("nope2"`)

	// an encoder of an unregistered kind is not saved
	cfg, cerr := DefaultEncoderConfig("sasrec")
	require.NoError(t, cerr)
	cfg.Dim, cfg.MaxLen, cfg.Blocks = 8, 6, 1
	s, err := NewSASRec(rng, cfg)
	require.NoError(t, err)
	m, err := NewSeqModel(unregistered{s}, NewIDTable(rng, 5, 8), ModelConfig{})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	err = m.Save(path)
	assert.True(t, errors.Is(err, ErrUnknownKind))
	assert.NoFileExists(t, path)
}

type unregistered struct{ *SASRec }

func (u unregistered) Config() EncoderConfig {
	c := u.SASRec.Config()
	c.Kind = "never-registered"
	return c
}

func TestRegisterPanics(t *testing.T) {
	build := func(TableSpec) (ItemTable, error) { return nil, nil }
	assert.Panics(t, func() { RegisterTable("id", build) }) // duplicate
	assert.Panics(t, func() { RegisterTable("", build) })
	assert.Panics(t, func() { RegisterTable("x-nil", nil) })
	assert.NotContains(t, TableKinds(), "x-nil")
	assert.Subset(t, EncoderKinds(), []string{"bert4rec", "gru4rec", "sasrec"})
}

func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry[int]("thing", "Register")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			r.Register(string(rune('a'+i)), i)
			for range 100 {
				_, _ = r.Lookup("a")
				_ = r.Kinds()
			}
		})
	}
	wg.Wait()
	assert.Len(t, r.Kinds(), 8)
	v, err := r.Lookup("c")
	require.NoError(t, err)
	assert.Equal(t, 2, v)
}
