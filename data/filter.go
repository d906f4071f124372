package data

import (
	"cmp"
	"slices"
)

// The filters return a new Dataset and never modify their input. Users left
// with no interactions are dropped and the surviving items are renumbered
// 1..n in order of their old ids, so ids stay contiguous; ItemRaw, UserRaw,
// the index maps and Timestamps follow. After a filter that removes items,
// internal ids no longer equal file ids: align embedding rows through the raw
// ids (EmbeddingOptions.RowKeys).

// KCore keeps the largest sub-dataset in which every user has at least userK
// interactions and every item at least itemK, removing under-threshold users
// and items repeatedly until nothing changes (the usual iterative k-core).
// A threshold <= 1 disables that side.
func KCore(d *Dataset, userK, itemK int) *Dataset {
	keep := make([][]bool, len(d.Seqs))
	for u, s := range d.Seqs {
		keep[u] = make([]bool, len(s))
		for j := range keep[u] {
			keep[u][j] = true
		}
	}
	icnt := make([]int, d.NumItems+1)
	for {
		clear(icnt)
		ulen := make([]int, len(d.Seqs))
		for u, s := range d.Seqs {
			for j, it := range s {
				if keep[u][j] {
					icnt[it]++
					ulen[u]++
				}
			}
		}
		changed := false
		for u, s := range d.Seqs {
			for j, it := range s {
				if keep[u][j] && (ulen[u] < userK || icnt[it] < itemK) {
					keep[u][j] = false
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	return rebuild(d, func(u, j int) bool { return keep[u][j] })
}

// KCoreOnce is LLM-ESR's single-pass core filter: user and item counts are
// computed once on d, and every interaction whose user has fewer than userK
// or whose item has fewer than itemK interactions is removed. Unlike KCore,
// survivors may fall below the thresholds afterwards.
func KCoreOnce(d *Dataset, userK, itemK int) *Dataset {
	icnt := make([]int, d.NumItems+1)
	for _, s := range d.Seqs {
		for _, it := range s {
			icnt[it]++
		}
	}
	return rebuild(d, func(u, j int) bool {
		return len(d.Seqs[u]) >= userK && icnt[d.Seqs[u][j]] >= itemK
	})
}

// MinUserLen drops the users with fewer than n interactions.
func MinUserLen(d *Dataset, n int) *Dataset {
	return rebuild(d, func(u, _ int) bool { return len(d.Seqs[u]) >= n })
}

// TruncateLast keeps only the last n interactions of every user (n > 0).
func TruncateLast(d *Dataset, n int) *Dataset {
	return rebuild(d, func(u, j int) bool { return j >= len(d.Seqs[u])-n })
}

// SortByTime returns d with every user's sequence stably sorted by
// timestamp (ties keep their order). Without timestamps it returns a copy.
func SortByTime(d *Dataset) *Dataset {
	out := rebuild(d, func(int, int) bool { return true })
	if out.Timestamps == nil {
		return out
	}
	for u := range out.Seqs {
		s, ts := out.Seqs[u], out.Timestamps[u]
		idx := make([]int, len(s))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ts[a], ts[b]) })
		s2 := make([]int, len(s))
		t2 := make([]int64, len(s))
		for i, j := range idx {
			s2[i], t2[i] = s[j], ts[j]
		}
		out.Seqs[u], out.Timestamps[u] = s2, t2
	}
	return out
}

// rebuild keeps the interactions (u, j) for which keep is true, drops empty
// users and renumbers the surviving items contiguously.
func rebuild(d *Dataset, keep func(u, j int) bool) *Dataset {
	newID := make([]int, d.NumItems+1)
	var seqs [][]int
	var times [][]int64
	var users []int
	for u, s := range d.Seqs {
		var ns []int
		var nt []int64
		for j, it := range s {
			if !keep(u, j) {
				continue
			}
			ns = append(ns, it)
			newID[it] = 1
			if d.Timestamps != nil {
				nt = append(nt, d.Timestamps[u][j])
			}
		}
		if len(ns) == 0 {
			continue
		}
		users = append(users, u)
		seqs = append(seqs, ns)
		if d.Timestamps != nil {
			times = append(times, nt)
		}
	}
	out := &Dataset{Name: d.Name, Seqs: seqs, Timestamps: times}
	n := 0
	out.ItemRaw = []string{""}
	for i := 1; i <= d.NumItems; i++ {
		if newID[i] != 0 {
			n++
			newID[i] = n
			raw := ""
			if i < len(d.ItemRaw) {
				raw = d.ItemRaw[i]
			}
			out.ItemRaw = append(out.ItemRaw, raw)
		}
	}
	out.NumItems = n
	out.ItemIndex = make(map[string]int, n)
	for i := 1; i <= n; i++ {
		out.ItemIndex[out.ItemRaw[i]] = i
	}
	for _, s := range seqs {
		for j, it := range s {
			s[j] = newID[it]
		}
	}
	out.UserRaw = make([]string, len(users))
	out.UserIndex = make(map[string]int, len(users))
	for nu, u := range users {
		raw := ""
		if u < len(d.UserRaw) {
			raw = d.UserRaw[u]
		}
		out.UserRaw[nu] = raw
		out.UserIndex[raw] = nu
	}
	return out
}
