// Package data reads recommendation datasets and prepares them for training
// and evaluation: readers for sequence, pair, CSV/TSV and RecBole files with id
// remapping; k-core and length filters; the leave-one-out split; next-item and
// masked-item batches with seeded negative sampling; item popularity and
// equal-mass popularity bins; and item-embedding files (.npy, .safetensors).
//
// Errors from files name the file and line. Randomness comes from a
// *rand.Rand passed in, so results are reproducible by seed.
package data
