package tensor

import (
	"fmt"
	"math"
)

// Softmax computes a softmax over the last dimension of src into dst. mask,
// when not nil, is added to the logits first; its shape must be a suffix of
// src's (e.g. [T, T] for [B, H, T, T] attention scores) and -Inf entries
// exclude a position. A row whose entries are all excluded becomes all zeros
// rather than NaN. dst may alias src. It returns dst.
func Softmax(dst, src, mask *Tensor) *Tensor {
	return softmax(dst, src, mask, nil, false)
}

// SoftmaxKeep is Softmax with a boolean mask: keep[j] false excludes column j
// of every row; keep has length src.Rows()*src.Cols() or a multiple that
// divides it, repeating like a suffix-shaped mask.
func SoftmaxKeep(dst, src *Tensor, keep []bool) *Tensor {
	return softmax(dst, src, nil, keep, false)
}

// LogSoftmax computes log(softmax) over the last dimension with the mask rules
// of Softmax; excluded positions get -Inf (and a fully excluded row is all
// -Inf).
func LogSoftmax(dst, src, mask *Tensor) *Tensor {
	return softmax(dst, src, mask, nil, true)
}

// LogSoftmaxKeep is LogSoftmax with a boolean mask as in SoftmaxKeep.
func LogSoftmaxKeep(dst, src *Tensor, keep []bool) *Tensor {
	return softmax(dst, src, nil, keep, true)
}

func softmax(dst, src, mask *Tensor, keep []bool, logOut bool) *Tensor {
	cols := src.Cols()
	period := 0
	if mask != nil {
		if mask.Dims() == 0 {
			panic(fmt.Errorf("%w: Softmax mask must have at least one dimension, src %v", ErrShape, src.Shape))
		}
		period = suffixBroadcast("Softmax mask", src, mask)
	}
	if keep != nil {
		if cols == 0 {
			dst.Ensure(src.Shape...)
			return dst
		}
		if len(keep) == 0 || len(src.Data)%len(keep) != 0 || len(keep)%cols != 0 {
			panic(fmt.Errorf("%w: Softmax keep mask of %d for %v", ErrShape, len(keep), src.Shape))
		}
		period = len(keep)
	}
	dst.Ensure(src.Shape...)
	negInf := float32(math.Inf(-1))
	for off := 0; off < len(src.Data); off += cols {
		x, y := src.Data[off:off+cols], dst.Data[off:off+cols]
		moff := 0
		if period > 0 {
			moff = off % period
		}
		mx := negInf
		for j, v := range x {
			if mask != nil {
				v += mask.Data[moff+j]
			} else if keep != nil && !keep[moff+j] {
				v = negInf
			}
			y[j] = v
			mx = max(mx, v)
		}
		if math.IsInf(float64(mx), -1) {
			fill := float32(0)
			if logOut {
				fill = negInf
			}
			for j := range y {
				y[j] = fill
			}
			continue
		}
		var sum float64
		for j, v := range y {
			e := math.Exp(float64(v - mx))
			sum += e
			if !logOut {
				y[j] = float32(e)
			}
		}
		if logOut {
			// (v − max) − log Σ: subtracting the max first keeps large logits
			// exact, instead of cancelling against a rounded max + log Σ.
			ls := float32(math.Log(sum))
			for j, v := range y {
				y[j] = (v - mx) - ls
			}
		} else {
			inv := float32(1 / sum)
			for j := range y {
				y[j] *= inv
			}
		}
	}
	return dst
}

// SoftmaxBackward computes dx = y ⊙ (dy − Σ_j dy_j y_j) row-wise, where y is
// the softmax output. dx may alias dy.
func SoftmaxBackward(dx, y, dy *Tensor) *Tensor {
	sameLen("SoftmaxBackward", dy, y)
	dx.Ensure(y.Shape...)
	cols := y.Cols()
	for off := 0; off < len(y.Data); off += cols {
		SoftmaxBackwardRow(dx.Data[off:off+cols], y.Data[off:off+cols], dy.Data[off:off+cols])
	}
	return dx
}

// SoftmaxBackwardRow is SoftmaxBackward on one row held in slices, for
// callers that keep rows in flat buffers of their own (backbone's
// attention, over the allowed keys of a query): dx = y ⊙ (dy − y·dy). dy
// and dx must be at least as long as y; dx may alias dy.
func SoftmaxBackwardRow(dx, y, dy []float32) {
	if len(dy) < len(y) || len(dx) < len(y) {
		panic(fmt.Errorf("%w: SoftmaxBackwardRow lengths y %d, dy %d, dx %d", ErrShape, len(y), len(dy), len(dx)))
	}
	s := Dot(y, dy[:len(y)])
	for j, v := range y {
		dx[j] = v * (dy[j] - s)
	}
}

// LogSoftmaxBackward computes dx = dy − softmax ⊙ Σ_j dy_j row-wise from the
// log-softmax output ly. Excluded (-Inf) positions get 0. dx may alias dy.
func LogSoftmaxBackward(dx, ly, dy *Tensor) *Tensor {
	sameLen("LogSoftmaxBackward", dy, ly)
	dx.Ensure(ly.Shape...)
	cols := ly.Cols()
	for off := 0; off < len(ly.Data); off += cols {
		lr, gr, dr := ly.Data[off:off+cols], dy.Data[off:off+cols], dx.Data[off:off+cols]
		var s float32
		for j, v := range lr {
			if !math.IsInf(float64(v), -1) {
				s += gr[j]
			}
		}
		for j, v := range lr {
			if math.IsInf(float64(v), -1) {
				dr[j] = 0
			} else {
				dr[j] = gr[j] - float32(math.Exp(float64(v)))*s
			}
		}
	}
	return dx
}
