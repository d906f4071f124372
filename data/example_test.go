package data_test

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/llmrec/llmrec/data"
)

func Example() {
	// Three users in the S3-Rec sequence format: "user item item ...".
	const seqs = "1 1 2 3 4\n2 2 3 5\n3 4 1\n"
	d, err := data.ReadSeq(strings.NewReader(seqs), "toy.txt", data.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := data.LeaveOneOut(d)
	fmt.Println("users", d.NumUsers(), "items", d.NumItems, "interactions", d.NumInteractions())
	fmt.Println("train", s.Train, "valid", s.Valid, "test", s.Test)

	// negatives for user 1 (training items 1 2): never 1 or 2
	ns := data.NewNegativeSampler(d.NumItems)
	ns.SetUser(s.Train[0])
	rng := rand.New(rand.NewPCG(1, 2))
	var negs []int
	for range 6 {
		negs = append(negs, ns.Draw(rng))
	}
	fmt.Println("negatives", negs)
	// Output:
	// users 3 items 5 interactions 9
	// train [[1 2] [2] [4 1]] valid [3 3 0] test [4 5 0]
	// negatives [4 4 4 4 3 3]
}

func ExamplePopularityBins() {
	// Training frequencies indexed by item id (0 = padding).
	freq := []int{0, 9, 1, 4, 4, 2}
	fmt.Println(data.PopularityBinBoundaries(freq, 3))
	fmt.Println(data.PopularityBins(freq, 3))
	// Output:
	// [0 1 3 6]
	// [0 1 3 2 2 3]
}

func ExampleReadCSV() {
	// PAD's Prime Pantry layout: one user per row, a Python list of ASINs;
	// item id = 1 + row index in the metadata file (here given inline).
	const hist = ",user,history\n0,A1,\"['B2', 'B1']\"\n1,A2,\"['B1', 'B3', 'B2']\"\n"
	order := []string{"B1", "B2", "B3"} // data.LoadItemOrder("metadata_Prime_Pantry.csv", "asin")
	d, err := data.ReadCSV(strings.NewReader(hist), "history.csv", data.Options{
		CSV:   data.CSVColumns{User: "user"},
		Items: order,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Seqs, d.UserRaw)
	_, err = data.ReadSeq(strings.NewReader("1 4 5\n2 7 x\n"), "Beauty.txt", data.Options{})
	fmt.Println(err)
	// Output:
	// [[2 1] [1 3 2]] [A1 A2]
	// data: Beauty.txt:2: item id "x" is not an integer
}
