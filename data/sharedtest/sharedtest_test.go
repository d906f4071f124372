package sharedtest_test

import (
	"path/filepath"
	"testing"

	"github.com/llmrec/llmrec/data/sharedtest"
)

func TestRootFindsSharedData(t *testing.T) {
	p := sharedtest.File(t, "amazon-beauty/Beauty.txt")
	if filepath.Base(p) != "Beauty.txt" {
		t.Fatalf("File returned %q", p)
	}
}
