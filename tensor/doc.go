// Package tensor provides dense row-major float32 tensors and the kernels a
// transformer recommender needs: GEMM (batched, with transposes), broadcasting
// elementwise ops, masked softmax and log-softmax, layer normalization,
// activations, row gather/scatter-add, and reductions.
//
// Kernels follow gonum's destination style: the caller passes the destination
// and an empty destination (&Tensor{}) sizes itself, so hot loops can reuse
// buffers and allocate nothing. Shape mismatches are programming errors and
// panic with an error wrapping ErrShape that names the shapes.
//
//	a := tensor.New(2, 3)
//	b := tensor.New(3, 4)
//	c := tensor.MatMul(&tensor.Tensor{}, a, b, false, false) // 2 x 4
package tensor
