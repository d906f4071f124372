// Package sharedtest locates the real public datasets that llmrec's tests and
// benchmarks train and measure on. They are not part of the repository (their
// licences forbid redistribution); they live in a folder named shared/data
// beside the repository root, or wherever LLMREC_DATA points.
//
// Tests call Dir or File; when the data is missing the test is skipped, except
// under CI (CI=true), where missing data is a failure.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the shared data folder, or "" when it cannot be found. It
// honours LLMREC_DATA, then looks for ../shared/data beside the module root
// (the directory holding go.mod), walking up from the working directory.
func Root() string {
	if d := os.Getenv("LLMREC_DATA"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(filepath.Dir(dir), "shared", "data")
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				return cand
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// File returns the path of rel (e.g. "amazon-beauty/Beauty.txt") inside the
// shared data folder. When it is missing the test is skipped, or fails under
// CI.
func File(tb testing.TB, rel string) string {
	tb.Helper()
	root := Root()
	p := filepath.Join(root, rel)
	if root == "" {
		missing(tb, "shared data folder not found (set LLMREC_DATA)")
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		missing(tb, err.Error())
	}
	return p
}

// Dir is File for a folder.
func Dir(tb testing.TB, rel string) string { tb.Helper(); return File(tb, rel) }

func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("real data required under CI: %s", why)
	}
	tb.Skipf("real data not available: %s", why)
}
