package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/llmrec/llmrec/backbone"
)

// TopKConfig configures the all-user top-k pipeline.
type TopKConfig struct {
	// Seqs is a glob of sequence files, one user per line:
	// "user item item ..." (the S3-Rec layout of ../shared/data), item ids
	// as the model numbers them (1..NumItems).
	Seqs string
	// Model is a model saved by backbone's SeqModel.Save.
	Model string
	// Out is the output prefix: shard s is written to
	// Out-SSSSS-of-NNNNN.jsonl, one JSON object per user, sorted by user.
	Out string
	// K is the number of items per user.
	K int
	// Shards is the number of user shards (the unit of parallel work and
	// the number of output files).
	Shards int
	// Holdout drops the last Holdout items of every history longer than
	// Holdout before scoring (2: the training part of data.LeaveOneOut; 0
	// scores after the whole history).
	Holdout int
	// KeepSeen lets items of the history be recommended (by default they
	// are excluded).
	KeepSeen bool
}

// UserTopK is one output line.
type UserTopK struct {
	User  string            `json:"user"`
	Items []backbone.Scored `json:"items"`
}

// BuildTopK adds the all-user top-k pipeline to s and returns the
// PCollection of users written per shard.
//
//	lines --shard by hash(user)--> GroupByKey --top-k per shard, write file--> counts
//
// The model is loaded once per worker process (topKFn.Setup through a
// process-wide cache), users are sharded by a hash of their id, and each
// shard's results are written, sorted by user id, to their own file.
func BuildTopK(s beam.Scope, c TopKConfig) beam.PCollection {
	s = s.Scope("topk")
	lines := textio.Read(s, c.Seqs)
	keyed := beam.ParDo(s, &shardFn{Shards: c.Shards}, lines)
	grouped := beam.GroupByKey(s, keyed)
	return beam.ParDo(s, &topKFn{Model: c.Model, Out: c.Out, K: c.K, Shards: c.Shards, Holdout: c.Holdout, KeepSeen: c.KeepSeen}, grouped)
}

func init() {
	register.DoFn2x0[string, func(int, string)](&shardFn{})
	register.Emitter2[int, string]()
	register.DoFn4x1[context.Context, int, func(*string) bool, func(int), error](&topKFn{})
	register.Iter1[string]()
	register.Emitter1[int]()
}

// shardFn keys each non-blank line by its user's shard.
type shardFn struct {
	Shards int `json:"shards"`
}

func (f *shardFn) ProcessElement(line string, emit func(int, string)) {
	user, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	if user == "" {
		return
	}
	emit(shardOf(user, f.Shards), line)
}

// shardOf hashes a user id into 0..shards-1.
func shardOf(user string, shards int) int {
	h := fnv.New64a()
	io.WriteString(h, user)
	return int(h.Sum64() % uint64(shards))
}

// shardsInFlight and maxInFlight measure how many shards this process
// scores at once (the scaling measurement reports the maximum).
var shardsInFlight, maxInFlight atomic.Int64

func enterShard() {
	n := shardsInFlight.Add(1)
	for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
	}
}

// noHistory counts users listed without any item (skipped).
var noHistory = beam.NewCounter("topk", "users_without_history")

// sharedModels holds each model once per worker process: a Beam worker
// runs many DoFn instances (one per bundle processor), and they all share
// the loaded, read-only Recommender (safe for concurrent use).
var sharedModels sync.Map // path -> *sharedModel

// modelLoads counts model loads in this process (checked by the tests).
var modelLoads atomic.Int64

type sharedModel struct {
	once sync.Once
	rec  *backbone.Recommender
	err  error
}

func loadShared(ctx context.Context, path string) (*backbone.Recommender, error) {
	v, _ := sharedModels.LoadOrStore(path, &sharedModel{})
	m := v.(*sharedModel)
	m.once.Do(func() {
		modelLoads.Add(1)
		local, err := localCopy(ctx, path)
		if err != nil {
			m.err = err
			return
		}
		m.rec, m.err = backbone.LoadRecommender(local)
	})
	return m.rec, m.err
}

// topKFn scores the users of one shard and writes the shard's file.
type topKFn struct {
	Model    string `json:"model"`
	Out      string `json:"out"`
	K        int    `json:"k"`
	Shards   int    `json:"shards"`
	Holdout  int    `json:"holdout"`
	KeepSeen bool   `json:"keepSeen"`

	rec *backbone.Recommender
}

func (f *topKFn) Setup(ctx context.Context) error {
	var err error
	f.rec, err = loadShared(ctx, f.Model)
	return err
}

func (f *topKFn) ProcessElement(ctx context.Context, shard int, lines func(*string) bool, emit func(int)) error {
	enterShard()
	defer shardsInFlight.Add(-1)
	var users []string
	var hists [][]int
	var line string
	for lines(&line) {
		user, hist, err := parseSeqLine(line, f.rec.NumItems())
		if err != nil {
			return err
		}
		if len(hist) == 0 {
			noHistory.Inc(ctx, 1) // nothing to condition on
			continue
		}
		users = append(users, user)
		hists = append(hists, holdOut(hist, f.Holdout))
	}
	out := make([]UserTopK, 0, len(users))
	// TopKBatch scores a block of users with one GEMM per item panel, on
	// the worker's cores; blocks bound the memory of a large shard.
	const block = 4096
	for lo := 0; lo < len(users); lo += block {
		hi := min(lo+block, len(users))
		var exclude [][]int
		if !f.KeepSeen {
			exclude = hists[lo:hi]
		}
		tops, err := f.rec.TopKBatch(hists[lo:hi], f.K, exclude)
		if err != nil {
			return fmt.Errorf("shard %d users %d..%d: %w", shard, lo, hi-1, err)
		}
		for i, top := range tops {
			out = append(out, UserTopK{User: users[lo+i], Items: top})
		}
	}
	slices.SortFunc(out, func(a, b UserTopK) int { return compareUsers(a.User, b.User) })
	path := fmt.Sprintf("%s-%05d-of-%05d.jsonl", f.Out, shard, f.Shards)
	err := writeAtomic(ctx, path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for i := range out {
			if err := enc.Encode(&out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	emit(len(out))
	return nil
}

// compareUsers orders numeric ids numerically, then other ids as strings.
func compareUsers(a, b string) int {
	x, errA := strconv.ParseUint(a, 10, 63)
	y, errB := strconv.ParseUint(b, 10, 63)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(x, y)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// holdOut drops the last h items of a sequence longer than h (h = 2 keeps
// the training part of data.LeaveOneOut: sequences of 1 or 2 items stay
// whole).
func holdOut(seq []int, h int) []int {
	if len(seq) > h {
		return seq[:len(seq)-h]
	}
	return seq
}

// parseSeqLine parses "user item item ..." with item ids in 1..numItems.
func parseSeqLine(line string, numItems int) (string, []int, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", nil, fmt.Errorf("empty line")
	}
	hist := make([]int, 0, len(f)-1)
	for _, s := range f[1:] {
		it, err := strconv.Atoi(s)
		if err != nil || it < 1 || it > numItems {
			return "", nil, fmt.Errorf("user %s: item %q is not an id in 1..%d", clip(f[0]), clip(s), numItems)
		}
		hist = append(hist, it)
	}
	return f[0], hist, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// ReadTopK reads the JSON lines of every shard file of prefix (in shard
// order) into a map from user to top-k list.
func ReadTopK(ctx context.Context, prefix string) (map[string][]backbone.Scored, error) {
	files, err := listGlob(ctx, prefix+"-*-of-*.jsonl")
	if err != nil {
		return nil, err
	}
	out := map[string][]backbone.Scored{}
	for _, file := range files {
		r, err := openRead(ctx, file)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var u UserTopK
			if err := dec.Decode(&u); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if _, dup := out[u.User]; dup {
				return nil, fmt.Errorf("%s: user %s written twice", file, u.User)
			}
			out[u.User] = u.Items
		}
	}
	return out, nil
}
