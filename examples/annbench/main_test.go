package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestRunSmall runs the whole benchmark on a tiny catalog from a model
// trained for one epoch at width 16, and checks the JSON line: every
// field the README lists is there, the exact scan agrees with itself
// (recall 1 when every list is probed), inserted items are all found (the operating point probes every list).
func TestRunSmall(t *testing.T) {
	if _, err := dataDir("", "amazon-beauty"); err != nil {
		t.Skip(err)
	}
	var out, errb bytes.Buffer
	err := run([]string{"-items", "3000", "-queries", "40", "-inserts", "200", "-epochs", "1", "-dim", "16",
		"-anchor-efs", "16,64", "-probes", "1000"}, &out, &errb)
	if err != nil {
		t.Fatal(err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rep map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not JSON: %v", err)
	}
	for _, key := range []string{"exact_ms_p50", "exact_batch_ms_per_user", "ann_ms_p50", "ann_ms_p99", "ann_recall_at_10",
		"build_seconds", "index_bytes", "insert_us_p50", "anchor", "real_catalogs"} {
		if _, ok := rep[key]; !ok {
			t.Errorf("no %s in the report", key)
		}
	}
	sweep := rep["ann_sweep"].([]any)
	last := sweep[len(sweep)-1].(map[string]any)
	if r := last["recall_at_10"].(float64); r != 1 {
		t.Errorf("probing every list: recall %v, want 1", r)
	}
	if r := rep["inserted_recall"].(float64); r != 1 {
		t.Errorf("inserted items found: %v", r)
	}
	anchor := rep["anchor"].(map[string]any)
	for _, key := range []string{"ann_ms_p50", "ann_recall_at_10", "build_seconds", "index_bytes", "insert_us_p50"} {
		if _, ok := anchor[key]; !ok {
			t.Errorf("no anchor %s", key)
		}
	}
}
