// Package codesize holds no code. Its test keeps every function of the
// library (the non-test Go files outside examples/ and internal/, generated
// files excepted) at most MaxFuncLines long, so that a function a reader
// meets does one job that fits on a screen or two; a longer one is split
// into named steps (issue 23). Run it alone to list the offenders:
//
//	go test ./internal/codesize/
package codesize
