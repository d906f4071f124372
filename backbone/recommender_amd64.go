//go:build amd64 && !purego

package backbone

import "golang.org/x/sys/cpu"

// hasAVX2 is a read-only fact about the CPU, computed once.
var hasAVX2 = cpu.X86.HasAVX2

// score1xBlock scores blockW items (four packed panels) for one user.
func score1xBlock(d int, h, panels, out []float32) {
	if !hasAVX2 || d < 1 {
		score1xBlockGo(d, h, panels, out)
		return
	}
	_ = h[d-1]
	_ = panels[blockW*d-1]
	_ = out[blockW-1]
	scoreBlockAVX2(d, &h[0], &panels[0], &out[0])
}

// score4xPanel scores one packed panel for groupH users (rows of h, d apart).
func score4xPanel(d int, h, panel, out []float32, ldo int) {
	if !hasAVX2 || d < 1 {
		score4xPanelGo(d, h, panel, out, ldo)
		return
	}
	_ = h[groupH*d-1]
	_ = panel[panelW*d-1]
	_ = out[(groupH-1)*ldo+panelW-1]
	scorePanel4AVX2(d, &h[0], &panel[0], &out[0], ldo)
}

// scoreBlockAVX2 is score1xBlockGo in AVX2 (separate multiply and add).
//
//go:noescape
func scoreBlockAVX2(d int, h, panels, out *float32)

// scorePanel4AVX2 is score4xPanelGo in AVX2 (separate multiply and add).
//
//go:noescape
func scorePanel4AVX2(d int, h, panel, out *float32, ldo int)
