package backbone

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/llmrec/llmrec/tensor"
)

// attnForward computes c.O from c.Q, c.K, c.V per sequence and head.
func (m *SASRec) attnForward(c *saBlockCache, b *Batch, train bool, rng *rand.Rand, tmp [][]float32) {
	d, h := m.cfg.Dim, m.cfg.Heads
	ns := b.NumSeqs()
	c.attnOffsets = growI(c.attnOffsets, ns+1)
	c.attnOffsets[0] = 0
	for s := 0; s < ns; s++ {
		p := b.SeqLen(s)
		c.attnOffsets[s+1] = c.attnOffsets[s] + h*p*p
	}
	n := c.attnOffsets[ns]
	c.A = growF(c.A, n)
	if train && m.cfg.Dropout > 0 {
		c.Am = growF(c.Am, n)
		tensor.DropoutMask(rng, c.Am, m.cfg.Dropout)
	}
	resize(&c.O, b.NumTokens(), d)
	if !m.parallel(b) { // no closure: inference on one user allocates nothing
		for s := 0; s < ns; s++ {
			m.attnSeqForward(c, b, s, train, tmp[0])
		}
		return
	}
	m.parallelSeqs(b, func(w, s0, s1 int) {
		for s := s0; s < s1; s++ {
			m.attnSeqForward(c, b, s, train, tmp[w])
		}
	})
}

// parallelSeqs splits the sequences of b into contiguous ranges of similar
// token counts and runs f on them concurrently.
func (m *SASRec) parallelSeqs(b *Batch, f func(w, s0, s1 int)) {
	ns := b.NumSeqs()
	workers := m.workers()
	if !m.parallel(b) {
		f(0, 0, ns)
		return
	}
	var wg sync.WaitGroup
	per := (b.NumTokens() + workers - 1) / workers
	s0 := 0
	for w := 0; w < workers && s0 < ns; w++ {
		s1 := s0
		for s1 < ns && (b.Offsets[s1]-b.Offsets[s0] < per || s1 == s0) {
			s1++
		}
		if w == workers-1 {
			s1 = ns
		}
		lo, hi, ww := s0, s1, w
		if hi == ns {
			f(ww, lo, hi)
		} else {
			wg.Go(func() { f(ww, lo, hi) })
		}
		s0 = s1
	}
	wg.Wait()
}

// gemmAttnMin is the sequence length from which attention runs as small
// matrix products (the scalar loops win below it).
const gemmAttnMin = 12

// attnBufs returns per-worker scratch of 2·L² floats, L the longest
// sequence of b, for the matrix-product path of attention.
func (m *SASRec) attnBufs(st *saScratch, b *Batch) [][]float32 {
	for len(st.abuf) < m.workers() {
		st.abuf = append(st.abuf, nil)
	}
	L := b.LongestSeq()
	for w := range st.abuf {
		st.abuf[w] = growF(st.abuf[w], max(2*L*L, L))
	}
	return st.abuf
}

func (m *SASRec) attnSeqForward(c *saBlockCache, b *Batch, s int, train bool, tmp []float32) {
	d, h := m.cfg.Dim, m.cfg.Heads
	dh := d / h
	scale := float32(1 / math.Sqrt(float64(dh)))
	o, p := b.Offsets[s], b.SeqLen(s)
	if p >= m.gemmMin {
		m.attnSeqForwardGemm(c, o, p, s, train, tmp)
		return
	}
	Q, K, V, O := c.Q.Data, c.K.Data, c.V.Data, c.O.Data
	drop := train && m.cfg.Dropout > 0
	for hh := 0; hh < h; hh++ {
		c0 := hh * dh
		base := c.attnOffsets[s] + hh*p*p
		for i := 0; i < p; i++ {
			jmax := p - 1
			if m.causal {
				jmax = i
			}
			row := c.A[base+i*p : base+(i+1)*p]
			qi := Q[(o+i)*d+c0 : (o+i)*d+c0+dh]
			mx := float32(math.Inf(-1))
			for j := 0; j <= jmax; j++ {
				v := tensor.Dot(qi, K[(o+j)*d+c0:(o+j)*d+c0+dh]) * scale
				row[j] = v
				mx = max(mx, v)
			}
			softmaxAllowed(row, jmax+1, mx)
			oi := O[(o+i)*d+c0 : (o+i)*d+c0+dh]
			clear(oi)
			for j := 0; j <= jmax; j++ {
				a := row[j]
				if drop {
					a *= c.Am[base+i*p+j]
				}
				if a != 0 {
					tensor.Axpy(a, V[(o+j)*d+c0:(o+j)*d+c0+dh], oi)
				}
			}
		}
	}
}

// softmaxAllowed turns the scores in row[:n] (the keys a query may see;
// mx is their maximum) into attention weights and zeroes row[n:] (the later
// keys of a causal query). Both attention paths call it. It is not tensor's
// Softmax: that one sums in float64 (and takes *Tensor rows, whose headers
// would allocate here); this float32 sum is what SASRec has always
// computed, so trained models and their scores stay bit-identical.
func softmaxAllowed(row []float32, n int, mx float32) {
	var sum float32
	for j, v := range row[:n] {
		ev := float32(math.Exp(float64(v - mx)))
		row[j] = ev
		sum += ev
	}
	inv := 1 / sum
	for j := range row[:n] {
		row[j] *= inv
	}
	clear(row[n:])
}

func (m *SASRec) attnSeqBackward(c *saBlockCache, b *Batch, s int, dO, dQ, dK, dV []float32, drop bool, da []float32) {
	d, h := m.cfg.Dim, m.cfg.Heads
	dh := d / h
	scale := float32(1 / math.Sqrt(float64(dh)))
	o, p := b.Offsets[s], b.SeqLen(s)
	if p >= m.gemmMin {
		m.attnSeqBackwardGemm(c, o, p, s, dO, dQ, dK, dV, drop, da)
		return
	}
	Q, K, V := c.Q.Data, c.K.Data, c.V.Data
	for hh := 0; hh < h; hh++ {
		c0 := hh * dh
		base := c.attnOffsets[s] + hh*p*p
		for i := 0; i < p; i++ {
			jmax := p - 1
			if m.causal {
				jmax = i
			}
			arow := c.A[base+i*p : base+i*p+jmax+1]
			doi := dO[(o+i)*d+c0 : (o+i)*d+c0+dh]
			for j := range arow {
				vj := (o + j) * d
				g := tensor.Dot(doi, V[vj+c0:vj+c0+dh])
				a := arow[j]
				if drop {
					mk := c.Am[base+i*p+j]
					g *= mk
					a *= mk
				}
				if a != 0 {
					tensor.Axpy(a, doi, dV[vj+c0:vj+c0+dh])
				}
				da[j] = g
			}
			// the softmax's backward over the allowed keys: dS = A ⊙ (dA − A·dA)
			tensor.SoftmaxBackwardRow(da, arow, da)
			qi := Q[(o+i)*d+c0 : (o+i)*d+c0+dh]
			dqi := dQ[(o+i)*d+c0 : (o+i)*d+c0+dh]
			for j := range arow {
				ds := da[j] * scale
				if ds == 0 {
					continue
				}
				kj := (o + j) * d
				tensor.Axpy(ds, K[kj+c0:kj+c0+dh], dqi)
				tensor.Axpy(ds, qi, dK[kj+c0:kj+c0+dh])
			}
		}
	}
}

// attnSeqForwardGemm is attnSeqForward for long sequences: per head,
// S = scale·Q Kᵀ (p x p), a row softmax over the allowed keys (later keys
// get weight 0 when causal), then O = Drop(A) V. tmp holds Drop(A).
func (m *SASRec) attnSeqForwardGemm(c *saBlockCache, o, p, s int, train bool, tmp []float32) {
	d, h := m.cfg.Dim, m.cfg.Heads
	dh := d / h
	scale := float32(1 / math.Sqrt(float64(dh)))
	Q, K, V, O := c.Q.Data, c.K.Data, c.V.Data, c.O.Data
	drop := train && m.cfg.Dropout > 0
	for hh := 0; hh < h; hh++ {
		c0 := hh * dh
		base := c.attnOffsets[s] + hh*p*p
		S := c.A[base : base+p*p]
		tensor.Gemm(false, true, p, p, dh, scale, Q[o*d+c0:], d, K[o*d+c0:], d, 0, S, p)
		for i := 0; i < p; i++ {
			jmax := p - 1
			if m.causal {
				jmax = i
			}
			row := S[i*p : (i+1)*p]
			mx := float32(math.Inf(-1))
			for _, v := range row[:jmax+1] {
				mx = max(mx, v)
			}
			softmaxAllowed(row, jmax+1, mx)
		}
		A := S
		if drop {
			A = tmp[:p*p]
			mk := c.Am[base : base+p*p]
			for k, v := range S {
				A[k] = v * mk[k]
			}
		}
		tensor.Gemm(false, false, p, dh, p, 1, A, p, V[o*d+c0:], d, 0, O[o*d+c0:], d)
	}
}

// attnSeqBackwardGemm is attnSeqBackward for long sequences, with matrix
// products: dA' = dO Vᵀ, dV += A'ᵀ dO, dS = A ⊙ (dA − rowsum(A ⊙ dA)) (the
// softmax's backward, row by row), dQ += scale·dS K, dK += scale·dSᵀ Q. tmp
// holds A' and dS (2·p² floats).
func (m *SASRec) attnSeqBackwardGemm(c *saBlockCache, o, p, s int, dO, dQ, dK, dV []float32, drop bool, tmp []float32) {
	d, h := m.cfg.Dim, m.cfg.Heads
	dh := d / h
	scale := float32(1 / math.Sqrt(float64(dh)))
	Q, K, V := c.Q.Data, c.K.Data, c.V.Data
	for hh := 0; hh < h; hh++ {
		c0 := hh * dh
		base := c.attnOffsets[s] + hh*p*p
		A := c.A[base : base+p*p]
		Ad, dA := A, tmp[p*p:2*p*p]
		if drop {
			Ad = tmp[:p*p]
			mk := c.Am[base : base+p*p]
			for k, v := range A {
				Ad[k] = v * mk[k]
			}
		}
		tensor.Gemm(false, true, p, p, dh, 1, dO[o*d+c0:], d, V[o*d+c0:], d, 0, dA, p)
		tensor.Gemm(true, false, p, dh, p, 1, Ad, p, dO[o*d+c0:], d, 1, dV[o*d+c0:], d)
		for i := 0; i < p; i++ {
			ar, gr := A[i*p:(i+1)*p], dA[i*p:(i+1)*p]
			if drop {
				mk := c.Am[base+i*p : base+(i+1)*p]
				for j := range gr {
					gr[j] *= mk[j]
				}
			}
			tensor.SoftmaxBackwardRow(gr, ar, gr)
		}
		tensor.Gemm(false, false, p, dh, p, scale, dA, p, K[o*d+c0:], d, 1, dQ[o*d+c0:], d)
		tensor.Gemm(true, false, p, dh, p, scale, dA, p, Q[o*d+c0:], d, 1, dK[o*d+c0:], d)
	}
}
