package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareCommand: exit codes and outputs of meshsim compare, and of
// report --baseline / --save-baseline / --summary, on written runs.
func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	good := writeRun(t, true, 0, nil, false)
	again := writeRun(t, true, 0, nil, false)
	failing := writeRun(t, true, 0, func(i int) bool { return i%10 == 0 }, false)
	partial := writeRun(t, true, 0, nil, true)
	base := filepath.Join(dir, "baseline.json")
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{"), 0o644)
	summary := filepath.Join(dir, "summary.md")

	if _, errOut, code := execute(t, "report", good, "--save-baseline", base); code != exitOK {
		t.Fatalf("report --save-baseline: exit %d: %s", code, errOut)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"same", []string{"compare", base, again}, exitOK, "NO REGRESSION", ""},
		{"two run directories", []string{"compare", good, again}, exitOK, "NO REGRESSION", ""},
		{"failing", []string{"compare", base, failing}, exitFailed, "REGRESSION: 4 of 8 gating metrics regressed: failed requests, errors: proxy-5xx", "regression (exit 1)"},
		{"failing, errors not gating", []string{"compare", base, failing, "--gate", "latency"}, exitOK, "NO REGRESSION", ""},
		{"partial", []string{"compare", base, partial}, exitInconclusive, "INCONCLUSIVE", ""},
		{"garbage", []string{"compare", garbage, good}, exitBadInput, "", "BASE: " + garbage + ": not a baseline file"},
		{"missing", []string{"compare", base, filepath.Join(dir, "nope")}, exitBadInput, "", "NEW: "},
		{"bad gate", []string{"compare", base, good, "--gate", "vibes"}, exitBadInput, "", `gate "vibes"`},
		{"bad alpha", []string{"compare", base, good, "--alpha", "2"}, exitBadInput, "", "alpha 2"},
		{"report with a baseline", []string{"report", failing, "--baseline", base, "--summary", summary}, exitFailed, "REGRESSION", ""},
		{"report with a bad baseline", []string{"report", good, "--baseline", garbage}, exitBadInput, "", "--baseline"},
		{"run with a bad baseline", []string{"run", "bookingapp-canary", "--baseline", garbage}, exitBadInput, "", "--baseline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := execute(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q): %s", code, tc.code, tc.wantOut, out, tc.wantErr, errOut)
			}
		})
	}
	sum, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## meshsim: s", "| 0 baseline |", "### Compared with baseline", "❌", "▲ +10.00pp", "failed requests"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if f := readReports(t, failing); !strings.Contains(f.html, "Compared with baseline") || f.json.Comparison == nil {
		t.Errorf("report of the failing run has no comparison section")
	}
}
