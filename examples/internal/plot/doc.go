// Package plot draws the PNG figures of llmrec's example programs: training
// loss and validation-metric curves per epoch, and histograms of item-vector
// norms before and after TF-LLMER's normalization.
//
// # Why a package of its own
//
// Every example that trains a model wants the same two pictures (did the loss
// go down, did the metric go up) and the LLM-enhanced ones want a third (the
// norm disparity of raw LLM item embeddings, and its removal). Drawing them in
// one place keeps the figures comparable between examples and keeps the
// plotting dependency (gonum.org/v1/plot) out of the library packages: only
// programs under examples/ import this package, and it is internal so it is
// not part of llmrec's API.
//
// Files are written atomically (a temporary file in the same directory,
// then a rename), so a reader never sees half a PNG. Series are drawn in the
// sorted order of their names, so a figure does not depend on map order.
// The functions keep no state and are safe for concurrent use (on different
// paths).
//
// # Example
//
//	err := plot.LossCurves("loss.png", "training loss", map[string][]float64{
//		"ID-only":      idLosses,      // one value per epoch
//		"LLM-enhanced": llmLosses,
//	})
//	err = plot.NormHistogram("norms.png", rawNorms, normalizedNorms)
package plot
