package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCapacityBadInput checks that meshsim capacity refuses bad flags and
// services with exit 2 and a message naming the flag, before anything
// starts.
func TestCapacityBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"capacity", "bookingapp-canary", "--service", "nope"}, `--service "nope" is not a service of scenario bookingapp-canary`},
		{[]string{"capacity", "bookingapp-canary", "--service", "movie", "--version", "v9"}, `--version "v9" is not a version of service movie`},
		{[]string{"capacity", "capacity-movie", "--slo", "200ms"}, `--slo "200ms": want pNN=DURATION`},
		{[]string{"capacity", "capacity-movie", "--error-budget", "120%"}, `--error-budget "120%"`},
		{[]string{"capacity", "capacity-movie", "--target-rate", "-5"}, "--target-rate must be between"},
		{[]string{"capacity", "capacity-movie", "--max-tasks", "0"}, "--max-tasks must be between 1 and 64"},
		{[]string{"capacity", "capacity-movie", "--step", "10ms"}, "--step must be between 500ms and 10m"},
		{[]string{"capacity", "capacity-movie", "--runtime", "vm"}, `--runtime "vm": want inproc or docker`},
		{[]string{"capacity", "grpc-echo-blue-green"}, "speaks gRPC: capacity sweeps drive HTTP load only"},
		{[]string{"capacity", "no-such-scenario"}, "no-such-scenario"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			_, stderr, code := execute(t, tc.args...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitBadInput, tc.want)
			}
		})
	}
}

// TestCapacityReportAgain rewrites a sweep directory's capacity report
// with meshsim report.
func TestCapacityReportAgain(t *testing.T) {
	dir := t.TempDir()
	rec := `{"scenario":"knee","service":"api","objective":{"quantile":0.99,"latencyNs":200000000,"errorBudget":0.001},
"stepDurationNs":1000000000,"host":{"cpus":2},"stopped":"reached --max-tasks 1",
"points":[{"tasks":1,"offered":50,"durationNs":1000000000,"requests":40,"sent":50,"throughput":50,"latency":{"meanNs":21000000},"objectiveLatencyNs":25000000},
{"tasks":1,"offered":300,"durationNs":1000000000,"requests":240,"sent":300,"throughput":200,"latency":{"meanNs":400000000},"objectiveLatencyNs":900000000,"broken":"p99 900ms > 200ms"}]}`
	if err := os.WriteFile(filepath.Join(dir, "capacity-sweep.json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := execute(t, "report", dir)
	if code != exitOK || !strings.Contains(stdout, "capacity.html") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, f := range []string{"capacity.html", "capacity.md", "capacity.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
