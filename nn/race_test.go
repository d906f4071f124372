//go:build race

package nn

// raceEnabled is true under the race detector, which allocates: allocation
// counts are not checked then.
const raceEnabled = true
