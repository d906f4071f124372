// Package safetensors reads and writes the .safetensors tensor file format,
// the format PyTorch and Hugging Face tools use for model weights and that
// llmrec uses for checkpoints and LLM item-embedding tables.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header,
// then one flat little-endian data buffer:
//
//	{"emb": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
//	 "__metadata__": {"model": "text-embedding"}}
//
// Offsets are relative to the start of the buffer. The format is chosen over
// pickles because it cannot execute code and can be validated before any
// data is read: Read checks that the header is a JSON object of known dtypes,
// that every tensor's byte span equals the product of its shape times the
// element size, and that the spans tile the buffer exactly (no overlap, no
// gap, nothing past the end), and it caps the header at MaxHeaderSize so a
// corrupt length cannot trigger a huge allocation. Every such problem is an
// error wrapping ErrFormat that names the file and the tensor.
//
// Tensors are read on demand and converted to float32 (F32, F64, F16, BF16)
// or to int64 (integer and boolean dtypes). Write emits F32; WriteFile
// replaces its target atomically (temp file, fsync, rename).
//
//	f, err := safetensors.Open("items.safetensors")
//	if err != nil { ... }
//	defer f.Close()
//	emb, err := f.Tensor("emb") // *tensor.Tensor, shape [items, dim]
package safetensors
