// Package testfile holds file helpers shared by several packages' tests.
//
// Split and Join cut a .safetensors file into the three parts the
// checkpoint loaders' fuzz targets mutate separately (one metadata value,
// the tensor entries of the header, the data buffer) and join them back.
// Splitting keeps the fuzzer's mutations inside one part, so that most
// inputs reach the config decoding and the tensor checks instead of
// failing on a broken header length.
package testfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/llmrec/llmrec/tensor/safetensors"
)

// Split returns the metadata value under key, the header's tensor entries
// (a JSON object's members without the braces) and the data buffer of the
// file ts and meta would make.
func Split(ts []safetensors.Named, key, meta string) (string, string, []byte, error) {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, nil); err != nil {
		return "", "", nil, err
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b[:8])
	hdr := strings.TrimSpace(string(b[8 : 8+n]))
	if !strings.HasPrefix(hdr, "{") || !strings.HasSuffix(hdr, "}") {
		return "", "", nil, fmt.Errorf("testfile: header %q", hdr)
	}
	return meta, hdr[1 : len(hdr)-1], b[8+n:], nil
}

// Join assembles a file: the header is {"__metadata__": {key: meta},
// entries} and data follows it.
func Join(key, meta, entries string, data []byte) []byte {
	m, _ := json.Marshal(map[string]string{key: meta}) // cannot fail for strings
	hdr := `{"__metadata__":` + string(m)
	if entries != "" {
		hdr += "," + entries
	}
	hdr += "}"
	var out bytes.Buffer
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], uint64(len(hdr)))
	out.Write(l[:])
	out.WriteString(hdr)
	out.Write(data)
	return out.Bytes()
}

// Names returns the names in dir, sorted (to check that a failed save left
// no temporary file).
func Names(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out, nil
}
