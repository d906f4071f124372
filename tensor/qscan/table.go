package qscan

import (
	"errors"
	"fmt"
	"math"
)

// ErrNonFinite is returned (wrapped) when a row or a query holds a NaN or an
// infinity: the error bounds that make the scan exact need finite numbers.
var ErrNonFinite = errors.New("qscan: non-finite value")

// ErrShape is returned (wrapped) when a row or a query has the wrong length.
var ErrShape = errors.New("qscan: wrong length")

const (
	// blockItems is the number of items of a code block (one AVX2 register
	// holds four dimensions of each).
	blockItems = 8
	// groupBlocks is the number of blocks the one-user kernel scores per
	// pass; tables are padded to a multiple of it.
	groupBlocks = 4
	// qmax is the largest quantized item code; codes are in -qmax..qmax.
	qmax = 127
	// qmaxQ is the largest quantized query code. Queries are offset by
	// qoff to be unsigned for VPMADDUBSW, and qoff+qmaxQ = 63 keeps two
	// pairs of products (4·63·127 < 32768) inside an int16 sum.
	qmaxQ = 31
	qoff  = 32
)

// Table is an int8 copy of a float32 table (n rows of d) together with the
// float32 rows themselves and, per row, what the scan needs to bound the
// quantization error: the scale, 64 times the code sum, and half the scaled
// L1 norm of the codes.
//
// A Table is immutable: Append, Set and Delete return a new Table and leave
// the receiver as it was, so a Table may be scanned by many goroutines
// while a writer derives the next one.
type Table struct {
	n, d, dp int // rows, width, width rounded up to a multiple of 8
	nb       int // blocks, a multiple of groupBlocks
	// codes: groups of groupBlocks blocks of 8 items; for every step k4 of
	// four dimensions a group holds 128 bytes, 32 per block, each item's
	// four codes next to each other, so a scan reads a group's codes in
	// one sequential run:
	// (b/4)·32·dp + k4·128 + (b%4)·32 + j·4 + (k%4) for item j of block b.
	codes []int8
	scale []float32 // per row (nb·8): s_i with e ≈ s_i·code
	half  []float32 // per row: (1/2)·s_i·‖code_i‖₁, inflated (see bounds)
	sum64 []int32   // per row: qoff·Σ code_i
	rows  []float32 // n·d, row-major
}

// New quantizes the n = len(rows)/d rows of d floats (row-major). rows is
// copied. A NaN or infinite value is an error wrapping ErrNonFinite; d < 1
// or a length not a multiple of d one wrapping ErrShape.
func New(rows []float32, d int) (*Table, error) {
	if d < 1 || len(rows)%d != 0 {
		return nil, fmt.Errorf("qscan: %d values are not rows of %d: %w", len(rows), d, ErrShape)
	}
	if d > maxDim {
		return nil, fmt.Errorf("qscan: width %d above %d: %w", d, maxDim, ErrShape)
	}
	t := &Table{d: d, dp: (d + 7) &^ 7}
	return t.withRows(nil, rows)
}

// maxDim bounds the width so that a code dot product (at most
// 127·127·maxDim) and the bound terms stay exact in int32 and float32.
const maxDim = 1 << 10

// Len returns the number of rows.
func (t *Table) Len() int { return t.n }

// Dim returns the width of a row.
func (t *Table) Dim() int { return t.d }

// Row returns row i (not to be modified).
func (t *Table) Row(i int) []float32 { return t.rows[i*t.d : (i+1)*t.d : (i+1)*t.d] }

// Bytes returns the memory the table holds: codes, per-row terms and the
// float32 rows.
func (t *Table) Bytes() int {
	return len(t.codes) + 4*(len(t.scale)+len(t.half)+len(t.sum64)+len(t.rows))
}

// CodeBytes returns the bytes of the int8 codes alone, what one scan
// streams.
func (t *Table) CodeBytes() int { return len(t.codes) }

// Append returns a new table with the rows of add (len a multiple of
// Dim) after the receiver's. The receiver is not changed.
func (t *Table) Append(add []float32) (*Table, error) {
	if len(add)%t.d != 0 {
		return nil, fmt.Errorf("qscan: %d values are not rows of %d: %w", len(add), t.d, ErrShape)
	}
	return t.withRows(t, add)
}

// Set returns a new table whose row i is row (len Dim), the others the
// receiver's. The receiver is not changed.
func (t *Table) Set(i int, row []float32) (*Table, error) {
	if len(row) != t.d {
		return nil, fmt.Errorf("qscan: row of %d values, want %d: %w", len(row), t.d, ErrShape)
	}
	if i < 0 || i >= t.n {
		return nil, fmt.Errorf("qscan: row %d outside 0..%d: %w", i, t.n-1, ErrShape)
	}
	if err := checkFinite(row); err != nil {
		return nil, err
	}
	c := t.clone(t.nb)
	copy(c.rows[i*t.d:], row)
	c.encode(i)
	return c, nil
}

// Delete returns a new table without row i: the last row takes its place
// (its index becomes i), the others keep theirs. The receiver is not
// changed.
func (t *Table) Delete(i int) (*Table, error) {
	if i < 0 || i >= t.n {
		return nil, fmt.Errorf("qscan: row %d outside 0..%d: %w", i, t.n-1, ErrShape)
	}
	c := t.clone(t.nb)
	last := t.n - 1
	if i != last {
		copy(c.rows[i*t.d:(i+1)*t.d], t.rows[last*t.d:])
		c.encode(i)
	}
	c.n = last
	c.rows = c.rows[:last*t.d]
	c.zero(last)
	c.nb = blocksFor(last)
	c.codes = c.codes[:c.nb*blockItems*c.dp]
	c.scale, c.half, c.sum64 = c.scale[:c.nb*blockItems], c.half[:c.nb*blockItems], c.sum64[:c.nb*blockItems]
	return c, nil
}

func blocksFor(n int) int {
	nb := (n + blockItems - 1) / blockItems
	return (nb + groupBlocks - 1) / groupBlocks * groupBlocks
}

// clone copies t with room for nb blocks.
func (t *Table) clone(nb int) *Table {
	c := *t
	c.nb = nb
	m := nb * blockItems
	c.codes = make([]int8, m*t.dp)
	copy(c.codes, t.codes)
	c.scale = grown(t.scale, m)
	c.half = grown(t.half, m)
	c.sum64 = make([]int32, m)
	copy(c.sum64, t.sum64)
	c.rows = make([]float32, len(t.rows), len(t.rows))
	copy(c.rows, t.rows)
	return &c
}

func grown(s []float32, m int) []float32 {
	o := make([]float32, m)
	copy(o, s)
	return o
}

// withRows returns a copy of base (nil: empty) with rows appended.
func (t *Table) withRows(base *Table, add []float32) (*Table, error) {
	if err := checkFinite(add); err != nil {
		return nil, err
	}
	n0 := 0
	if base != nil {
		n0 = base.n
	}
	n := n0 + len(add)/t.d
	var c *Table
	if base != nil {
		c = base.clone(blocksFor(n))
	} else {
		c = &Table{d: t.d, dp: t.dp}
		c = c.clone(blocksFor(n))
	}
	c.rows = append(c.rows, add...)
	c.n = n
	for i := n0; i < n; i++ {
		c.encode(i)
	}
	return c, nil
}

func checkFinite(v []float32) error {
	for j, x := range v {
		if x-x != 0 {
			return fmt.Errorf("qscan: value %d is %v: %w", j, x, ErrNonFinite)
		}
	}
	return nil
}

// codeAt returns the index of row i's dimension k in codes.
func (t *Table) codeAt(i, k int) int {
	b := i / blockItems
	return (b/groupBlocks)*groupBlocks*blockItems*t.dp + (k/4)*4*blockItems*groupBlocks + (b%groupBlocks)*4*blockItems + (i%blockItems)*4 + k%4
}

// zero clears the codes and terms of row i (a padding row scores 0 with
// no error; the scan ignores rows ≥ n anyway).
func (t *Table) zero(i int) {
	for k := 0; k < t.dp; k++ {
		t.codes[t.codeAt(i, k)] = 0
	}
	t.scale[i], t.half[i], t.sum64[i] = 0, 0, 0
}

// encode quantizes row i: s = max|e|/127, code = round(e/s) (in float64,
// so that |e - s·code| ≤ s/2 up to 1e-15 relative). half is inflated so
// that it also covers the float32 rounding of the scan's bound (see
// scan.go).
func (t *Table) encode(i int) {
	row := t.rows[i*t.d : (i+1)*t.d]
	var mx float64
	for _, v := range row {
		mx = math.Max(mx, math.Abs(float64(v)))
	}
	t.zero(i)
	if mx == 0 {
		return
	}
	if mx/qmax < 0x1p-120 {
		// so small that codes would lose the s/2 bound to subnormal
		// rounding: all-zero codes with s = 2·max|e| bound the row as well
		t.scale[i] = roundUp32(2 * mx)
		return
	}
	s := float32(mx / qmax)
	var l1, sum int64
	for k, v := range row {
		c := math.RoundToEven(float64(v) / float64(s))
		c = math.Max(-qmax, math.Min(qmax, c))
		q := int8(c)
		t.codes[t.codeAt(i, k)] = q
		l1 += int64(abs8(q))
		sum += int64(q)
	}
	t.scale[i] = s
	t.half[i] = roundUp32(0.5 * float64(s) * float64(l1) * (1 + 4e-6))
	t.sum64[i] = int32(qoff * sum)
}

func abs8(q int8) int {
	if q < 0 {
		return -int(q)
	}
	return int(q)
}

// roundUp32 returns the smallest float32 ≥ x.
func roundUp32(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// roundDown32 returns the largest float32 ≤ x.
func roundDown32(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}
