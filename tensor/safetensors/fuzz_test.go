package safetensors

import (
	"bytes"
	"errors"
	"testing"

	"github.com/llmrec/llmrec/tensor"
)

// FuzzRead feeds arbitrary bytes to ReadBytes. It must never panic; when a
// file is accepted, every tensor must be readable with the declared shape,
// and writing the float tensors back and reading them again must give the
// same values.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, []Named{{"a", tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)}, {"s", tensor.New()}},
		map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add(handFile(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}`,
		make([]byte, 12)))
	f.Add(handFile(`{}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := ReadBytes(b)
		if err != nil {
			return
		}
		var floats []Named
		for _, name := range file.Names() {
			in, ok := file.Info(name)
			if !ok {
				t.Fatalf("Names lists %q but Info does not know it", name)
			}
			switch in.DType {
			case F32, F64, F16, BF16:
				x, err := file.Tensor(name)
				if err != nil {
					t.Fatalf("accepted file, Tensor(%q): %v", name, err)
				}
				if x.Len() != in.Len() {
					t.Fatalf("%q: %d elements, header says %d", name, x.Len(), in.Len())
				}
				if name != "" { // Write rejects empty names; the format does not
					floats = append(floats, Named{name, x})
				}
			case BOOL, U8, I8, I16, U16, I32, U32, I64:
				v, _, err := file.Int64s(name)
				if err != nil {
					t.Fatalf("accepted file, Int64s(%q): %v", name, err)
				}
				if len(v) != in.Len() {
					t.Fatalf("%q: %d elements, header says %d", name, len(v), in.Len())
				}
			}
		}
		var out bytes.Buffer
		if err := Write(&out, floats, file.Metadata); err != nil {
			t.Fatalf("rewriting an accepted file: %v", err)
		}
		again, err := ReadBytes(out.Bytes())
		if err != nil {
			if errors.Is(err, ErrFormat) {
				t.Fatalf("re-reading our own output: %v", err)
			}
			t.Fatal(err)
		}
		for _, nt := range floats {
			y, err := again.Tensor(nt.Name)
			if err != nil {
				t.Fatal(err)
			}
			for i := range y.Data {
				if y.Data[i] != nt.Tensor.Data[i] && y.Data[i] == y.Data[i] {
					t.Fatalf("%q[%d]: %v became %v", nt.Name, i, nt.Tensor.Data[i], y.Data[i])
				}
			}
		}
	})
}
