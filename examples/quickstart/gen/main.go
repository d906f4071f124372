// Command gen writes the synthetic dataset that examples/quickstart embeds:
// a sequence file ("user item item ...", 1-based ids) and a .npy matrix of
// fake "LLM" item embeddings (row i = item i, row 0 = padding zeros).
//
//	go run ./examples/quickstart/gen -out examples/quickstart/assets
//
// The data is GENERATED, not collected: no real user, item or text is in it,
// so it can be redistributed with the repository. It is deterministic for a
// seed (the committed files are seed 7, the default; a test checks that
// regenerating them gives the same bytes). The planted structure:
//
//   - Items belong to behavioural topics (the topics users actually move
//     between); item popularity inside a topic is Zipf-distributed, and some
//     topics are more popular than others.
//   - Users move between a few topics of their own with a Markov chain (stay
//     in the current topic with probability Stay, else jump to another of the
//     user's topics) and pick items by popularity inside the current topic.
//   - The text vectors mimic raw LLM embeddings: a shared offset direction
//     (anisotropy), a text-topic direction and item noise, with lognormal
//     norms (max/min far above 10). The text topic equals the behavioural
//     topic for most items; for a fraction Misaligned it is another topic, so
//     the text's angular clusters only partly agree with the collaborative
//     structure. The text is informative exactly where IDs are weak: on rare
//     items, whose behavioural topic it usually reveals.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/llmrec/llmrec/data"
	"github.com/llmrec/llmrec/tensor"
)

// config holds the generator's knobs.
type config struct {
	Seed       uint64
	Users      int
	Items      int
	Topics     int     // behavioural topics (items are split evenly)
	Dim        int     // text-vector width
	UserTopics int     // topics per user
	Stay       float64 // Markov probability of staying in the topic
	MinLen     int     // shortest sequence
	MeanExtra  float64 // mean of the geometric number of items beyond MinLen
	MaxLen     int     // longest sequence
	ItemZipf   float64 // Zipf exponent of item popularity inside a topic
	TopicZipf  float64 // Zipf exponent of topic popularity
	Misaligned float64 // fraction of items whose text topic is another topic
	NormSigma  float64 // sigma of the lognormal norms
	Offset     float64 // weight of the shared direction
	Noise      float64 // weight of the per-item noise direction
}

func defaultConfig() config {
	return config{Seed: 7, Users: 2000, Items: 1000, Topics: 20, Dim: 128, UserTopics: 3,
		Stay: 0.7, MinLen: 5, MeanExtra: 7, MaxLen: 40, ItemZipf: 0.9, TopicZipf: 0.6,
		Misaligned: 0.2, NormSigma: 0.6, Offset: 1.2, Noise: 0.8}
}

// dataset is the generated data plus the planted ground truth.
type dataset struct {
	Seqs       [][]int   // user u's items (1-based)
	Emb        []float32 // (Items+1) x Dim, row 0 zeros
	Behaviour  []int     // behavioural topic of item i (index 0 unused)
	TextTopic  []int     // text topic of item i
	Norms      []float64 // planted norm of item i
	Popularity []float64 // sampling weight of item i inside its topic
}

// unit returns a random direction in R^d.
func unit(rng *rand.Rand, d int) []float64 {
	v := make([]float64, d)
	var s float64
	for i := range v {
		v[i] = rng.NormFloat64()
		s += v[i] * v[i]
	}
	s = math.Sqrt(s)
	for i := range v {
		v[i] /= s
	}
	return v
}

// pick draws an index with probability proportional to w (cum is the
// cumulative sum of w).
func pick(rng *rand.Rand, cum []float64) int {
	x := rng.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func cumsum(w []float64) []float64 {
	c := make([]float64, len(w))
	var s float64
	for i, v := range w {
		s += v
		c[i] = s
	}
	return c
}

func generate(cfg config) (*dataset, error) {
	if cfg.Items%cfg.Topics != 0 || cfg.UserTopics > cfg.Topics || cfg.MinLen < 3 || cfg.MaxLen < cfg.MinLen {
		return nil, errors.New("gen: inconsistent config")
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	ds := &dataset{
		Behaviour:  make([]int, cfg.Items+1),
		TextTopic:  make([]int, cfg.Items+1),
		Norms:      make([]float64, cfg.Items+1),
		Popularity: make([]float64, cfg.Items+1),
		Emb:        make([]float32, (cfg.Items+1)*cfg.Dim),
	}
	// Items of topic t are a random set of ids; the k-th of them has Zipf
	// weight 1/(k+1)^ItemZipf.
	perm := rng.Perm(cfg.Items)
	members := make([][]int, cfg.Topics)
	for k, p := range perm {
		t, rank := k%cfg.Topics, k/cfg.Topics
		item := p + 1
		ds.Behaviour[item] = t
		ds.Popularity[item] = 1 / math.Pow(float64(rank+1), cfg.ItemZipf)
		members[t] = append(members[t], item)
	}
	// Text vectors.
	offset := unit(rng, cfg.Dim)
	topicDir := make([][]float64, cfg.Topics)
	for t := range topicDir {
		topicDir[t] = unit(rng, cfg.Dim)
	}
	for i := 1; i <= cfg.Items; i++ {
		tt := ds.Behaviour[i]
		if rng.Float64() < cfg.Misaligned {
			tt = (tt + 1 + rng.IntN(cfg.Topics-1)) % cfg.Topics
		}
		ds.TextTopic[i] = tt
		noise := unit(rng, cfg.Dim)
		v := make([]float64, cfg.Dim)
		var s float64
		for j := range v {
			v[j] = cfg.Offset*offset[j] + topicDir[tt][j] + cfg.Noise*noise[j]
			s += v[j] * v[j]
		}
		norm := math.Exp(cfg.NormSigma * rng.NormFloat64())
		ds.Norms[i] = norm
		scale := norm / math.Sqrt(s)
		for j := range v {
			ds.Emb[i*cfg.Dim+j] = float32(v[j] * scale)
		}
	}
	// Sequences.
	topicW := make([]float64, cfg.Topics)
	for t := range topicW {
		topicW[t] = 1 / math.Pow(float64(t+1), cfg.TopicZipf)
	}
	topicCum := cumsum(topicW)
	itemCum := make([][]float64, cfg.Topics)
	for t, ms := range members {
		w := make([]float64, len(ms))
		for k, it := range ms {
			w[k] = ds.Popularity[it]
		}
		itemCum[t] = cumsum(w)
	}
	pExtra := 1 / (1 + cfg.MeanExtra) // geometric number of extra items
	ds.Seqs = make([][]int, cfg.Users)
	for u := range ds.Seqs {
		var mine []int
		for len(mine) < cfg.UserTopics {
			t := pick(rng, topicCum)
			dup := false
			for _, m := range mine {
				dup = dup || m == t
			}
			if !dup {
				mine = append(mine, t)
			}
		}
		n := cfg.MinLen
		for n < cfg.MaxLen && rng.Float64() >= pExtra {
			n++
		}
		seq := make([]int, 0, n)
		cur := rng.IntN(len(mine))
		for len(seq) < n {
			if len(seq) > 0 && rng.Float64() >= cfg.Stay {
				cur = (cur + 1 + rng.IntN(len(mine)-1)) % len(mine)
			}
			t := mine[cur]
			item := members[t][pick(rng, itemCum[t])]
			if len(seq) > 0 && seq[len(seq)-1] == item {
				continue // no immediate repeats
			}
			seq = append(seq, item)
		}
		ds.Seqs[u] = seq
	}
	return ds, nil
}

// writeSeq writes the sequence file ("user item item ...", users 1-based).
func writeSeq(w io.Writer, seqs [][]int) error {
	bw := bufio.NewWriter(w)
	for u, s := range seqs {
		bw.WriteString(strconv.Itoa(u + 1))
		for _, it := range s {
			bw.WriteByte(' ')
			bw.WriteString(strconv.Itoa(it))
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// files renders the two files' bytes.
func files(cfg config) (seq, npy []byte, ds *dataset, err error) {
	ds, err = generate(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	var sb, nb bytes.Buffer
	if err := writeSeq(&sb, ds.Seqs); err != nil {
		return nil, nil, nil, err
	}
	t := &tensor.Tensor{Shape: []int{cfg.Items + 1, cfg.Dim}, Data: ds.Emb}
	if err := data.EncodeNPY(&nb, t); err != nil {
		return nil, nil, nil, err
	}
	return sb.Bytes(), nb.Bytes(), ds, nil
}

// SeqFile and EmbFile are the names of the generated files.
const (
	SeqFile = "synthetic_seq.txt"
	EmbFile = "item_emb_synthetic_128.npy"
)

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "examples/quickstart/assets", "output folder")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "generator seed (the committed files use the default)")
	fs.Float64Var(&cfg.ItemZipf, "item-zipf", cfg.ItemZipf, "Zipf exponent of item popularity inside a topic")
	fs.Float64Var(&cfg.Misaligned, "misaligned", cfg.Misaligned, "fraction of items whose text topic is another topic")
	if err := fs.Parse(args); err != nil {
		return err
	}
	seq, npy, ds, err := files(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(*out, SeqFile), seq); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(*out, EmbFile), npy); err != nil {
		return err
	}
	n := 0
	for _, s := range ds.Seqs {
		n += len(s)
	}
	fmt.Fprintf(stdout, "wrote %s (%d users, %d interactions, %d bytes) and %s (%d x %d, %d bytes)\n",
		SeqFile, len(ds.Seqs), n, len(seq), EmbFile, cfg.Items+1, cfg.Dim, len(npy))
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			slog.Error("gen", "err", err)
		}
		os.Exit(1)
	}
}
