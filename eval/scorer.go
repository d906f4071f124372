package eval

// Scorer is what a model implements to be evaluated: it scores every item
// for a batch of user input sequences.
//
// ScoreAll writes len(inputs) rows of NumItems+1 scores into out, row-major:
// out[i*(NumItems+1)+j] is the score of item j for inputs[i]. Index 0 (the
// padding id) is ignored. inputs[i] is a user's whole chronological input
// (not truncated; the model keeps the last maxlen items itself); the scorer
// must not modify or retain inputs or out. A higher score means a better
// recommendation. Returning an error stops the evaluation.
//
// The Evaluator calls ScoreAll (and ScoreCandidates) from several goroutines
// at once, each with its own inputs and out, so an implementation must be
// safe for concurrent use (reading shared weights is fine; per-call scratch
// must not be shared).
type Scorer interface {
	ScoreAll(inputs [][]int, out []float32) error
}

// CandidateScorer is an optional extension of Scorer for sampled protocols:
// it scores only the given candidate items of each input. out receives the
// scores of cands[0], then cands[1], and so on, concatenated:
// out[off_i+j] is the score of cands[i][j] with off_i = Σ_{r<i} len(cands[r])
// (the Evaluator passes rows of equal length C, so off_i = i·C). Candidate
// lists may repeat an item. The concurrency rules of Scorer apply.
//
// A Scorer without this method is evaluated on sampled protocols through
// ScoreAll, which gives the same ranks at a higher cost.
type CandidateScorer interface {
	Scorer
	ScoreCandidates(inputs [][]int, cands [][]int, out []float32) error
}
