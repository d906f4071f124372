package nn

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/autograd"
	"github.com/llmrec/llmrec/tensor"
)

func param2(name string, rows, cols int, fill float32) Param {
	x := tensor.New(rows, cols)
	for i := range x.Data {
		x.Data[i] = fill + float32(i)*0.125
	}
	return Param{Name: name, Value: autograd.NewParam(x)}
}

func TestCheckpointRoundTripBitIdentical(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	src := []Param{param2("emb.weight", 5, 3, -1), param2("blocks.0.q.weight", 3, 3, 2), newParam("blocks.0.q.bias", 1e-40, float32(math.Copysign(0, -1)), math.MaxFloat32)}
	require.NoError(t, SaveCheckpoint(path, src, map[string]string{"epoch": "7"}))

	dst := []Param{param2("blocks.0.q.weight", 3, 3, 0), newParam("blocks.0.q.bias", 0, 0, 0), param2("emb.weight", 5, 3, 0)}
	res, err := LoadCheckpointWith(path, dst, LoadOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"epoch": "7"}, res.Metadata)
	assert.Empty(t, res.Missing)
	assert.Empty(t, res.Unexpected)
	byName := ParamMap(src)
	for _, p := range dst {
		want := byName[p.Name].Data.Data
		for i, v := range p.Value.Data.Data {
			assert.Equal(t, math.Float32bits(want[i]), math.Float32bits(v), "%s[%d]", p.Name, i)
		}
	}
}

func TestCheckpointStrictErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, SaveCheckpoint(path, []Param{
		param2("a", 2, 2, 1), param2("b", 2, 3, 1), param2("z_extra", 1, 1, 1), param2("c_extra", 1, 1, 1), param2("m", 4, 1, 1),
	}, nil))

	dst := []Param{param2("a", 2, 2, 0), param2("b", 3, 2, 0), param2("y_missing", 1, 1, 0), param2("d_missing", 1, 1, 0), param2("m", 1, 4, 0)}
	err := LoadCheckpoint(path, dst)
	var ce *CheckpointError
	require.True(t, errors.As(err, &ce), "got %v", err)
	assert.Equal(t, []string{"d_missing", "y_missing"}, ce.Missing)
	assert.Equal(t, []string{"c_extra", "z_extra"}, ce.Unexpected)
	require.Len(t, ce.Mismatched, 2)
	assert.Equal(t, Mismatch{Name: "b", Want: []int{3, 2}, Got: []int{2, 3}, DType: "F32"}, ce.Mismatched[0])
	assert.Equal(t, "m", ce.Mismatched[1].Name)
	msg := err.Error()
	for _, s := range []string{"ck.safetensors", "missing 2: d_missing, y_missing", "unexpected 2: c_extra, z_extra", "b: shape [2 3] in file, [3 2] in model", "m: shape"} {
		assert.Contains(t, msg, s)
	}
	assert.Equal(t, float32(0), dst[0].Value.Data.Data[0], "nothing loaded on error, not even the matching key")

	// Non-strict: missing and unexpected are allowed, but shape mismatches
	// are still errors.
	_, err = LoadCheckpointWith(path, dst, LoadOptions{AllowMissing: true, AllowUnexpected: true})
	require.True(t, errors.As(err, &ce))
	assert.Empty(t, ce.Missing)
	assert.Empty(t, ce.Unexpected)
	assert.Len(t, ce.Mismatched, 2)

	ok := []Param{param2("a", 2, 2, 0), param2("y_missing", 1, 1, 5)}
	_, err = LoadCheckpointWith(path, ok, LoadOptions{AllowMissing: true})
	require.True(t, errors.As(err, &ce))
	assert.Empty(t, ce.Missing)
	assert.Equal(t, []string{"b", "c_extra", "m", "z_extra"}, ce.Unexpected)

	res, err := LoadCheckpointWith(path, ok, LoadOptions{AllowMissing: true, AllowUnexpected: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"y_missing"}, res.Missing)
	assert.Equal(t, []string{"b", "c_extra", "m", "z_extra"}, res.Unexpected)
	assert.Equal(t, []float32{1, 1.125, 1.25, 1.375}, ok[0].Value.Data.Data, "matching key loaded")
	assert.Equal(t, float32(5), ok[1].Value.Data.Data[0], "missing key keeps its value")
}

func TestCheckpointOtherErrors(t *testing.T) {
	dir := t.TempDir()
	p := []Param{param2("a", 1, 1, 0)}
	assert.Error(t, LoadCheckpoint(filepath.Join(dir, "none.safetensors"), p), "missing file")

	bad := filepath.Join(dir, "bad.safetensors")
	require.NoError(t, os.WriteFile(bad, []byte("not a safetensors file"), 0o644))
	assert.ErrorContains(t, LoadCheckpoint(bad, p), "bad.safetensors")

	assert.Error(t, SaveCheckpoint(filepath.Join(dir, "dup.safetensors"), []Param{p[0], p[0]}, nil), "duplicate names")
	_, err := os.Stat(filepath.Join(dir, "dup.safetensors"))
	assert.True(t, os.IsNotExist(err), "nothing written on error")
	assert.Error(t, LoadCheckpoint(bad, []Param{p[0], p[0]}), "duplicate names")
}

// handCheckpoint writes a PyTorch-style state dict by hand, per the spec:
// an F32 weight, a BF16 bias and an I64 buffer.
func handCheckpoint(t *testing.T, path string, header string, data []byte) {
	t.Helper()
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	require.NoError(t, os.WriteFile(path, append(b, data...), 0o644))
}

func TestLoadHandWrittenCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "torch.safetensors")
	var data []byte
	for _, v := range []float32{0.5, -1, 2, 4} { // lin.weight [2,2]
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	data = append(data, 0x80, 0x3F, 0x40, 0xC0) // lin.bias BF16 [2] = 1, -3
	handCheckpoint(t, path, `{"__metadata__":{"format":"pt"},`+
		`"lin.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},`+
		`"lin.bias":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]}}`, data)
	params := []Param{param2("lin.weight", 2, 2, 0), newParam("lin.bias", 0, 0)}
	require.NoError(t, LoadCheckpoint(path, params))
	assert.Equal(t, []float32{0.5, -1, 2, 4}, params[0].Value.Data.Data)
	assert.Equal(t, []float32{1, -3}, params[1].Value.Data.Data)

	// An integer tensor under a parameter's name is a mismatch.
	ipath := filepath.Join(t.TempDir(), "int.safetensors")
	handCheckpoint(t, ipath, `{"lin.bias":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	err := LoadCheckpoint(ipath, params[1:])
	var ce *CheckpointError
	require.True(t, errors.As(err, &ce))
	assert.Contains(t, err.Error(), "dtype I32")
}
