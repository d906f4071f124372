package moe

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/tensor"
)

// GateBuilder returns a gate with the structure of a saved gate cfg (whose
// Kind is the registered kind) and placeholder weights, to be filled from a
// checkpoint, for a mixture over numItems items (ids 0..numItems) and
// cfg.Experts experts. A kind's own settings travel as raw JSON in
// cfg.Custom. rng initializes what the checkpoint does not hold.
type GateBuilder func(rng *rand.Rand, cfg SavedGate, numItems int) (Gate, error)

// SavableGate is a Gate that Mixture.Save can write: SavedGate returns its
// structure, with Kind a kind registered with RegisterGate. Its parameters
// (when it is an nn.Module) are saved under "gate.". FreqGate and
// FeatureGate are SavableGates.
type SavableGate interface {
	Gate
	SavedGate() SavedGate
}

// gates is the package's gate registry; see backbone.Registry for why a
// package-level registry.
var gates = backbone.NewRegistry[GateBuilder]("gate kind", "moe.RegisterGate")

// The built-in kinds register themselves the way a user's kinds do.
func init() {
	RegisterGate("freq", buildFreqGate)
	RegisterGate("feature", buildFeatureGate)
}

// RegisterGate makes a gate kind known to Build, Load and LoadRecommender:
// a SavableGate whose SavedGate().Kind is kind is rebuilt by build before
// its weights are loaded. It panics when kind is empty or already
// registered, or build is nil. It is safe for concurrent use.
func RegisterGate(kind string, build GateBuilder) { gates.Register(kind, build) }

// GateKinds returns the registered gate kinds, sorted.
func GateKinds() []string { return gates.Kinds() }

// savedGate returns g's saved structure, or an error naming what is
// missing for g to be saved.
func savedGate(g Gate) (SavedGate, error) {
	sg, ok := g.(SavableGate)
	if !ok {
		return SavedGate{}, fmt.Errorf("moe: cannot save a gate of type %T: it does not implement moe.SavableGate", g)
	}
	cfg := sg.SavedGate()
	if _, err := gates.Lookup(cfg.Kind); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// buildGate rebuilds a saved gate through the registry.
func buildGate(rng *rand.Rand, cfg SavedGate, numItems int) (Gate, error) {
	build, err := gates.Lookup(cfg.Kind)
	if err != nil {
		return nil, err
	}
	return build(rng, cfg, numItems)
}

// SavedGate returns the gate's structure: kind "freq", its normalization,
// the popularity bin of every item id and the logits' shape.
func (g *FreqGate) SavedGate() SavedGate {
	return SavedGate{Kind: "freq", Norm: g.Norm.String(), Bins: g.bins, Shape: slices.Clone(g.Logits.Data.Shape), Experts: g.NumExperts()}
}

// SavedGate returns the gate's structure: kind "feature", its
// normalization and the features' shape (the features are saved as the
// tensor "gate.features").
func (g *FeatureGate) SavedGate() SavedGate {
	return SavedGate{Kind: "feature", Norm: g.Norm.String(), Shape: slices.Clone(g.Features.Shape), Experts: g.Weight.Data.Shape[0]}
}

// normAndShape checks what both built-in gates save: a known
// normalization and a non-empty 2-D shape.
func normAndShape(g SavedGate) (Normalization, error) {
	norm, err := parseNorm(g.Norm)
	if err != nil {
		return 0, fmt.Errorf("moe: %s gate: %w", g.Kind, err)
	}
	if len(g.Shape) != 2 || g.Shape[0] < 1 || g.Shape[1] < 1 {
		return 0, fmt.Errorf("moe: %s gate of shape %v", g.Kind, g.Shape)
	}
	return norm, nil
}

func buildFreqGate(_ *rand.Rand, g SavedGate, numItems int) (Gate, error) {
	norm, err := normAndShape(g)
	if err != nil {
		return nil, err
	}
	if len(g.Bins) != numItems+1 {
		// Save keeps the bins in the .safetensors metadata only
		return nil, fmt.Errorf("moe: freq gate has %d popularity bins, want one per item id 0..%d (a config read from the .json alone lacks them)", len(g.Bins), numItems)
	}
	init := make([][]float64, g.Shape[1])
	for k := range init {
		init[k] = make([]float64, g.Shape[0])
	}
	fg, err := NewFreqGate(g.Bins, init)
	if err != nil {
		return nil, err
	}
	fg.Norm = norm
	return fg, nil
}

func buildFeatureGate(rng *rand.Rand, g SavedGate, _ int) (Gate, error) {
	norm, err := normAndShape(g)
	if err != nil {
		return nil, err
	}
	return NewFeatureGate(rng, tensor.New(g.Shape...), g.Experts, norm)
}
