package data

import (
	"bytes"
	"strings"
	"testing"
)

// Each fuzz target checks that a reader never panics and that any Dataset it
// returns keeps the structural invariants. Seed corpora live in
// testdata/fuzz/<FuzzName>/.

func fuzzCheck(t *testing.T, d *Dataset, err error) {
	if err != nil {
		if !strings.HasPrefix(err.Error(), "data: ") {
			t.Fatalf("error without the data: prefix: %v", err)
		}
		return
	}
	if d.NumUsers() == 0 || d.NumInteractions() == 0 {
		t.Fatalf("no error but an empty dataset")
	}
	if len(d.ItemRaw) != d.NumItems+1 || len(d.UserRaw) != d.NumUsers() {
		t.Fatalf("raw id tables: %d items %d raw; %d users %d raw", d.NumItems, len(d.ItemRaw), d.NumUsers(), len(d.UserRaw))
	}
	for u, s := range d.Seqs {
		if len(s) == 0 {
			t.Fatalf("user %d empty", u)
		}
		if d.UserIndex[d.UserRaw[u]] != u {
			t.Fatalf("user index of %q", d.UserRaw[u])
		}
		for _, it := range s {
			if it < 1 || it > d.NumItems {
				t.Fatalf("user %d item %d out of 1..%d", u, it, d.NumItems)
			}
		}
		if d.Timestamps != nil && len(d.Timestamps[u]) != len(s) {
			t.Fatalf("timestamps of user %d", u)
		}
	}
}

func FuzzReadSeq(f *testing.F) {
	f.Add([]byte("1 1 2 3\n2 4 5\n"), false)
	f.Add([]byte("a b c\n\nb x\r\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, remap bool) {
		opts := Options{}
		if remap {
			opts.IDs = IDRemap
		}
		d, err := ReadSeq(bytes.NewReader(in), "f.txt", opts)
		fuzzCheck(t, d, err)
	})
}

func FuzzReadPairs(f *testing.F) {
	f.Add([]byte("196\t242\t3\t881250949\n186\t302\t3\t891717742\n"), true)
	f.Add([]byte("1 2\n1 3\n2 2\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, movielens bool) {
		opts := Options{}
		if movielens {
			opts.Pairs = PairColumns{User: 0, Item: 1, Rating: 2, Time: 3}
			opts.MinRating = 2
		}
		d, err := ReadPairs(bytes.NewReader(in), "f.txt", opts)
		fuzzCheck(t, d, err)
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("user_id,item_id,timestamp,rating\n1,a,5,4\n1,b,3,5\n"), false)
	f.Add([]byte(",user,history\n0,A0526222H977CBZM4DK7,\"['B00099XNXS', 'B00UBJQHMU']\"\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, pad bool) {
		opts := Options{}
		if pad {
			opts.CSV.User = "user"
		}
		d, err := ReadCSV(bytes.NewReader(in), "f.csv", opts)
		fuzzCheck(t, d, err)
	})
}

func FuzzReadInter(f *testing.F) {
	f.Add([]byte("user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n"))
	f.Add([]byte("user_id:token\titem_id:token\n1\t2\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := ReadInter(bytes.NewReader(in), "f.inter", Options{})
		fuzzCheck(t, d, err)
	})
}

func FuzzReadNPY(f *testing.F) {
	f.Add(npyBytes(1, "<f4", false, "(2, 3)", []float64{1, 2, 3, 4, 5, 6}))
	f.Add(npyBytes(3, ">f8", true, "(2, 1)", []float64{1, 2}))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ReadNPY(bytes.NewReader(in), "f.npy")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "data: f.npy: ") {
				t.Fatalf("error without file prefix: %v", err)
			}
			return
		}
		if len(m.Shape) != 2 || len(m.Data) != m.Shape[0]*m.Shape[1] {
			t.Fatalf("shape %v with %d values", m.Shape, len(m.Data))
		}
		// Round trip through our writer.
		var buf bytes.Buffer
		if err := EncodeNPY(&buf, m); err != nil {
			t.Fatal(err)
		}
		m2, err := ReadNPY(&buf, "f.npy")
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(m2.Data) != len(m.Data) {
			t.Fatalf("round trip length")
		}
		for i := range m.Data {
			if m.Data[i] != m2.Data[i] && m.Data[i] == m.Data[i] {
				t.Fatalf("round trip value %d", i)
			}
		}
	})
}
