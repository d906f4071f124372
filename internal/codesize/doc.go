// Package codesize holds no code. Its tests keep every function of the
// library (the non-test Go files outside examples/ and internal/, generated
// files excepted) at most 120 lines long, so that a function a reader
// meets does one job that fits on a screen or two; a longer one is split
// into named steps (issue 23). The examples are held to the same limit
// beside a list of known exceptions. Run them alone to list the offenders:
//
//	go test -v ./internal/codesize/
package codesize
