package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxLine bounds one line of a line-based file (64 MiB): the sequence,
// pair and atomic readers (bufio.Scanner) and the CSV readers (lineLimit)
// all stop there.
const maxLine = 64 << 20

// lineLimit wraps a CSV input so that a line longer than limit bytes is an
// error, as in the other readers: encoding/csv grows its buffer to hold
// any line, so a 2 GB one-line file would be read whole into memory.
type lineLimit struct {
	r     io.Reader
	file  string
	limit int
	run   int // bytes since the last newline
	line  int // 1-based number of the current line
}

func newLineLimit(r io.Reader, file string) *lineLimit {
	return &lineLimit{r: r, file: file, limit: maxLine, line: 1}
}

func (l *lineLimit) Read(p []byte) (int, error) {
	// never hand out more than the rest of the allowed line plus one byte,
	// so the limit is hit exactly
	if room := l.limit - l.run + 1; len(p) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.run = 0
			l.line++
			continue
		}
		l.run++
		if l.run > l.limit {
			return 0, perr(l.file, l.line, "line longer than %d bytes", l.limit)
		}
	}
	return n, err
}

// minTimestamp is the smallest timestamp accepted: -2^63, so that every
// accepted timestamp converts to an int64 exactly (up to float64 precision).
const minTimestamp = -(1 << 63)

// Load reads the interaction file at path with the reader chosen by
// opts.Format (or by the extension) and returns a Dataset with contiguous
// ids. The file is streamed, never read whole.
func Load(path string, opts Options) (*Dataset, error) {
	f, err := formatOf(path, opts.Format)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer fh.Close()
	name := filepath.Base(path)
	if opts.Comma == 0 && strings.EqualFold(filepath.Ext(path), ".tsv") {
		opts.Comma = '\t'
	}
	switch f {
	case FormatSeq:
		return ReadSeq(fh, name, opts)
	case FormatPairs:
		return ReadPairs(fh, name, opts)
	case FormatCSV:
		return ReadCSV(fh, name, opts)
	default:
		return ReadInter(fh, name, opts)
	}
}

type lines struct {
	sc   *bufio.Scanner
	file string
	n    int
	skip bool
}

func newLines(r io.Reader, file string, skip bool) *lines {
	sc := bufio.NewScanner(stripBOM(r))
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	return &lines{sc: sc, file: file, skip: skip}
}

// next returns the next line's fields split by split, or (nil, nil) at EOF.
func (l *lines) next(split func(string) []string) ([]string, error) {
	for l.sc.Scan() {
		l.n++
		s := strings.TrimRight(l.sc.Text(), "\r")
		if strings.TrimSpace(s) == "" {
			if l.skip {
				continue
			}
			return nil, perr(l.file, l.n, "empty line")
		}
		return split(s), nil
	}
	if err := l.sc.Err(); err != nil {
		return nil, perr(l.file, l.n+1, "%v", err)
	}
	return nil, nil
}

// ReadSeq reads FormatSeq from r: one user per line, "user item item ...".
// name labels errors (use the file's base name). By default (IDAuto) item ids
// are kept: item i in the file is internal item i. A user appearing on
// several lines has the items appended in file order.
func ReadSeq(r io.Reader, name string, opts Options) (*Dataset, error) {
	b := newBuilder(name, &opts, FormatSeq)
	ls := newLines(r, name, opts.SkipBlankLines)
	for {
		f, err := ls.next(strings.Fields)
		if err != nil {
			return nil, err
		}
		if f == nil {
			break
		}
		if len(f) < 2 {
			return nil, perr(name, ls.n, "user %q has no items", clip(f[0]))
		}
		u := b.user(f[0])
		for _, tok := range f[1:] {
			it, err := b.item(tok, ls.n)
			if err != nil {
				return nil, err
			}
			b.add(u, it, 0)
		}
	}
	return b.finish(opts.Name, ls.n)
}

// ReadPairs reads FormatPairs from r: one interaction per line, whitespace
// separated, columns chosen by opts.Pairs. Without a time column the file
// order is the time order (as in SASRec's data files).
func ReadPairs(r io.Reader, name string, opts Options) (*Dataset, error) {
	c := opts.pairCols()
	if c.User < 0 || c.Item < 0 || c.User == c.Item {
		return nil, fmt.Errorf("data: %s: bad pair columns %+v", name, c)
	}
	need := max(c.User, c.Item, c.Time, c.Rating) + 1
	if opts.MinRating != 0 && c.Rating < 0 {
		return nil, fmt.Errorf("data: %s: MinRating set but Options.Pairs has no rating column", name)
	}
	b := newBuilder(name, &opts, FormatPairs)
	if c.Time >= 0 {
		b.setTime()
	}
	ls := newLines(r, name, opts.SkipBlankLines)
	for {
		f, err := ls.next(strings.Fields)
		if err != nil {
			return nil, err
		}
		if f == nil {
			break
		}
		if len(f) < need {
			return nil, perr(name, ls.n, "%d fields, need at least %d", len(f), need)
		}
		if err := addRow(b, ls.n, f[c.User], f[c.Item], col(f, c.Time), col(f, c.Rating), c.Time >= 0, c.Rating >= 0); err != nil {
			return nil, err
		}
	}
	return b.finish(opts.Name, ls.n)
}

func col(f []string, i int) string {
	if i < 0 {
		return ""
	}
	return f[i]
}

// addRow parses and adds one interaction row.
func addRow(b *builder, line int, user, item, ts, rating string, hasTime, hasRating bool) error {
	if hasRating && b.opts.MinRating != 0 {
		v, err := strconv.ParseFloat(strings.TrimSpace(rating), 64)
		if err != nil || math.IsNaN(v) {
			return perr(b.file, line, "rating %q is not a number", clip(rating))
		}
		if v < b.opts.MinRating {
			return nil
		}
	}
	var t float64
	if hasTime {
		v, err := strconv.ParseFloat(strings.TrimSpace(ts), 64)
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return perrOf(ErrNonFinite, b.file, line, "timestamp %q is not finite", clip(ts))
		case err != nil:
			return perr(b.file, line, "timestamp %q is not a number", clip(ts))
		case v < minTimestamp || v >= -minTimestamp:
			// int64(v) would be undefined; sorting by it would move the
			// latest item first
			return perr(b.file, line, "timestamp %q is outside the int64 range", clip(ts))
		}
		t = v
	}
	if user == "" {
		return perr(b.file, line, "empty user id")
	}
	it, err := b.item(item, line)
	if err != nil {
		return err
	}
	b.add(b.user(user), it, t)
	return nil
}

// ReadCSV reads FormatCSV from r: a header naming the columns (opts.CSV),
// then one interaction per row, or one user per row with a Python list of
// item ids in the History column (PAD's layout). Quoted fields follow RFC
// 4180; opts.Comma sets the delimiter (default ',').
func ReadCSV(r io.Reader, name string, opts Options) (*Dataset, error) {
	cr := csv.NewReader(newLineLimit(stripBOM(r), name))
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, perr(name, 1, "empty file: no header")
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	cols := opts.csvCols()
	idx := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := idx[h]; !dup {
			idx[h] = i
		}
	}
	find := func(n string) int {
		if i, ok := idx[n]; ok {
			return i
		}
		return -1
	}
	ui, ii, ti, ri, hi := find(cols.User), find(cols.Item), find(cols.Time), find(cols.Rating), find(cols.History)
	if ui < 0 {
		return nil, perr(name, 1, "header has no user column %q (columns %q)", cols.User, clipCols(head))
	}
	list := ii < 0 && hi >= 0
	if ii < 0 && !list {
		return nil, perr(name, 1, "header has no item column %q nor history column %q (columns %q)", cols.Item, cols.History, clipCols(head))
	}
	if opts.MinRating != 0 && ri < 0 {
		return nil, perr(name, 1, "MinRating set but the header has no rating column %q", cols.Rating)
	}
	b := newBuilder(name, &opts, FormatCSV)
	if ti >= 0 && !list {
		b.setTime()
	}
	last := 1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		last = line
		if list {
			user := strings.TrimSpace(rec[ui])
			if user == "" {
				return nil, perr(name, line, "empty user id")
			}
			items, err := parsePyList(rec[hi])
			if err != nil {
				return nil, perr(name, line, "history: %v", err)
			}
			if len(items) == 0 {
				return nil, perr(name, line, "user %q has no items", clip(user))
			}
			u := b.user(user)
			for _, raw := range items {
				it, err := b.item(raw, line)
				if err != nil {
					return nil, err
				}
				b.add(u, it, 0)
			}
			continue
		}
		if err := addRow(b, line, strings.TrimSpace(rec[ui]), strings.TrimSpace(rec[ii]),
			col(rec, ti), col(rec, ri), ti >= 0, ri >= 0); err != nil {
			return nil, err
		}
	}
	return b.finish(opts.Name, last)
}

func clipCols(h []string) []string {
	if len(h) > 8 {
		h = h[:8]
	}
	out := make([]string, len(h))
	for i, s := range h {
		out[i] = clip(s)
	}
	return out
}

func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return perr(name, pe.Line, "csv: %v", pe.Err)
	}
	if e, ok := errors.AsType[*ParseError](err); ok { // lineLimit's
		return e
	}
	return perr(name, 0, "%v", err)
}

// parsePyList parses a Python list literal of string literals, such as
// "['B00099XNXS', 'B00UBJQHMU']". Only quoted strings are accepted, with the
// simple backslash escapes; nothing is evaluated.
func parsePyList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, errors.New("not a list literal [...]")
	}
	s = s[1 : len(s)-1]
	var out []string
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skip()
		if i == len(s) {
			return out, nil
		}
		q := s[i]
		if q != '\'' && q != '"' {
			return nil, fmt.Errorf("element %d: want a quoted string at %q", len(out)+1, clip(s[i:]))
		}
		i++
		var sb strings.Builder
		closed := false
		for i < len(s) {
			c := s[i]
			i++
			if c == q {
				closed = true
				break
			}
			if c == '\\' {
				if i == len(s) {
					break
				}
				e := s[i]
				i++
				switch e {
				case '\\', '\'', '"':
					sb.WriteByte(e)
				case 'n':
					sb.WriteByte('\n')
				case 't':
					sb.WriteByte('\t')
				default:
					return nil, fmt.Errorf("element %d: unsupported escape \\%c", len(out)+1, e)
				}
				continue
			}
			sb.WriteByte(c)
		}
		if !closed {
			return nil, fmt.Errorf("element %d: unterminated string", len(out)+1)
		}
		out = append(out, sb.String())
		skip()
		if i == len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("element %d: want ',' or ']' at %q", len(out), clip(s[i:]))
		}
		i++
	}
}

// ReadInter reads a RecBole atomic .inter file from r: tab separated, the
// header's fields are "name:type" (token, token_seq, float, float_seq) and
// the columns are picked by name as in opts.CSV (default user_id, item_id,
// timestamp, rating).
func ReadInter(r io.Reader, name string, opts Options) (*Dataset, error) {
	split := func(s string) []string { return strings.Split(s, "\t") }
	ls := newLines(r, name, opts.SkipBlankLines)
	head, err := ls.next(split)
	if err != nil {
		return nil, err
	}
	if head == nil {
		return nil, perr(name, 1, "empty file: no header")
	}
	cols := opts.csvCols()
	idx := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		n, typ, ok := strings.Cut(h, ":")
		if !ok {
			return nil, perr(name, ls.n, "header field %q is not name:type", clip(h))
		}
		switch typ {
		case "token", "token_seq", "float", "float_seq":
		default:
			return nil, perr(name, ls.n, "header field %q has unknown type %q", clip(h), clip(typ))
		}
		if _, dup := idx[n]; !dup {
			idx[n] = i
		}
	}
	find := func(n string) int {
		if i, ok := idx[n]; ok {
			return i
		}
		return -1
	}
	ui, ii, ti, ri := find(cols.User), find(cols.Item), find(cols.Time), find(cols.Rating)
	if ui < 0 || ii < 0 {
		return nil, perr(name, ls.n, "header needs %q and %q columns", cols.User, cols.Item)
	}
	if opts.MinRating != 0 && ri < 0 {
		return nil, perr(name, ls.n, "MinRating set but the header has no rating column %q", cols.Rating)
	}
	b := newBuilder(name, &opts, FormatInter)
	if ti >= 0 {
		b.setTime()
	}
	for {
		f, err := ls.next(split)
		if err != nil {
			return nil, err
		}
		if f == nil {
			break
		}
		if len(f) != len(head) {
			return nil, perr(name, ls.n, "%d fields, header has %d", len(f), len(head))
		}
		if err := addRow(b, ls.n, strings.TrimSpace(f[ui]), strings.TrimSpace(f[ii]),
			col(f, ti), col(f, ri), ti >= 0, ri >= 0); err != nil {
			return nil, err
		}
	}
	return b.finish(opts.Name, ls.n)
}

// LoadItemOrder reads one column of a CSV file with a header and returns its
// values in row order. For PAD's Prime Pantry, LoadItemOrder(
// "metadata_Prime_Pantry.csv", "asin") gives the item order in which item id
// = 1 + row index; pass it as Options.Items. Duplicate values are errors.
func LoadItemOrder(path, column string) ([]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer fh.Close()
	name := filepath.Base(path)
	cr := csv.NewReader(newLineLimit(stripBOM(fh), name))
	if strings.EqualFold(filepath.Ext(path), ".tsv") {
		cr.Comma = '\t'
	}
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, perr(name, 1, "empty file: no header")
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	ci := slices.Index(head, column)
	if ci < 0 {
		return nil, perr(name, 1, "header has no column %q", column)
	}
	var out []string
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(ci)
		v := strings.TrimSpace(rec[ci])
		if v == "" {
			return nil, perr(name, line, "empty %s", column)
		}
		if prev, dup := seen[v]; dup {
			return nil, perr(name, line, "%s %q repeats line %d", column, clip(v), prev)
		}
		seen[v] = line
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, perr(name, 2, "no rows")
	}
	return out, nil
}

// Folder describes the files found by LoadDir in a dataset folder. It is
// safe for concurrent reads.
type Folder struct {
	// Dataset is the loaded sequence file.
	Dataset *Dataset
	// SeqFile is the path of the sequence file that was loaded.
	SeqFile string
	// EmbeddingFile is the path of the item-embedding .npy file, or "".
	EmbeddingFile string
}

// LoadDir loads a dataset folder laid out like ../shared/data: the sequence
// file is the one named *_seq.txt, or else the only other *.txt file
// (amazon-beauty -> Beauty.txt, amazon-pantry -> pantry_seq.txt, ml-100k ->
// ml-100k_seq.txt), read as FormatSeq with opts (ids kept by default). The
// embedding file is item_emb*.npy (the first in name order), else the only
// .npy file, if any. The Dataset is named after the folder unless opts.Name
// is set.
func LoadDir(dir string, opts Options) (*Folder, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var seqs, txts, embs, npys []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		low := strings.ToLower(n)
		switch {
		case strings.HasSuffix(low, "_seq.txt"):
			seqs = append(seqs, n)
		case strings.HasSuffix(low, ".txt") && !strings.HasPrefix(low, "readme"):
			txts = append(txts, n)
		case strings.HasSuffix(low, ".npy"):
			npys = append(npys, n)
			if strings.HasPrefix(low, "item_emb") {
				embs = append(embs, n)
			}
		}
	}
	var seq string
	switch {
	case len(seqs) == 1:
		seq = seqs[0]
	case len(seqs) > 1:
		return nil, fmt.Errorf("data: %s: several sequence files %q", filepath.Base(dir), seqs)
	case len(txts) == 1:
		seq = txts[0]
	case len(txts) > 1:
		return nil, fmt.Errorf("data: %s: several .txt files %q, none named *_seq.txt", filepath.Base(dir), txts)
	default:
		return nil, fmt.Errorf("data: %s: no sequence file (*_seq.txt or *.txt)", filepath.Base(dir))
	}
	fo := &Folder{SeqFile: filepath.Join(dir, seq)}
	switch {
	case len(embs) > 0:
		fo.EmbeddingFile = filepath.Join(dir, embs[0])
	case len(npys) == 1:
		fo.EmbeddingFile = filepath.Join(dir, npys[0])
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(filepath.Clean(dir))
	}
	opts.Format = FormatSeq
	d, err := Load(fo.SeqFile, opts)
	if err != nil {
		return nil, err
	}
	fo.Dataset = d
	return fo, nil
}
