package data

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
)

// Format names a file layout understood by Load. It is a plain value, safe
// for concurrent use.
type Format string

// The formats Load understands.
const (
	// FormatSeq is one user per line: "user item item ...", whitespace
	// separated, items in chronological order (S3-Rec / P5 style).
	FormatSeq Format = "seq"
	// FormatPairs is one interaction per line, whitespace separated, with the
	// columns chosen by Options.Pairs (SASRec reference style "user item",
	// MovieLens u.data "user item rating timestamp").
	FormatPairs Format = "pairs"
	// FormatCSV is a CSV or TSV file with a header and named columns
	// (Options.CSV), including PAD's "user,history" list layout.
	FormatCSV Format = "csv"
	// FormatInter is a RecBole atomic .inter file (tab separated, header
	// fields "name:type").
	FormatInter Format = "inter"
)

// IDMode says how raw item ids become internal ids (a plain value, safe for
// concurrent use).
type IDMode int

const (
	// IDAuto keeps ids for FormatSeq and remaps them for every other format.
	IDAuto IDMode = iota
	// IDKeep keeps integer item ids as they are: raw item i is internal item
	// i, so row i of an embedding file written for the same ids matches.
	// Every item id must be an integer in 1..MaxKeptItemID; NumItems is the
	// largest id (or Options.NumItems). Without Options.NumItems, a largest
	// id above 4*interactions+65536 is rejected as sparse. Users are ordered by numeric raw id when all raw
	// user ids are integers, otherwise by first appearance.
	IDKeep
	// IDRemap numbers items 1, 2, ... and users 0, 1, ... in order of first
	// appearance in the file.
	IDRemap
)

// PairColumns selects 0-based whitespace-separated columns of a pairs file;
// -1 means absent. The zero value means {User: 0, Item: 1, Time: -1,
// Rating: -1}. MovieLens u.data is {User: 0, Item: 1, Rating: 2, Time: 3}.
// A plain value, safe for concurrent use.
type PairColumns struct {
	User, Item, Time, Rating int
}

// CSVColumns names header columns of CSV/TSV and .inter files. Empty fields
// take the defaults "user_id", "item_id", "timestamp", "rating" and
// "history". Time and Rating are used only when the header has them. When
// the header has the History column and no Item column, each row is one user
// whose items are a Python list literal of strings (PAD's
// Prime_Pantry_cleaned_history.csv: header ",user,history", so set User to
// "user"). A plain value, safe for concurrent use.
type CSVColumns struct {
	User, Item, Time, Rating, History string
}

// Options configures the readers. The zero value is usable: ids kept for
// FormatSeq and remapped otherwise, sequences sorted by timestamp when the
// file has one, no rating filter. Options is passed by value; readers do
// not modify it (Items is only read), so one Options may be shared by
// concurrent readers.
type Options struct {
	// Format selects the reader in Load; empty means by extension (.txt seq,
	// .csv/.tsv csv, .inter inter).
	Format Format
	// Name labels the Dataset; empty means the file's base name.
	Name string
	// IDs chooses between keeping and remapping item ids (see IDMode).
	IDs IDMode
	// NumItems, when > 0 with IDKeep, is the largest valid item id: larger
	// ids are errors, and the Dataset has exactly NumItems items.
	NumItems int
	// Items, when non-nil, fixes the item ids: Items[i] (a raw id) is
	// internal item i+1, and a raw id not in the list is an error. Use it
	// with LoadItemOrder for PAD's "1 + row index in the metadata file".
	Items []string
	// Pairs selects the columns of FormatPairs files.
	Pairs PairColumns
	// CSV names the columns of FormatCSV and FormatInter files.
	CSV CSVColumns
	// Comma is the CSV field delimiter; 0 means tab for .tsv files and
	// comma otherwise.
	Comma rune
	// MinRating, when non-zero, drops interactions whose rating is below it
	// (PAD keeps ratings >= 4). The file must have a rating column.
	MinRating float64
	// KeepFileOrder disables the stable per-user sort by timestamp that is
	// applied whenever the file has a timestamp column.
	KeepFileOrder bool
	// TieByItem breaks timestamp ties by item id (ascending internal id)
	// instead of file order.
	TieByItem bool
	// SkipBlankLines ignores empty lines instead of reporting them as errors
	// (line-based formats only).
	SkipBlankLines bool
	// Logger, when non-nil, receives one summary record per file.
	Logger *slog.Logger
}

func (o *Options) pairCols() PairColumns {
	if o.Pairs == (PairColumns{}) {
		return PairColumns{User: 0, Item: 1, Time: -1, Rating: -1}
	}
	return o.Pairs
}

func (o *Options) csvCols() CSVColumns {
	c := o.CSV
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.User, "user_id")
	def(&c.Item, "item_id")
	def(&c.Time, "timestamp")
	def(&c.Rating, "rating")
	def(&c.History, "history")
	return c
}

// ParseError is the error the readers return for bad input: it names the
// file (base name) and the 1-based line, or line 0 when the problem is not
// tied to a line. It wraps ErrBadInput, and Err when set (ErrItemOutOfRange,
// ErrNonFinite), so errors.Is tells the kinds of problem apart. It is
// immutable once returned and safe for concurrent use.
type ParseError struct {
	File string
	Line int
	Msg  string
	// Err is the sentinel of the problem's kind beyond ErrBadInput, or nil.
	Err error
}

// Unwrap returns ErrBadInput and Err (when set), for errors.Is and
// errors.As.
func (e *ParseError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrBadInput, e.Err}
	}
	return []error{ErrBadInput}
}

// Error formats the error as "data: FILE:LINE: what".
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("data: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("data: %s: %s", e.File, e.Msg)
}

func perr(file string, line int, format string, args ...any) error {
	return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// perrOf is perr for a problem of kind (ErrItemOutOfRange, ErrNonFinite).
func perrOf(kind error, file string, line int, format string, args ...any) error {
	return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
}

func formatOf(path string, f Format) (Format, error) {
	if f != "" {
		switch f {
		case FormatSeq, FormatPairs, FormatCSV, FormatInter:
			return f, nil
		}
		return "", fmt.Errorf("data: %s: unknown format %q (want seq, pairs, csv or inter)", filepath.Base(path), f)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".txt":
		return FormatSeq, nil
	case ".csv", ".tsv":
		return FormatCSV, nil
	case ".inter":
		return FormatInter, nil
	}
	return "", fmt.Errorf("data: %s: cannot tell the format from the extension; set Options.Format", filepath.Base(path))
}
