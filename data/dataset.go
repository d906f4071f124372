package data

// Dataset is a set of user interaction sequences with contiguous internal ids.
//
// Item ids are 1..NumItems (0 is the padding id); user u's chronological
// sequence is Seqs[u], for u in 0..NumUsers-1. Raw ids from the source file
// are kept both ways so that results can be mapped back. A Dataset is not
// mutated by the library after it is built; it is safe for concurrent reads.
type Dataset struct {
	// Name is a short label (usually the file or folder name).
	Name string
	// NumItems is the number of items; valid ids are 1..NumItems.
	NumItems int
	// Seqs holds one chronological item sequence per user.
	Seqs [][]int
	// UserRaw[u] is the raw id of internal user u.
	UserRaw []string
	// ItemRaw[i] is the raw id of internal item i (ItemRaw[0] = "" for padding).
	ItemRaw []string
	// Timestamps, when the source has them, parallels Seqs.
	Timestamps [][]int64
	// UserIndex maps a raw user id to its internal index (the inverse of
	// UserRaw). The readers fill it; it may be nil in hand-built Datasets,
	// in which case UserID falls back to a linear scan.
	UserIndex map[string]int
	// ItemIndex maps a raw item id to its internal id (the inverse of
	// ItemRaw), filled by the readers like UserIndex.
	ItemIndex map[string]int
}

// UserID returns the internal index of raw user id raw.
func (d *Dataset) UserID(raw string) (int, bool) {
	if d.UserIndex != nil {
		u, ok := d.UserIndex[raw]
		return u, ok
	}
	for u, r := range d.UserRaw {
		if r == raw {
			return u, true
		}
	}
	return 0, false
}

// ItemID returns the internal id (1..NumItems) of raw item id raw.
func (d *Dataset) ItemID(raw string) (int, bool) {
	if d.ItemIndex != nil {
		i, ok := d.ItemIndex[raw]
		return i, ok
	}
	for i := 1; i < len(d.ItemRaw); i++ {
		if d.ItemRaw[i] == raw {
			return i, true
		}
	}
	return 0, false
}

// NumUsers returns the number of users.
func (d *Dataset) NumUsers() int { return len(d.Seqs) }

// NumInteractions returns the total sequence length over all users.
func (d *Dataset) NumInteractions() int {
	n := 0
	for _, s := range d.Seqs {
		n += len(s)
	}
	return n
}

// Split is a leave-one-out split of a Dataset (SASRec's data_partition): for
// a user with at least 3 items, Train[u] is all but the last two, Valid[u]
// the second to last and Test[u] the last; a user with fewer than 3 items
// has every item in Train[u] and Valid[u] = Test[u] = 0 (no held-out item).
// Like Dataset, a Split is not mutated by the library and is safe for
// concurrent reads.
type Split struct {
	NumItems int
	Train    [][]int
	Valid    []int
	Test     []int
}

// ValidInput returns the model input for validation: the training items.
func (s *Split) ValidInput(u int) []int { return s.Train[u] }

// TestInput returns the model input for the test: the training items plus
// the validation item. It allocates; hot paths should build it in a buffer.
func (s *Split) TestInput(u int) []int {
	in := make([]int, 0, len(s.Train[u])+1)
	in = append(in, s.Train[u]...)
	if s.Valid[u] != 0 {
		in = append(in, s.Valid[u])
	}
	return in
}
