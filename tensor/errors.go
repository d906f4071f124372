package tensor

import "errors"

// ErrNonFinite is wrapped by every error that reports a NaN or infinite value
// where a finite one is required: in an embedding file, a checkpoint's
// weights, a loss, or a score. Packages above tensor re-export this same
// value (nn.ErrNonFinite, backbone.ErrNonFinite, data.ErrNonFinite), so
// errors.Is(err, tensor.ErrNonFinite) holds whichever package returned err.
var ErrNonFinite = errors.New("non-finite value")
