//go:build !amd64 || purego

package backbone

func score1xBlock(d int, h, panels, out []float32) { score1xBlockGo(d, h, panels, out) }

func score4xPanel(d int, h, panel, out []float32, ldo int) { score4xPanelGo(d, h, panel, out, ldo) }
