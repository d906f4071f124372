package data

import (
	"cmp"
	"slices"
	"strconv"
)

// MaxKeptItemID is the largest item id accepted with IDKeep: kept ids index
// tables of NumItems+1 rows, so a stray huge id must not size them.
const MaxKeptItemID = 1 << 24

// builder accumulates interactions while a reader streams a file and turns
// them into a Dataset with contiguous ids.
type builder struct {
	file    string
	opts    *Options
	keep    bool
	maxItem int
	fixed   bool
	users   map[string]int
	items   map[string]int
	userRaw []string
	itemRaw []string
	seqs    [][]int
	times   [][]float64
	hasTime bool
	nonNumU bool
	nInter  int
}

func newBuilder(file string, opts *Options, f Format) *builder {
	b := &builder{
		file:    file,
		opts:    opts,
		users:   make(map[string]int),
		items:   make(map[string]int),
		itemRaw: []string{""},
	}
	switch {
	case opts.Items != nil:
		b.fixed = true
		for i, raw := range opts.Items {
			if _, dup := b.items[raw]; !dup {
				b.items[raw] = i + 1
			}
		}
		b.itemRaw = append(b.itemRaw, opts.Items...)
	case opts.IDs == IDKeep || (opts.IDs == IDAuto && f == FormatSeq):
		b.keep = true
	}
	return b
}

// user returns the internal index of raw user id raw, adding it if new.
func (b *builder) user(raw string) int {
	if u, ok := b.users[raw]; ok {
		return u
	}
	u := len(b.userRaw)
	b.users[raw] = u
	b.userRaw = append(b.userRaw, raw)
	b.seqs = append(b.seqs, nil)
	if b.hasTime {
		b.times = append(b.times, nil)
	}
	return u
}

// item returns the internal id of raw item id raw or an error naming line.
func (b *builder) item(raw string, line int) (int, error) {
	if b.keep {
		id, err := strconv.Atoi(raw)
		if err != nil {
			return 0, perr(b.file, line, "item id %q is not an integer", clip(raw))
		}
		if id < 1 {
			return 0, perrOf(ErrItemOutOfRange, b.file, line, "item id %d < 1 (0 is the padding id)", id)
		}
		if b.opts.NumItems > 0 && id > b.opts.NumItems {
			return 0, perrOf(ErrItemOutOfRange, b.file, line, "item id %d > max %d", id, b.opts.NumItems)
		}
		if id > MaxKeptItemID {
			return 0, perrOf(ErrItemOutOfRange, b.file, line, "item id %d > %d, too large to keep as an index (use IDRemap)", id, MaxKeptItemID)
		}
		if id > b.maxItem {
			b.maxItem = id
		}
		return id, nil
	}
	if id, ok := b.items[raw]; ok {
		return id, nil
	}
	if b.fixed {
		return 0, perrOf(ErrItemOutOfRange, b.file, line, "item %q is not in the item list (%d items)", clip(raw), len(b.itemRaw)-1)
	}
	if raw == "" {
		return 0, perr(b.file, line, "empty item id")
	}
	id := len(b.itemRaw)
	b.items[raw] = id
	b.itemRaw = append(b.itemRaw, raw)
	return id, nil
}

// add appends one interaction of user u.
func (b *builder) add(u, item int, t float64) {
	b.seqs[u] = append(b.seqs[u], item)
	if b.hasTime {
		b.times[u] = append(b.times[u], t)
	}
	b.nInter++
}

// setTime declares that interactions carry timestamps; call before any user.
func (b *builder) setTime() { b.hasTime = true }

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// finish builds the Dataset; lastLine is used for "no data" errors.
func (b *builder) finish(name string, lastLine int) (*Dataset, error) {
	if b.nInter == 0 {
		if lastLine < 1 {
			lastLine = 1
		}
		return nil, perr(b.file, lastLine, "empty file: no interactions")
	}
	d := &Dataset{Name: name}
	if d.Name == "" {
		d.Name = b.file
	}
	// User order: numeric in keep mode when every raw user id is an integer.
	order := make([]int, len(b.userRaw))
	for i := range order {
		order[i] = i
	}
	if b.keep {
		nums := make([]int, len(b.userRaw))
		numeric := true
		for i, r := range b.userRaw {
			v, err := strconv.Atoi(r)
			if err != nil {
				numeric = false
				break
			}
			nums[i] = v
		}
		if numeric {
			slices.SortStableFunc(order, func(a, c int) int { return cmp.Compare(nums[a], nums[c]) })
		}
	}
	d.Seqs = make([][]int, len(order))
	d.UserRaw = make([]string, len(order))
	d.UserIndex = make(map[string]int, len(order))
	if b.hasTime {
		d.Timestamps = make([][]int64, len(order))
	}
	for nu, ou := range order {
		seq := b.seqs[ou]
		d.UserRaw[nu] = b.userRaw[ou]
		d.UserIndex[b.userRaw[ou]] = nu
		if !b.hasTime {
			d.Seqs[nu] = seq
			continue
		}
		ts := b.times[ou]
		if !b.opts.KeepFileOrder {
			idx := make([]int, len(seq))
			for i := range idx {
				idx[i] = i
			}
			slices.SortStableFunc(idx, func(x, y int) int {
				if c := cmp.Compare(ts[x], ts[y]); c != 0 {
					return c
				}
				if b.opts.TieByItem {
					return cmp.Compare(seq[x], seq[y])
				}
				return 0
			})
			s2 := make([]int, len(seq))
			t2 := make([]float64, len(seq))
			for i, j := range idx {
				s2[i], t2[i] = seq[j], ts[j]
			}
			seq, ts = s2, t2
		}
		d.Seqs[nu] = seq
		it := make([]int64, len(ts))
		for i, t := range ts {
			it[i] = int64(t)
		}
		d.Timestamps[nu] = it
	}
	if b.keep {
		n := b.maxItem
		if b.opts.NumItems > 0 {
			n = b.opts.NumItems
		} else if n > 4*b.nInter+1<<16 {
			return nil, perr(b.file, 0, "largest item id %d is far above the %d interactions: ids look sparse, use IDRemap (or set Options.NumItems)", n, b.nInter)
		}
		d.NumItems = n
		d.ItemRaw = make([]string, n+1)
		d.ItemIndex = make(map[string]int, n)
		for i := 1; i <= n; i++ {
			s := strconv.Itoa(i)
			d.ItemRaw[i] = s
			d.ItemIndex[s] = i
		}
	} else {
		d.NumItems = len(b.itemRaw) - 1
		d.ItemRaw = b.itemRaw
		d.ItemIndex = make(map[string]int, d.NumItems)
		for i := 1; i < len(b.itemRaw); i++ {
			if _, dup := d.ItemIndex[b.itemRaw[i]]; !dup {
				d.ItemIndex[b.itemRaw[i]] = i
			}
		}
	}
	if b.opts.Logger != nil {
		b.opts.Logger.Info("data: loaded", "file", b.file, "users", d.NumUsers(),
			"items", d.NumItems, "interactions", d.NumInteractions())
	}
	return d, nil
}
