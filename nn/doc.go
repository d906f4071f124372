// Package nn holds the building blocks that sit between the autograd tape
// and the recommender models: named parameters, layers, losses, weight
// initializers, optimizers and checkpoints.
//
// # Parameters and modules
//
// A Param is an autograd parameter with a dotted name
// ("blocks.0.attn.q.weight"). A Module is anything whose Params method lists
// them in a deterministic order; composite modules name their children with
// Prefix. Those names are the keys of optimizer groups (Filter) and of
// checkpoints, one-to-one, so a model saved here loads in PyTorch as a state
// dict and the reverse. Freeze and Unfreeze toggle RequiresGrad: a frozen
// parameter (an LLM embedding table, say) is read by the forward pass but
// skipped by optimizers and gradient clipping.
//
// # Layers and losses
//
// Layers (linear, embedding, layer norm, attention, transformer blocks, GRU)
// are plain structs holding their Params; their forward methods take the
// *autograd.Tape to record on, and a train flag or *rand.Rand where dropout
// needs one, so there is no global training mode or RNG. Losses are tape ops
// that return a scalar Value for Backward: BCELoss, GBCELoss (with
// GBCEBeta), SampledSoftmaxLoss, LogQSampledSoftmaxLoss and
// FullCrossEntropyLoss for next-item training, MSELoss.
//
// One implementation per layer: Linear and LayerNorm also have a fast path
// outside the tape (Apply and Backprop, destination style, no allocation
// once warmed up) that runs the same tensor kernels as their tape ops. The
// hand-differentiated encoders and item tables of package backbone are built
// from these same layer structs, so a stack of TransformerBlocks given
// backbone.SASRec's parameters computes its hidden states (tested there).
// Activation (ReLU, GELU, Identity) and BlockStyle marshal as their names
// ("relu", "gelu", "none"; "tf", ...); an unknown name is an error wrapping
// ErrBadConfig. Activation also has a fast path outside the tape (Apply,
// Backprop).
//
// # Initializers
//
// XavierNormal, XavierUniform, KaimingUniform, KaimingNormal, Normal,
// TruncNormal, Uniform, Zeros and Ones fill a tensor in place using
// PyTorch's fan-in/fan-out rules (Fans) and a caller-supplied *rand.Rand.
//
// # Optimizers
//
// SGD (momentum, Nesterov, weight decay), Adam (L2 weight decay) and AdamW
// (decoupled weight decay) follow torch.optim's update formulas, including
// Adam's bias correction, and support parameter groups with their own
// settings (AddGroup), e.g. PAD's weight decay 0.1 for the network and 0.01
// for gate logits. State is allocated on a parameter's first step; later
// steps allocate nothing. ClipGradNorm rescales gradients by their global
// norm. Optimizers are used from the single training goroutine.
//
// # Checkpoints
//
// SaveCheckpoint writes parameters to a .safetensors file atomically;
// LoadCheckpoint loads strictly and reports every missing, unexpected and
// mis-shaped key at once (a *CheckpointError); LoadCheckpointWith relaxes
// the key checks and says what it skipped.
//
// A training step looks like:
//
//	params := model.Params()
//	opt, err := nn.NewAdamW(params, nn.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1})
//	tp := autograd.NewTape()
//	for step := range steps {
//		tp.Reset()
//		opt.ZeroGrad()
//		loss := model.Loss(tp, batch)
//		if err := tp.Backward(loss); err != nil { ... }
//		nn.ClipGradNorm(params, 1)
//		opt.Step()
//	}
//	err = nn.SaveCheckpoint("model.safetensors", params, map[string]string{"step": "1000"})
package nn
