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

// TestCompareRehearsals runs the CI example's rehearsal twice and once with
// a regressed v2 (30 ms slower, 3% of its requests failing): compare says
// no regression for the same scenario (or inconclusive, only when the
// instrument saturated on a busy machine) and names the regressed metrics
// with exit 1 for the other.
func TestCompareRehearsals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsals; skipped with -short")
	}
	dir := t.TempDir()
	src, err := os.ReadFile("examples/ci/rehearsal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	regressed := strings.Replace(string(src), "      - {name: v2, count: 2}", "      - {name: v2, count: 2, latency: 30ms, errorRate: 0.03}", 1)
	if regressed == string(src) {
		t.Fatal("the rehearsal's v2 line changed; update the test")
	}
	bad := filepath.Join(dir, "regressed.yaml")
	if err := os.WriteFile(bad, []byte(regressed), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name, scenario string, extra ...string) string {
		out := filepath.Join(dir, name)
		args := append([]string{"run", scenario, "--quiet", "--bake", "2s", "--out", out}, extra...)
		if stdout, stderr, code := execute(t, args...); code != exitOK && name != "regressed" {
			t.Logf("run %s: exit %d\n%s\n%s", name, code, stdout, stderr)
		}
		return out
	}
	baseline := filepath.Join(dir, "baseline.json")
	run("base", "examples/ci/rehearsal.yaml", "--save-baseline", baseline)
	same := run("same", "examples/ci/rehearsal.yaml")
	worse := run("regressed", bad)

	out, _, code := execute(t, "compare", baseline, same, "--scenario", "examples/ci/rehearsal.yaml")
	t.Logf("same scenario:\n%s", out)
	switch {
	case code == exitInconclusive && strings.Contains(out, "instrument saturated"):
		t.Logf("inconclusive: the machine was too busy to judge")
	case code != exitOK || !strings.Contains(out, "NO REGRESSION"):
		t.Errorf("same scenario: exit %d, want 0 and NO REGRESSION", code)
	}
	out, _, code = execute(t, "compare", baseline, worse, "--scenario", "examples/ci/rehearsal.yaml")
	t.Logf("regressed v2:\n%s", out)
	switch {
	case code == exitInconclusive && strings.Contains(out, "instrument saturated"):
		t.Logf("inconclusive: the machine was too busy to judge")
	case code != exitFailed || !strings.Contains(out, "REGRESSION: ") || !strings.Contains(out, "latency v2") || !strings.Contains(out, "failed requests"):
		t.Errorf("regressed v2: exit %d, want 1 naming latency v2 and failed requests", code)
	}
}
