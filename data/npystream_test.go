package data

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/llmrec/llmrec/tensor"
	"github.com/stretchr/testify/require"
)

// readAllStream reads every row of s with a destination of chunk values.
func readAllStream(t testing.TB, s *NPYStream, chunk int) ([]float32, error) {
	var out []float32
	dst := make([]float32, chunk)
	for {
		n, err := s.Next(dst)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if n == 0 {
			t.Fatalf("Next returned 0 rows without an error")
		}
		out = append(out, dst[:n*s.Cols()]...)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "x.npy")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// 5 x 3 values v[r][c] = 10r + c, row-major and column-major.
func fiveByThree() (cOrder, fOrder, want []float64) {
	for r := 0; r < 5; r++ {
		for c := 0; c < 3; c++ {
			cOrder = append(cOrder, float64(10*r+c))
		}
	}
	for c := 0; c < 3; c++ {
		for r := 0; r < 5; r++ {
			fOrder = append(fOrder, float64(10*r+c))
		}
	}
	return cOrder, fOrder, cOrder
}

func TestNPYStreamVariants(t *testing.T) {
	cOrd, fOrd, want := fiveByThree()
	want32 := make([]float32, len(want))
	for i, v := range want {
		want32[i] = float32(v)
	}
	for _, major := range []byte{1, 2, 3} {
		for _, descr := range []string{"<f4", ">f4", "<f8", ">f8"} {
			for _, fortran := range []bool{false, true} {
				vals := cOrd
				if fortran {
					vals = fOrd
				}
				raw := npyBytes(major, descr, fortran, "(5, 3)", vals)
				// chunk sizes: one row, two rows, a non-multiple of the row, all rows and more
				for _, chunk := range []int{3, 6, 8, 15, 40} {
					name := fmt.Sprintf("v%d/%s/fortran=%v/chunk=%d", major, descr, fortran, chunk)
					t.Run(name, func(t *testing.T) {
						s, err := OpenNPYStream(writeTemp(t, raw))
						require.NoError(t, err)
						defer s.Close()
						require.Equal(t, 5, s.Rows())
						require.Equal(t, 3, s.Cols())
						got, err := readAllStream(t, s, chunk)
						require.NoError(t, err)
						require.Equal(t, want32, got)
						require.Equal(t, 5, s.Row())
						if fortran {
							return
						}
						s2, err := NewNPYStream(bytes.NewReader(raw), "x.npy")
						require.NoError(t, err)
						got, err = readAllStream(t, s2, chunk)
						require.NoError(t, err)
						require.Equal(t, want32, got)
					})
				}
			}
		}
	}
}

func TestNPYStreamSeekRow(t *testing.T) {
	cOrd, fOrd, _ := fiveByThree()
	for _, fortran := range []bool{false, true} {
		vals := cOrd
		if fortran {
			vals = fOrd
		}
		s, err := OpenNPYStream(writeTemp(t, npyBytes(1, "<f4", fortran, "(5, 3)", vals)))
		require.NoError(t, err)
		dst := make([]float32, 6)
		require.NoError(t, s.SeekRow(3))
		n, err := s.Next(dst)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, []float32{30, 31, 32, 40, 41, 42}, dst)
		_, err = s.Next(dst)
		require.Equal(t, io.EOF, err)
		require.NoError(t, s.SeekRow(1))
		n, err = s.Next(dst[:3])
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []float32{10, 11, 12}, dst[:3])
		require.Error(t, s.SeekRow(6))
		require.Error(t, s.SeekRow(-1))
		require.NoError(t, s.Close())
	}
	s, err := NewNPYStream(bytes.NewReader(npyBytes(1, "<f4", false, "(5, 3)", cOrd)), "x.npy")
	require.NoError(t, err)
	require.ErrorContains(t, s.SeekRow(1), "needs a stream opened on a file")
}

func TestNPYStreamErrors(t *testing.T) {
	cOrd, fOrd, _ := fiveByThree()
	good := npyBytes(1, "<f4", false, "(5, 3)", cOrd)
	// row 3 incomplete: 3 full rows and 2 values of the fourth
	trunc := good[:len(good)-4*4] // rows 0..2 whole, row 3 has 2 of 3 values
	t.Run("truncated file", func(t *testing.T) {
		_, err := OpenNPYStream(writeTemp(t, trunc))
		require.ErrorIs(t, err, ErrBadNPY)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.ErrorContains(t, err, "data: x.npy: truncated data")
		require.ErrorContains(t, err, "row 3 is incomplete")
	})
	t.Run("truncated reader", func(t *testing.T) {
		s, err := NewNPYStream(bytes.NewReader(trunc), "t.npy")
		require.NoError(t, err)
		dst := make([]float32, 6)
		n, err := s.Next(dst)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		_, err = s.Next(dst)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.ErrorContains(t, err, "data: t.npy: truncated data at row 3 of 5")
		_, err2 := s.Next(dst) // sticky
		require.Equal(t, err, err2)
	})
	t.Run("trailing file", func(t *testing.T) {
		_, err := OpenNPYStream(writeTemp(t, append(append([]byte{}, good...), 1, 2, 3, 4)))
		require.ErrorIs(t, err, ErrBadNPY)
		require.ErrorContains(t, err, "trailing bytes")
	})
	t.Run("trailing reader", func(t *testing.T) {
		s, err := NewNPYStream(bytes.NewReader(append(append([]byte{}, good...), 1)), "t.npy")
		require.NoError(t, err)
		_, err = readAllStream(t, s, 15)
		require.ErrorIs(t, err, ErrBadNPY)
		require.ErrorContains(t, err, "trailing bytes after 5 rows")
	})
	for _, fortran := range []bool{false, true} {
		t.Run(fmt.Sprintf("nan fortran=%v", fortran), func(t *testing.T) {
			vals := append([]float64{}, cOrd...)
			vals[3*3+2] = math.NaN() // row 3, column 2
			if fortran {
				vals = append([]float64{}, fOrd...)
				vals[2*5+3] = math.NaN()
			}
			s, err := OpenNPYStream(writeTemp(t, npyBytes(1, "<f8", fortran, "(5, 3)", vals)))
			require.NoError(t, err)
			defer s.Close()
			_, err = readAllStream(t, s, 6)
			require.ErrorIs(t, err, tensor.ErrNonFinite)
			require.ErrorContains(t, err, "data: x.npy: row 3 column 2 is NaN")
		})
	}
	t.Run("float64 overflow", func(t *testing.T) {
		s, err := NewNPYStream(bytes.NewReader(npyBytes(1, "<f8", false, "(1, 2)", []float64{1, 1e300})), "o.npy")
		require.NoError(t, err)
		_, err = readAllStream(t, s, 2)
		require.ErrorIs(t, err, tensor.ErrNonFinite)
		require.ErrorContains(t, err, "row 0 column 1 is +Inf")
	})
	t.Run("fortran reader", func(t *testing.T) {
		_, err := NewNPYStream(bytes.NewReader(npyBytes(1, "<f4", true, "(5, 3)", fOrd)), "f.npy")
		require.ErrorIs(t, err, ErrBadNPY)
		require.ErrorContains(t, err, "Fortran-ordered data needs a file")
	})
	t.Run("small destination", func(t *testing.T) {
		s, err := NewNPYStream(bytes.NewReader(good), "x.npy")
		require.NoError(t, err)
		_, err = s.Next(make([]float32, 2))
		require.ErrorContains(t, err, "destination holds 2 values, a row has 3")
	})
	headers := map[string]struct {
		in   []byte
		want string
	}{
		"empty":    {nil, "empty file"},
		"magic":    {[]byte("PK\x03\x04 not numpy"), "not a .npy file"},
		"version":  {append([]byte("\x93NUMPY\x04\x00"), good[8:]...), "unsupported .npy version 4.0"},
		"header":   {good[:20], "truncated header"},
		"dtype":    {npyBytes(1, "<i8", false, "(2, 3)", nil), `dtype "<i8" not supported`},
		"1d":       {npyBytes(1, "<f4", false, "(6,)", nil), "only 2-D"},
		"wide":     {npyBytes(1, "<f4", false, "(1, 100000000)", nil), "columns >"},
		"overflow": {npyBytes(1, "<f4", false, "(999999999999999999, 999999999999999999)", nil), "too large"},
	}
	for name, c := range headers {
		t.Run(name, func(t *testing.T) {
			_, err := NewNPYStream(bytes.NewReader(c.in), "bad.npy")
			require.ErrorIs(t, err, ErrBadNPY)
			require.ErrorContains(t, err, c.want)
			require.True(t, strings.HasPrefix(err.Error(), "data: bad.npy: "), err.Error())
		})
	}
	_, err := OpenNPYStream(filepath.Join(t.TempDir(), "missing.npy"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// FuzzNPYStream checks that the stream never panics and agrees with ReadNPY:
// whatever it reads without an error, ReadNPY reads to the same values.
func FuzzNPYStream(f *testing.F) {
	cOrd, _, _ := fiveByThree()
	f.Add(npyBytes(1, "<f4", false, "(5, 3)", cOrd), 4)
	f.Add(npyBytes(2, ">f8", false, "(3, 5)", cOrd), 7)
	f.Add(npyBytes(3, "<f4", true, "(5, 3)", cOrd), 3)
	f.Add(npyBytes(1, "<f4", false, "(0, 3)", nil), 3)
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		s, err := NewNPYStream(bytes.NewReader(in), "f.npy")
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "data: f.npy: "), err.Error())
			return
		}
		if s.Cols() == 0 || s.Cols() > 1<<12 {
			return
		}
		chunk = s.Cols() * (1 + (chunk&0xff)%7)
		got, err := readAllStream(t, s, chunk)
		if err != nil {
			require.True(t, errors.Is(err, ErrBadNPY) || errors.Is(err, tensor.ErrNonFinite), err.Error())
			return
		}
		m, err := ReadNPY(bytes.NewReader(in), "f.npy")
		require.NoError(t, err)
		require.Equal(t, len(m.Data), len(got))
		for i := range got {
			require.Equal(t, math.Float32bits(m.Data[i]), math.Float32bits(got[i]), "element %d", i)
		}
	})
}

// writeLargeNPY writes a rows x cols <f4 file whose element (r, c) is
// largeValue(r, c), a row at a time.
func writeLargeNPY(t *testing.T, path string, rows, cols int) {
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	hdr := dict + strings.Repeat(" ", (64-(10+len(dict)+1)%64)%64) + "\n"
	w.WriteString("\x93NUMPY\x01\x00")
	binary.Write(w, binary.LittleEndian, uint16(len(hdr)))
	w.WriteString(hdr)
	row := make([]byte, 4*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			binary.LittleEndian.PutUint32(row[4*c:], math.Float32bits(largeValue(r, c)))
		}
		_, err := w.Write(row)
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// largeValue is an exactly representable value in [-1, 1) (k/512).
func largeValue(r, c int) float32 { return float32((r*7+c*13)%1024-512) / 512 }

// vmHWM returns the process's peak resident set size in bytes (Linux), or 0.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb << 10
		}
	}
	return 0
}

// TestNPYStreamLarge streams a 200,000 x 1,024 float32 file (819 MB, in a
// temporary folder) in 4,096-row chunks, checks its column sums against
// the generating formula and reports the peak memory next to the file size.
// It takes ~10 s and the disk space: run with LLMREC_LONG=1.
func TestNPYStreamLarge(t *testing.T) {
	if os.Getenv("LLMREC_LONG") == "" {
		t.Skip("set LLMREC_LONG=1 to stream a 200,000 x 1,024 file (819 MB on disk)")
	}
	const rows, cols, chunkRows = 200_000, 1024, 4096
	path := filepath.Join(t.TempDir(), "large.npy")
	writeLargeNPY(t, path, rows, cols)
	st, err := os.Stat(path)
	require.NoError(t, err)
	runtime.GC()
	hwmBefore := vmHWM()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	start := time.Now()
	s, err := OpenNPYStream(path)
	require.NoError(t, err)
	sums := make([]float64, cols)
	dst := make([]float32, chunkRows*cols)
	total := 0
	for {
		n, err := s.Next(dst)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		for i := 0; i < n; i++ {
			for c, v := range dst[i*cols : (i+1)*cols] {
				sums[c] += float64(v)
			}
		}
		total += n
	}
	require.NoError(t, s.Close())
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	hwm := vmHWM()

	require.Equal(t, rows, total)
	for c := 0; c < cols; c++ {
		var want int64 // exact: sums of k/512 with integer k
		for r := 0; r < rows; r++ {
			want += int64((r*7+c*13)%1024 - 512)
		}
		require.Equal(t, float64(want)/512, sums[c], "column %d", c)
	}
	t.Logf("streamed %d x %d (%.0f MB file) in %d-row chunks in %v (%.0f MB/s); heap allocated while streaming %.1f MB, Go heap in use at end %.1f MB, runtime Sys %.1f MB; process peak RSS (VmHWM) %.1f MB before, %.1f MB after",
		rows, cols, float64(st.Size())/1e6, chunkRows, elapsed.Round(time.Millisecond), float64(st.Size())/1e6/elapsed.Seconds(),
		float64(after.TotalAlloc-before.TotalAlloc)/1e6, float64(after.HeapInuse)/1e6, float64(after.Sys)/1e6, float64(hwmBefore)/1e6, float64(hwm)/1e6)
	// the bound the design promises: far below the file size
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(st.Size()/20))
}

func TestNPYWriterStreams(t *testing.T) {
	var b bytes.Buffer
	w, err := NewNPYWriter(&b, 3, 2)
	require.NoError(t, err)
	require.NoError(t, w.Write([]float32{1, 2}))
	require.NoError(t, w.Write([]float32{3, 4, 5, 6}))
	require.ErrorContains(t, w.Write([]float32{7, 8}), "1 more rows than the 3 declared")
	require.ErrorContains(t, w.Write([]float32{7}), "not whole rows of 2")
	require.NoError(t, w.Close())
	// the header is 64-byte aligned, and the file reads back (independent reader: npyBytes' layout)
	require.Equal(t, 0, (b.Len()-6*4)%64)
	ref := npyBytes(1, "<f4", false, "(3, 2)", []float64{1, 2, 3, 4, 5, 6})
	require.Equal(t, ref[len(ref)-24:], b.Bytes()[b.Len()-24:])
	m, err := ReadNPY(bytes.NewReader(b.Bytes()), "w.npy")
	require.NoError(t, err)
	require.Equal(t, []int{3, 2}, m.Shape)
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, m.Data)

	w, err = NewNPYWriter(io.Discard, 2, 2)
	require.NoError(t, err)
	require.NoError(t, w.Write([]float32{1, 2}))
	require.ErrorContains(t, w.Close(), "1 of 2 declared rows written")
	_, err = NewNPYWriter(io.Discard, -1, 2)
	require.Error(t, err)
}
