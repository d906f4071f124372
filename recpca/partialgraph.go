package recpca

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// PartialGraph is the co-occurrence graph of some of the training sequences,
// kept as summed pair weights so that graphs counted on different shards
// merge: Add the sequences of a shard, Merge the shards in any order, and
// Graph gives what BuildGraph gives on all the sequences (the same edges;
// unit weights are equal exactly, Decay weights to float64 rounding, as the
// sums run in another order). GraphOptions.TopK, which needs the whole
// graph, is applied by Graph only. Memory is one map entry per distinct
// pair. A PartialGraph is not safe for concurrent use.
type PartialGraph struct {
	numItems int
	opt      GraphOptions
	w        map[uint64]float64 // i<<32 | j (i < j) -> summed weight
}

// NewPartialGraph returns an empty partial graph over items 1..numItems. It
// returns an error for a negative or too large (≥ 2³¹) item count.
func NewPartialGraph(numItems int, opt GraphOptions) (*PartialGraph, error) {
	if numItems < 0 || numItems >= 1<<31 {
		return nil, fmt.Errorf("recpca: partial graph: item count %d outside 0..2³¹−1: %w", numItems, ErrBadInput)
	}
	return &PartialGraph{numItems: numItems, opt: opt, w: make(map[uint64]float64)}, nil
}

// Add counts the co-occurrences of one training sequence (item ids
// 1..numItems, chronological), as BuildGraph does. It returns an error for
// an id out of range and then counts nothing.
func (pg *PartialGraph) Add(seq []int) error {
	err := CoOccurrences(seq, pg.numItems, pg.opt, func(i, j int, w float64) {
		pg.w[uint64(i)<<32|uint64(j)] += w
	})
	if err != nil {
		return fmt.Errorf("recpca: partial graph: %w", err)
	}
	return nil
}

// Merge adds o's counts into pg (o is unchanged). It returns an error
// wrapping ErrBadAccumulator when the item counts or the options differ.
func (pg *PartialGraph) Merge(o *PartialGraph) error {
	if o == nil {
		return nil
	}
	if o.numItems != pg.numItems || o.opt != pg.opt {
		return fmt.Errorf("%w: partial graph: merge %d items %+v into %d items %+v", ErrBadAccumulator, o.numItems, o.opt, pg.numItems, pg.opt)
	}
	for k, v := range o.w {
		pg.w[k] += v
	}
	return nil
}

// NumItems returns the item count the graph was created with.
func (pg *PartialGraph) NumItems() int { return pg.numItems }

// NumEdges returns the number of distinct pairs counted so far.
func (pg *PartialGraph) NumEdges() int { return len(pg.w) }

// Edges returns the counted pairs as edges with I < J, sorted by (I, J).
func (pg *PartialGraph) Edges() []Edge {
	keys := make([]uint64, 0, len(pg.w))
	for k := range pg.w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Edge, len(keys))
	for t, k := range keys {
		out[t] = Edge{I: int(k >> 32), J: int(k & 0xffffffff), W: pg.w[k]}
	}
	return out
}

// Graph returns the co-occurrence graph of everything added and merged, with
// TopK applied when the options ask for it.
func (pg *PartialGraph) Graph() (*Graph, error) {
	g, err := NewGraph(pg.numItems, pg.Edges())
	if err != nil {
		return nil, err
	}
	if pg.opt.TopK > 0 {
		g = g.topK(pg.opt.TopK)
	}
	return g, nil
}

// pgMagic starts every encoded PartialGraph (format version 1).
const pgMagic = "RPCAPG01"

// MarshalBinary encodes the counts (little-endian; 16 bytes per pair, sorted
// by pair). It implements encoding.BinaryMarshaler.
func (pg *PartialGraph) MarshalBinary() ([]byte, error) {
	edges := pg.Edges()
	buf := make([]byte, 0, len(pgMagic)+40+16*len(edges))
	buf = append(buf, pgMagic...)
	var flags uint64
	if pg.opt.Decay {
		flags = 1
	}
	for _, v := range []uint64{uint64(pg.numItems), uint64(int64(pg.opt.Window)), uint64(int64(pg.opt.TopK)), flags, uint64(len(edges))} {
		buf = binary.LittleEndian.AppendUint64(buf, v)
	}
	for _, e := range edges {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.I)<<32|uint64(e.J))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(e.W))
	}
	return buf, nil
}

// UnmarshalBinary replaces pg by the encoded graph. It returns an error
// wrapping ErrBadAccumulator for a wrong header or length, a pair out of
// order or range, or a weight that is not positive and finite, and leaves pg
// unchanged then. It implements encoding.BinaryUnmarshaler.
func (pg *PartialGraph) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: decode partial graph: %s", ErrBadAccumulator, fmt.Sprintf(format, args...))
	}
	h := len(pgMagic) + 40
	if len(b) < h || string(b[:len(pgMagic)]) != pgMagic {
		return bad("not an encoded partial graph (header)")
	}
	u := func(k int) uint64 { return binary.LittleEndian.Uint64(b[len(pgMagic)+8*k:]) }
	ni, win, topk, flags, cnt := u(0), int64(u(1)), int64(u(2)), u(3), u(4)
	if ni >= 1<<31 || flags > 1 || win < math.MinInt32 || win > math.MaxInt32 || topk < 0 || topk > math.MaxInt32 {
		return bad("header fields out of range")
	}
	if cnt > uint64(len(b)-h)/16 || uint64(len(b)-h) != 16*cnt {
		return bad("%d bytes for %d pairs", len(b)-h, cnt)
	}
	out, err := NewPartialGraph(int(ni), GraphOptions{Window: int(win), Decay: flags == 1, TopK: int(topk)})
	if err != nil {
		return bad("%v", err)
	}
	var prev uint64
	for t := range int(cnt) {
		off := h + 16*t
		k := binary.LittleEndian.Uint64(b[off:])
		w := math.Float64frombits(binary.LittleEndian.Uint64(b[off+8:]))
		i, j := k>>32, k&0xffffffff
		if i < 1 || i >= j || j > ni || (t > 0 && k <= prev) {
			return bad("pair %d (%d,%d) out of order or range", t, i, j)
		}
		if !(w > 0) || math.IsInf(w, 0) {
			return bad("pair %d (%d,%d) weight %v", t, i, j, w)
		}
		out.w[k] = w
		prev = k
	}
	*pg = *out
	return nil
}
