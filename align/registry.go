package align

import "github.com/llmrec/llmrec/backbone"

// PAD's table kinds are registered with backbone, so backbone.Load,
// backbone.LoadRecommender and moe.Load rebuild them: importing align is
// enough.
func init() {
	backbone.RegisterTable(KindTextProjection, BuildTable)
	backbone.RegisterTable(KindFused, BuildTable)
}
