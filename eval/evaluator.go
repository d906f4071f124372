package eval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmrec/llmrec/data"
)

// Stage selects which held-out item of a leave-one-out split is evaluated.
// It is an immutable value, safe for concurrent use.
type Stage int

const (
	// Valid: input = Train[u], target = Valid[u], history = Train[u].
	Valid Stage = iota
	// Test: input = Train[u] + Valid[u], target = Test[u], history =
	// Train[u] + Valid[u].
	Test
)

// String returns "valid" or "test".
func (s Stage) String() string {
	if s == Test {
		return "test"
	}
	return "valid"
}

// Protocol is how the target is ranked. It is an immutable value, safe for
// concurrent use.
type Protocol int

const (
	// Full ranks the target among all items 1..NumItems. The items of the
	// user's history are removed (as if scored -Inf), except the target
	// itself when it occurs in the history (the reference rule; see
	// Config.MaskTarget). The padding id 0 is never a candidate.
	Full Protocol = iota
	// Sampled ranks the target among Config.Negatives items drawn uniformly
	// from the items not in the user's full sequence (train, valid and test
	// items), independently, so duplicates are possible (the reference
	// rule; see Config.UniqueNegatives). They are drawn once per (user,
	// stage) from Config.Seed: every evaluation sees the same candidates.
	Sampled
)

// DefaultNegatives is the number of sampled negatives when
// Config.Negatives is 0.
const DefaultNegatives = 100

// defaultKs are the cut-offs reported when Config.Ks is empty.
var defaultKs = []int{5, 10, 20}

// DefaultBatch is the number of users per Scorer call when Config.Batch is 0
// and only candidates are scored. When whole rows of NumItems+1 scores are
// needed (Full, or Sampled through ScoreAll) the default is instead as many
// users as fit in about 4 MiB of scores, between 16 and DefaultBatch, which
// bounds each worker's buffer and keeps it in cache.
const DefaultBatch = 256

// rowBudget is the number of float32 scores a worker's default batch holds.
const rowBudget = 1 << 20

// ParseProtocol reads a protocol name as the reference script spells it:
// "full", "sampled" (100 negatives) or "sampledN" (N negatives, N ≥ 1). It
// returns the protocol and the number of negatives (0 for Full).
func ParseProtocol(name string) (Protocol, int, error) {
	switch {
	case name == "full":
		return Full, 0, nil
	case name == "sampled":
		return Sampled, DefaultNegatives, nil
	case strings.HasPrefix(name, "sampled"):
		n, err := strconv.Atoi(name[len("sampled"):])
		if err != nil || n < 1 {
			return 0, 0, fmt.Errorf("eval: protocol %q: want full, sampled or sampledN with N ≥ 1: %w", name, ErrBadConfig)
		}
		return Sampled, n, nil
	}
	return 0, 0, fmt.Errorf("eval: unknown protocol %q (want full, sampled or sampledN): %w", name, ErrBadConfig)
}

// Config sets up an Evaluator. The zero value is full ranking with the
// reference's rules, K = 5, 10, 20, all users, seed 0. NewEvaluator copies
// it; a Config is a plain value with no synchronization of its own.
type Config struct {
	// Protocol is Full or Sampled.
	Protocol Protocol
	// Negatives is the number of sampled negatives per case (Sampled only);
	// 0 means DefaultNegatives (100).
	Negatives int
	// UniqueNegatives draws the negatives of a case without repeats
	// (LLM-ESR's random_neq) instead of independently.
	UniqueNegatives bool
	// MaskTarget (Full only) also removes the target when it occurs in the
	// user's history, as PAD's code does: such a case gets rank NumItems
	// (below every item), so it never hits at K ≤ NumItems. By default the
	// target is kept (the reference rule).
	MaskTarget bool
	// Ties is the tie rule (TiesStrict by default, as the reference).
	Ties Ties
	// Ks are the cut-offs to report; empty means 5, 10, 20.
	Ks []int
	// Users, when > 0 and below the number of eligible users, evaluates a
	// fixed random subset of that many users drawn from Seed (SASRec's own
	// code uses 10000).
	Users int
	// Seed drives the user subset and the sampled negatives.
	Seed uint64
	// Batch is the number of users per Scorer call; 0 picks one (see
	// DefaultBatch).
	Batch int
	// Workers is the number of goroutines calling the Scorer; 0 means
	// runtime.GOMAXPROCS(0). Results do not depend on it.
	Workers int
	// Groups are the per-group reports to add to each Result.
	Groups []Grouping
	// Logger, when not nil, receives a debug line per evaluation.
	Logger *slog.Logger
}

// Evaluator evaluates Scorers on a leave-one-out split under one protocol.
// It holds no mutable state after NewEvaluator returns, so it is safe for
// concurrent use: several Evaluate calls may run at once.
type Evaluator struct {
	split *data.Split
	cfg   Config
	users []int // evaluated users (split rows), ascending
}

// NewEvaluator checks the split and the config and selects the users to
// evaluate: those with both a validation and a test item (Valid[u] ≠ 0 and
// Test[u] ≠ 0, as the reference), or a seeded subset of them. It returns an
// error naming the user when an item id is outside 1..NumItems.
func NewEvaluator(split *data.Split, cfg Config) (*Evaluator, error) {
	if split == nil {
		return nil, errors.New("eval: nil split")
	}
	if split.NumItems < 1 {
		return nil, fmt.Errorf("eval: split has NumItems = %d: %w", split.NumItems, ErrBadConfig)
	}
	if len(split.Valid) != len(split.Train) || len(split.Test) != len(split.Train) {
		return nil, fmt.Errorf("eval: split has %d train, %d valid and %d test rows: %w", len(split.Train), len(split.Valid), len(split.Test), ErrBadConfig)
	}
	if cfg.Protocol != Full && cfg.Protocol != Sampled {
		return nil, fmt.Errorf("eval: unknown protocol %d: %w", cfg.Protocol, ErrBadConfig)
	}
	if cfg.Negatives < 0 {
		return nil, fmt.Errorf("eval: Negatives = %d < 0: %w", cfg.Negatives, ErrBadConfig)
	}
	if cfg.Negatives == 0 {
		cfg.Negatives = DefaultNegatives
	}
	if len(cfg.Ks) == 0 {
		cfg.Ks = defaultKs
	}
	cfg.Ks = slices.Clone(cfg.Ks)
	for _, k := range cfg.Ks {
		if k < 1 {
			return nil, fmt.Errorf("eval: cut-off K = %d < 1: %w", k, ErrBadConfig)
		}
	}
	if cfg.Batch < 0 || cfg.Workers < 0 || cfg.Users < 0 {
		return nil, fmt.Errorf("eval: negative Batch (%d), Workers (%d) or Users (%d): %w", cfg.Batch, cfg.Workers, cfg.Users, ErrBadConfig)
	}
	cfg.Groups = slices.Clone(cfg.Groups)
	for _, g := range cfg.Groups {
		if g.Assign == nil {
			return nil, fmt.Errorf("eval: grouping %q has no Assign function: %w", g.Name, ErrBadConfig)
		}
	}
	n := split.NumItems
	var users []int
	for u := range split.Train {
		v, t := split.Valid[u], split.Test[u]
		if v == 0 || t == 0 {
			continue
		}
		if v < 1 || v > n {
			return nil, fmt.Errorf("eval: user %d: valid item %d outside 1..%d: %w", u, v, n, ErrItemOutOfRange)
		}
		if t < 1 || t > n {
			return nil, fmt.Errorf("eval: user %d: test item %d outside 1..%d: %w", u, t, n, ErrItemOutOfRange)
		}
		for j, it := range split.Train[u] {
			if it < 1 || it > n {
				return nil, fmt.Errorf("eval: user %d: train item %d (position %d) outside 1..%d: %w", u, it, j, n, ErrItemOutOfRange)
			}
		}
		users = append(users, u)
	}
	if cfg.Users > 0 && cfg.Users < len(users) {
		rng := rand.New(rand.NewPCG(cfg.Seed, mix64(0x75736572)))
		perm := rng.Perm(len(users))[:cfg.Users]
		sub := make([]int, cfg.Users)
		for i, p := range perm {
			sub[i] = users[p]
		}
		slices.Sort(sub)
		users = sub
	}
	return &Evaluator{split: split, cfg: cfg, users: users}, nil
}

// Users returns the evaluated users (split row indices, ascending). The
// slice is a copy.
func (e *Evaluator) Users() []int { return slices.Clone(e.users) }

// ProtocolName returns "full" (or "full-masktarget" with MaskTarget) or
// "sampledN" (with a "-unique" suffix for UniqueNegatives), as the reference
// script names its protocols.
func (e *Evaluator) ProtocolName() string {
	if e.cfg.Protocol == Full {
		if e.cfg.MaskTarget {
			return "full-masktarget"
		}
		return "full"
	}
	s := "sampled" + strconv.Itoa(e.cfg.Negatives)
	if e.cfg.UniqueNegatives {
		s += "-unique"
	}
	return s
}

// mix64 is the splitmix64 finalizer: it spreads a small integer over 64
// bits so that per-user seeds are unrelated.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Negatives returns the sampled negatives of user u (a split row) at the
// given stage: the same items every Evaluate of a Sampled evaluator ranks
// the target against. They depend only on Seed, u and stage, not on the
// subset of users, the workers or the batch size.
func (e *Evaluator) Negatives(stage Stage, u int) ([]int, error) {
	if u < 0 || u >= len(e.split.Train) {
		return nil, fmt.Errorf("eval: user %d outside 0..%d", u, len(e.split.Train)-1)
	}
	pcg := rand.NewPCG(0, 0)
	dst := make([]int, e.cfg.Negatives)
	_, err := e.negatives(stage, u, dst, pcg, rand.New(pcg), nil)
	return dst, err
}

// negatives fills dst with the negatives of (stage, u) and returns the
// (reused) buffer of the user's sorted distinct items.
func (e *Evaluator) negatives(stage Stage, u int, dst []int, pcg *rand.PCG, rng *rand.Rand, seen []int) ([]int, error) {
	sp := e.split
	seen = append(seen[:0], sp.Train[u]...)
	if sp.Valid[u] != 0 {
		seen = append(seen, sp.Valid[u])
	}
	if sp.Test[u] != 0 {
		seen = append(seen, sp.Test[u])
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	n := sp.NumItems
	free := n - len(seen)
	if free < 1 || (e.cfg.UniqueNegatives && free < len(dst)) {
		return seen, fmt.Errorf("eval: user %d has %d of %d items; cannot draw %d negatives", u, len(seen), n, len(dst))
	}
	pcg.Seed(e.cfg.Seed, mix64(uint64(u)<<1|uint64(stage)))
	for got := 0; got < len(dst); {
		it := rng.IntN(n) + 1
		if _, in := slices.BinarySearch(seen, it); in {
			continue
		}
		if e.cfg.UniqueNegatives && slices.Contains(dst[:got], it) {
			continue
		}
		dst[got] = it
		got++
	}
	return seen, nil
}

// worker holds one goroutine's reusable buffers.
type worker struct {
	inputs [][]int
	inBuf  []int
	scores []float32
	cands  [][]int
	cBuf   []int
	seen   []int
	pcg    *rand.PCG
	rng    *rand.Rand
}

// Evaluate ranks the target of every evaluated user at the given stage with
// s and returns the metrics, overall and per group, and the per-case ranks.
// Users are scored in batches of Config.Batch by Config.Workers goroutines;
// the result does not depend on their number or scheduling. It stops early
// and returns an error when ctx is done, when s fails, or when a target
// score is NaN.
func (e *Evaluator) Evaluate(ctx context.Context, s Scorer, stage Stage) (*Result, error) {
	if stage != Valid && stage != Test {
		return nil, fmt.Errorf("eval: unknown stage %d", stage)
	}
	start := time.Now()
	n := len(e.users)
	ranks := make([]int, n)
	bs := e.cfg.Batch
	if bs == 0 {
		bs = DefaultBatch
		if _, ok := s.(CandidateScorer); !ok || e.cfg.Protocol == Full {
			bs = min(DefaultBatch, max(16, rowBudget/(e.split.NumItems+1)))
		}
	}
	nb := (n + bs - 1) / bs
	workers := e.cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, nb))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pcg := rand.NewPCG(0, 0)
			w := &worker{pcg: pcg, rng: rand.New(pcg)}
			for {
				b := int(next.Add(1)) - 1
				if b >= nb {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				lo, hi := b*bs, min(n, (b+1)*bs)
				if err := e.batch(s, stage, w, e.users[lo:hi], ranks[lo:hi]); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	res, err := e.result(stage, ranks)
	if err != nil {
		return nil, err
	}
	if e.cfg.Logger != nil {
		e.cfg.Logger.Debug("eval", "stage", stage.String(), "protocol", e.ProtocolName(), "users", n,
			"workers", workers, "seconds", time.Since(start).Seconds())
	}
	return res, nil
}

// target returns the held-out item of u at stage.
func (e *Evaluator) target(stage Stage, u int) int {
	if stage == Test {
		return e.split.Test[u]
	}
	return e.split.Valid[u]
}

// fillInputs points w.inputs at the inputs of users; for the test stage it
// builds Train[u]+Valid[u] in w.inBuf (sized up front so no slice moves).
func (e *Evaluator) fillInputs(stage Stage, w *worker, users []int) {
	sp := e.split
	w.inputs = w.inputs[:0]
	if stage == Valid {
		for _, u := range users {
			// Capped so that a scorer's append cannot reach the held-out
			// items, which often follow in the same array.
			tr := sp.Train[u]
			w.inputs = append(w.inputs, tr[:len(tr):len(tr)])
		}
		return
	}
	need := 0
	for _, u := range users {
		need += len(sp.Train[u]) + 1
	}
	if cap(w.inBuf) < need {
		w.inBuf = make([]int, need)
	}
	buf := w.inBuf[:need]
	off := 0
	for _, u := range users {
		tr := sp.Train[u]
		in := buf[off : off+len(tr)+1 : off+len(tr)+1]
		copy(in, tr)
		in[len(tr)] = sp.Valid[u]
		w.inputs = append(w.inputs, in)
		off += len(tr) + 1
	}
}

func growF32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// batch ranks the targets of users into ranks.
func (e *Evaluator) batch(s Scorer, stage Stage, w *worker, users []int, ranks []int) error {
	e.fillInputs(stage, w, users)
	ni := e.split.NumItems
	row := ni + 1
	if e.cfg.Protocol == Sampled {
		return e.sampledBatch(s, stage, w, users, ranks)
	}
	w.scores = growF32(w.scores, len(users)*row)
	if err := s.ScoreAll(w.inputs, w.scores); err != nil {
		return fmt.Errorf("eval: scoring users %d..%d: %w", users[0], users[len(users)-1], err)
	}
	pess := e.cfg.Ties == TiesPessimistic
	for i, u := range users {
		sc := w.scores[i*row : (i+1)*row]
		tgt := e.target(stage, u)
		ts := sc[tgt]
		// One pass over items 1..N counts the items above the target and
		// detects NaN; the history items are then taken out again.
		above, nan := countAbove(sc[1:], ts, pess)
		if nan {
			j := slices.IndexFunc(sc[1:], func(v float32) bool { return v != v }) + 1
			return fmt.Errorf("eval: user %d (%s): score of item %d is NaN: %w", u, stage, j, ErrNonFinite)
		}
		if pess {
			above-- // the target itself
		}
		maskedTarget := false
		for _, h := range w.inputs[i] { // the input is the history
			if h == tgt {
				maskedTarget = maskedTarget || e.cfg.MaskTarget
				continue
			}
			// A repeated history item is NaN by now and compares false.
			if v := sc[h]; v > ts || (pess && v == ts) {
				above--
			}
			sc[h] = float32(math.NaN())
		}
		if maskedTarget {
			above = ni // below every item: never a hit
		}
		ranks[i] = above
	}
	return nil
}

// b2i is 1 for true and 0 for false; the compiler makes it branch-free.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// countAbove returns the number of scores above ts (strictly, or also equal
// when orEqual) and whether any score is NaN (NaN is neither above nor
// below, so the two counts then miss it).
func countAbove(sc []float32, ts float32, orEqual bool) (int, bool) {
	var a0, a1, a2, a3, b0, b1, b2, b3 int
	i := 0
	if orEqual {
		for ; i+4 <= len(sc); i += 4 {
			r := sc[i : i+4 : i+4]
			a0 += b2i(r[0] >= ts)
			b0 += b2i(r[0] < ts)
			a1 += b2i(r[1] >= ts)
			b1 += b2i(r[1] < ts)
			a2 += b2i(r[2] >= ts)
			b2 += b2i(r[2] < ts)
			a3 += b2i(r[3] >= ts)
			b3 += b2i(r[3] < ts)
		}
		for ; i < len(sc); i++ {
			a0 += b2i(sc[i] >= ts)
			b0 += b2i(sc[i] < ts)
		}
	} else {
		for ; i+4 <= len(sc); i += 4 {
			r := sc[i : i+4 : i+4]
			a0 += b2i(r[0] > ts)
			b0 += b2i(r[0] <= ts)
			a1 += b2i(r[1] > ts)
			b1 += b2i(r[1] <= ts)
			a2 += b2i(r[2] > ts)
			b2 += b2i(r[2] <= ts)
			a3 += b2i(r[3] > ts)
			b3 += b2i(r[3] <= ts)
		}
		for ; i < len(sc); i++ {
			a0 += b2i(sc[i] > ts)
			b0 += b2i(sc[i] <= ts)
		}
	}
	a := a0 + a1 + a2 + a3
	return a, a+b0+b1+b2+b3 != len(sc)
}

// sampledBatch ranks each target among its sampled negatives.
func (e *Evaluator) sampledBatch(s Scorer, stage Stage, w *worker, users []int, ranks []int) error {
	c := e.cfg.Negatives + 1
	nc := len(users) * c
	if cap(w.cBuf) < nc {
		w.cBuf = make([]int, nc)
	}
	w.cBuf = w.cBuf[:nc]
	w.cands = w.cands[:0]
	for i, u := range users {
		cand := w.cBuf[i*c : (i+1)*c : (i+1)*c]
		cand[0] = e.target(stage, u)
		var err error
		if w.seen, err = e.negatives(stage, u, cand[1:], w.pcg, w.rng, w.seen); err != nil {
			return err
		}
		w.cands = append(w.cands, cand)
	}
	var cs []float32
	if cs0, ok := s.(CandidateScorer); ok {
		w.scores = growF32(w.scores, nc)
		if err := cs0.ScoreCandidates(w.inputs, w.cands, w.scores); err != nil {
			return fmt.Errorf("eval: scoring users %d..%d: %w", users[0], users[len(users)-1], err)
		}
		cs = w.scores
	} else {
		row := e.split.NumItems + 1
		// Full scores first, then the candidates' scores gathered behind them.
		w.scores = growF32(w.scores, len(users)*row+nc)
		full := w.scores[:len(users)*row]
		if err := s.ScoreAll(w.inputs, full); err != nil {
			return fmt.Errorf("eval: scoring users %d..%d: %w", users[0], users[len(users)-1], err)
		}
		cs = w.scores[len(users)*row:]
		for i, cand := range w.cands {
			for j, it := range cand {
				cs[i*c+j] = full[i*row+it]
			}
		}
	}
	for i, u := range users {
		sc := cs[i*c : (i+1)*c]
		for j, v := range sc {
			if math.IsNaN(float64(v)) {
				return fmt.Errorf("eval: user %d (%s): score of candidate item %d is NaN: %w", u, stage, w.cands[i][j], ErrNonFinite)
			}
		}
		ranks[i] = Rank(sc, 0, e.cfg.Ties)
	}
	return nil
}
