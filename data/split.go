package data

// LeaveOneOut splits d as SASRec's data_partition does: for a user with at
// least 3 items, Train is all but the last two, Valid the second to last and
// Test the last; a user with fewer than 3 items keeps every item in Train and
// has Valid = Test = 0. Train slices alias d.Seqs (they are not copied), so
// neither must be modified afterwards.
func LeaveOneOut(d *Dataset) *Split {
	n := d.NumUsers()
	s := &Split{
		NumItems: d.NumItems,
		Train:    make([][]int, n),
		Valid:    make([]int, n),
		Test:     make([]int, n),
	}
	for u, seq := range d.Seqs {
		if len(seq) < 3 {
			s.Train[u] = seq[:len(seq):len(seq)]
			continue
		}
		k := len(seq) - 2
		s.Train[u] = seq[:k:k]
		s.Valid[u] = seq[k]
		s.Test[u] = seq[k+1]
	}
	return s
}
