// Package data reads recommendation datasets and prepares them for training
// and evaluation: readers for sequence, pair, CSV/TSV and RecBole files with id
// remapping; k-core and length filters; the leave-one-out split; the
// negative-sampling rule (NegativeSampler; batches are backbone.Batch); item popularity and
// equal-mass popularity bins; and item-embedding files (.npy, .safetensors).
//
// Why a package of its own: every published number in this field depends on
// details that are easy to get subtly wrong — whether ids are kept so that row
// i of an LLM embedding file is item i, whether the k-core is iterative
// (SASRec-style) or single-pass (LLM-ESR), which users are train-only in the
// split, how negatives are redrawn, and how PAD's popularity bins are cut.
// This package fixes each of those choices in one tested place.
//
// Ids: items are 1..NumItems with 0 as padding; users are 0..NumUsers-1.
// Sequence files keep their item ids by default (IDKeep), other formats are
// remapped in order of first appearance (IDRemap) unless Options say
// otherwise; Dataset.UserRaw/ItemRaw and UserID/ItemID map both ways.
//
// Errors from files name the file and line ("data: Beauty.txt:1042: item id
// 99999 > max 12101", a *ParseError). Randomness comes from a *rand.Rand
// passed in, so results are reproducible by seed. Nothing here prints or
// keeps global state.
//
// A typical pipeline:
//
//	fo, err := data.LoadDir("../shared/data/amazon-beauty", data.Options{})
//	// handle err
//	split := data.LeaveOneOut(fo.Dataset)
//	emb, report, err := data.LoadItemEmbeddings(fo.EmbeddingFile, fo.Dataset, data.EmbeddingOptions{})
//	neg := data.NewNegativeSampler(split.NumItems)
//	neg.SetUser(split.Train[u])
//	c := neg.Draw(rng) // not one of user u's training items
//	bins := data.PopularityBins(data.ItemFrequency(split), 10)
package data
