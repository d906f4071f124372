package backbone

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Registry maps kind names to builders: the encoder, item-table (backbone)
// and gate (moe) kinds that Build and Load can rebuild from a saved config.
//
// Why a package-level registry: a saved model names its kinds as strings,
// and Load must turn them back into Go values without the caller listing
// every type the program might meet, as image.Decode finds the format of a
// file and sql.Open its driver. The registries are written only by explicit
// Register calls (typically from an init function of the package that
// defines the kind, or from main), never switched by the library itself, so
// they hold no state that changes what a computation does: a kind is
// either known or Load says which Register call is missing.
//
// A Registry is safe for concurrent use.
type Registry[B any] struct {
	what, call string
	mu         sync.RWMutex
	m          map[string]B
}

// NewRegistry returns an empty registry of what ("encoder kind", ...)
// whose errors point the user to call, the registration function (for
// example "backbone.RegisterEncoder").
func NewRegistry[B any](what, call string) *Registry[B] {
	return &Registry[B]{what: what, call: call, m: map[string]B{}}
}

// Register adds a builder for kind. Like sql.Register, it panics when kind
// is empty, build is nil or kind is already registered: these are
// programming errors, found the first time the program starts.
func (r *Registry[B]) Register(kind string, build B) {
	if kind == "" {
		panic(fmt.Sprintf("%s: empty %s", r.call, r.what))
	}
	if v := reflect.ValueOf(build); !v.IsValid() || (v.Kind() == reflect.Func && v.IsNil()) {
		panic(fmt.Sprintf("%s: nil builder for %s %q", r.call, r.what, kind))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[kind]; dup {
		panic(fmt.Sprintf("%s: %s %q registered twice", r.call, r.what, kind))
	}
	r.m[kind] = build
}

// Lookup returns the builder of kind. An unknown kind is an error wrapping
// both ErrUnknownKind and ErrBadConfig that names the registration call and
// the registered kinds.
func (r *Registry[B]) Lookup(kind string) (B, error) {
	r.mu.RLock()
	b, ok := r.m[kind]
	r.mu.RUnlock()
	if !ok {
		return b, fmt.Errorf("backbone: %w: %s %q is not registered (%w): call %s(%q, builder) before building or loading it; registered: %s",
			ErrUnknownKind, r.what, kind, ErrBadConfig, r.call, kind, strings.Join(r.Kinds(), ", "))
	}
	return b, nil
}

// Kinds returns the registered kinds, sorted.
func (r *Registry[B]) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// EncoderBuilder returns a freshly initialized encoder (weights drawn from
// rng) with the structure of cfg, whose Kind is the registered kind. A
// kind's own settings that EncoderConfig has no field for travel as raw
// JSON in cfg.Custom, written by the encoder's Config method.
type EncoderBuilder func(rng *rand.Rand, cfg EncoderConfig) (Encoder, error)

// TableBuilder returns an item table with the structure of spec (whose
// Kind is the registered kind) and zeroed weights, to be filled from a
// checkpoint. A kind's own settings travel as raw JSON in spec.Custom;
// inner tables in spec.Parts are built with BuildTable.
type TableBuilder func(spec TableSpec) (ItemTable, error)

var (
	encoders = NewRegistry[EncoderBuilder]("encoder kind", "backbone.RegisterEncoder")
	tables   = NewRegistry[TableBuilder]("item table kind", "backbone.RegisterTable")
)

// The built-in kinds register themselves the way a user's kinds do.
func init() {
	sasrec := func(rng *rand.Rand, cfg EncoderConfig) (Encoder, error) { return NewSASRec(rng, cfg) }
	RegisterEncoder(string(KindSASRec), sasrec)
	RegisterEncoder(string(KindBERT4Rec), sasrec)
	RegisterEncoder(string(KindGRU4Rec), func(rng *rand.Rand, cfg EncoderConfig) (Encoder, error) { return NewGRU4Rec(rng, cfg) })
	for _, k := range builtinTableKinds {
		RegisterTable(k, buildBuiltinTable)
	}
}

// RegisterEncoder makes an encoder kind known to NewEncoder, Build, Load,
// LoadRecommender and moe.Load: an encoder whose Config().Kind is kind is
// saved with its config and rebuilt by build before its weights are loaded.
// It panics when kind is empty or already registered, or build is nil. It is
// safe for concurrent use.
func RegisterEncoder(kind string, build EncoderBuilder) { encoders.Register(kind, build) }

// RegisterTable makes an item-table kind known to BuildTable, Build, Load,
// LoadRecommender and moe.Load (see RegisterEncoder).
func RegisterTable(kind string, build TableBuilder) { tables.Register(kind, build) }

// EncoderKinds returns the registered encoder kinds, sorted.
func EncoderKinds() []string { return encoders.Kinds() }

// TableKinds returns the registered item-table kinds, sorted.
func TableKinds() []string { return tables.Kinds() }

// NewEncoder returns an encoder of the registered kind cfg.Kind (an empty
// Kind is "sasrec"), initialized from rng. Built in are "sasrec",
// "bert4rec" and "gru4rec"; others come from RegisterEncoder. An unknown
// kind is an error wrapping ErrUnknownKind and ErrBadConfig.
func NewEncoder(rng *rand.Rand, cfg EncoderConfig) (Encoder, error) {
	if cfg.Kind == "" {
		cfg.Kind = KindSASRec
	}
	build, err := encoders.Lookup(string(cfg.Kind))
	if err != nil {
		return nil, err
	}
	return build(rng, cfg)
}

// BuildTable returns a table with the structure of spec and zeroed weights,
// to be filled by loading a checkpoint. Built in are "id", "adapter",
// "concat" and "normalized"; others come from RegisterTable (package align
// registers PAD's). An unknown kind is an error wrapping ErrUnknownKind and
// ErrBadConfig.
func BuildTable(spec TableSpec) (ItemTable, error) {
	build, err := tables.Lookup(spec.Kind)
	if err != nil {
		return nil, err
	}
	return build(spec)
}

// CheckKinds returns an error (wrapping ErrUnknownKind) when the encoder
// kind of enc or a table kind in items (parts included) is not registered:
// Save calls it so as not to write a file that Load could not read.
func CheckKinds(enc EncoderConfig, items TableSpec) error {
	kind := enc.Kind
	if kind == "" {
		kind = "sasrec"
	}
	if _, err := encoders.Lookup(string(kind)); err != nil {
		return err
	}
	return checkTableSpec(items)
}

func checkTableSpec(spec TableSpec) error {
	if _, err := tables.Lookup(spec.Kind); err != nil {
		return err
	}
	for _, p := range spec.Parts {
		if err := checkTableSpec(p); err != nil {
			return err
		}
	}
	return nil
}
