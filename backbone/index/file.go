package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/llmrec/llmrec/tensor/qscan"
)

// The file format (little-endian): the magic "LLMRIVF1"; the width d, the
// number of lists L and the probe (uint32 each) and the number of items n
// (uint64); L·d float32 centroids; for each list its length m (uint32), m
// int32 ids and m·d float32 vectors; the CRC-32 (IEEE) of everything
// before it. Codes are not stored: loading quantizes the vectors again
// (deterministically), so a file cannot hold codes that disagree with its
// vectors.
const magic = "LLMRIVF1"

// WriteTo writes the index (a consistent snapshot) to w.
func (x *IVF) WriteTo(w io.Writer) (int64, error) {
	st := x.st.Load()
	cw := &countWriter{w: w, h: crc32.NewIEEE()}
	bw := bufio.NewWriterSize(cw, 1<<16)
	d := x.d
	hdr := make([]byte, 0, 28)
	hdr = append(hdr, magic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(d))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(st.lists)))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(x.Probe()))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(st.n))
	bw.Write(hdr)
	nl := len(st.lists)
	for j := range nl {
		writeFloats(bw, st.cent.Row(j))
	}
	var b4 [4]byte
	for _, l := range st.lists {
		binary.LittleEndian.PutUint32(b4[:], uint32(len(l.ids)))
		bw.Write(b4[:])
		for _, id := range l.ids {
			binary.LittleEndian.PutUint32(b4[:], uint32(id))
			bw.Write(b4[:])
		}
		for r := range len(l.ids) {
			writeFloats(bw, l.tab.Row(r))
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	binary.LittleEndian.PutUint32(b4[:], cw.h.Sum32())
	_, err := cw.w.Write(b4[:])
	return cw.n + 4, err
}

type countWriter struct {
	w io.Writer
	h hash.Hash32
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func writeFloats(w *bufio.Writer, v []float32) {
	var b [4]byte
	for _, f := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(f))
		w.Write(b[:])
	}
}

// Save writes the index to path atomically (a temporary file in the same
// folder, renamed over path).
func (x *IVF) Save(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = x.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("index: save %s: %w", path, err)
	}
	return nil
}

// Load reads an index saved by Save.
func Load(path string) (*IVF, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// Read reads an index written by WriteTo. Everything the file declares is
// checked before it is used (widths, counts, ids unique and in 0..MaxID,
// finite vectors, the checksum, nothing after it) and memory grows only
// with the bytes actually read, so a truncated or hostile file costs at
// most about its own size. Errors wrap ErrBadFile (or the reader's error).
func Read(r io.Reader) (*IVF, error) {
	h := crc32.NewIEEE()
	br := bufio.NewReaderSize(r, 1<<16)
	tr := &tee{r: br, h: h}
	var hdr [28]byte
	if _, err := io.ReadFull(tr, hdr[:]); err != nil {
		return nil, bad("header: %v", err)
	}
	if string(hdr[:8]) != magic {
		return nil, bad("not an index file (magic %q)", hdr[:8])
	}
	d := int(binary.LittleEndian.Uint32(hdr[8:]))
	nl := int(binary.LittleEndian.Uint32(hdr[12:]))
	probe := int(binary.LittleEndian.Uint32(hdr[16:]))
	n64 := binary.LittleEndian.Uint64(hdr[20:])
	if d < 1 || d > MaxDim {
		return nil, bad("width %d not in 1..%d", d, MaxDim)
	}
	if nl < 1 || nl > MaxLists {
		return nil, bad("%d lists not in 1..%d", nl, MaxLists)
	}
	if probe < 1 || probe > nl {
		return nil, bad("probe %d not in 1..%d", probe, nl)
	}
	if n64 > MaxID+1 {
		return nil, bad("%d items above %d", n64, MaxID+1)
	}
	n := int(n64)
	cent, err := readFloats(tr, nl*d, "centroids")
	if err != nil {
		return nil, err
	}
	x := newIVF(d)
	st := &ivfState{lists: make([]*list, 0, min(nl, 1<<12)), n: n}
	seen := 0
	var b4 [4]byte
	for j := range nl {
		if _, err := io.ReadFull(tr, b4[:]); err != nil {
			return nil, bad("list %d: length: %v", j, err)
		}
		m := int(binary.LittleEndian.Uint32(b4[:]))
		if m > n-seen {
			return nil, bad("list %d: %d items, only %d of %d left", j, m, n-seen, n)
		}
		seen += m
		ids := make([]int32, 0, min(m, 1<<14))
		for r := range m {
			if _, err := io.ReadFull(tr, b4[:]); err != nil {
				return nil, bad("list %d: id %d: %v", j, r, err)
			}
			id := int32(binary.LittleEndian.Uint32(b4[:]))
			if id < 0 || id > MaxID {
				return nil, bad("list %d: id %d outside 0..%d", j, id, MaxID)
			}
			if int(id) < len(x.where) && x.where[id] != noWhere {
				return nil, bad("list %d: id %d repeated", j, id)
			}
			x.setWhere(int(id), int64(j)<<32|int64(r))
			ids = append(ids, id)
		}
		rows, err := readFloats(tr, m*d, fmt.Sprintf("list %d vectors", j))
		if err != nil {
			return nil, err
		}
		tab, err := qscan.New(rows, d)
		if err != nil {
			return nil, bad("list %d: %v", j, err)
		}
		st.lists = append(st.lists, &list{tab: tab, ids: ids})
	}
	if seen != n {
		return nil, bad("lists hold %d items, header says %d", seen, n)
	}
	sum := h.Sum32()
	if _, err := io.ReadFull(br, b4[:]); err != nil {
		return nil, bad("checksum: %v", err)
	}
	if got := binary.LittleEndian.Uint32(b4[:]); got != sum {
		return nil, bad("checksum %08x, contents give %08x", got, sum)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, bad("data after the checksum")
	}
	if err := st.setCentroids(cent, d); err != nil {
		return nil, bad("centroids: %v", err)
	}
	x.st.Store(st)
	x.SetProbe(probe)
	return x, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadFile, fmt.Sprintf(format, args...))
}

type tee struct {
	r io.Reader
	h hash.Hash32
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.h.Write(p[:n])
	return n, err
}

// readFloats reads count float32 values, growing the slice only as the
// bytes arrive (a header may lie about count).
func readFloats(r io.Reader, count int, what string) ([]float32, error) {
	const chunk = 1 << 14
	out := make([]float32, 0, min(count, chunk))
	var buf [4 * chunk]byte
	for len(out) < count {
		m := min(chunk, count-len(out))
		if _, err := io.ReadFull(r, buf[:4*m]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, bad("%s: %v", what, err)
		}
		for i := range m {
			v := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			if v-v != 0 {
				return nil, bad("%s: value %d is %v", what, len(out), v)
			}
			out = append(out, v)
		}
	}
	return out, nil
}
