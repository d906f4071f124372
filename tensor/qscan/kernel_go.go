package qscan

// The portable kernels: the same bound, evaluated in Go. The assembly
// kernels compute the same integers and may round the float32 bound
// differently (a fused multiply-add), which the bound's inflation covers;
// either way the exact re-rank decides.

// scanOneGo writes, for blocks b0..b0+nb-1 of t, a mask byte per block
// whose bit j is set when item j's bound reaches thr (one query, codes qb).
func scanOneGo(t *Table, b0, nb int, qb []uint8, g, thr float32, mask []uint8) {
	for j := 0; j < nb; j++ {
		mask[j] = blockMask(t, b0+j, qb, g, thr)
	}
}

// scanFourGo is scanOneGo for batchUsers queries (qb holds them dp apart);
// query i's masks start at mask[i·ms].
func scanFourGo(t *Table, b0, nb int, qb []uint8, g, thr *[batchUsers]float32, mask []uint8, ms int) {
	for i := range batchUsers {
		scanOneGo(t, b0, nb, qb[i*t.dp:(i+1)*t.dp], g[i], thr[i], mask[i*ms:])
	}
}

func blockMask(t *Table, b int, qb []uint8, g, thr float32) uint8 {
	dp := t.dp
	const step = 4 * blockItems * groupBlocks // bytes of one k4 step of a group
	grp := t.codes[(b/groupBlocks)*groupBlocks*blockItems*dp : (b/groupBlocks+1)*groupBlocks*blockItems*dp]
	off := (b % groupBlocks) * 4 * blockItems
	var m uint8
	for j := range blockItems {
		var acc int32
		for k4 := 0; k4 < dp/4; k4++ {
			c := grp[k4*step+off+j*4:]
			q := qb[k4*4:]
			acc += int32(q[0])*int32(c[0]) + int32(q[1])*int32(c[1]) + int32(q[2])*int32(c[2]) + int32(q[3])*int32(c[3])
		}
		i := b*blockItems + j
		x := float32(acc-t.sum64[i]) + g
		v := x*t.scale[i] + t.half[i]
		if v >= thr {
			m |= 1 << j
		}
	}
	return m
}
