package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBenchCommand runs meshsim bench with tiny settings, with the anchors
// the machine has and with none, and checks that every section prints its
// figures or its skip note and that the summary judges every target. It
// asserts no timing: the figures are the command's output, not the test's.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk, haproxy and vegeta when present, and child processes")
	}
	// The bench starts itself (os.Executable) as bench-backend and
	// bench-grpc: the test binary then acts as meshsim.
	t.Setenv(runMainEnv, "1")
	tiny := []string{"bench", "--duration", "1s", "--rounds", "1", "--connections", "2", "--rate", "200", "--streams", "20", "--sidecars", "2", "--changes", "2"}
	// Each section prints one of its lines: figures, or a skip note.
	sections := map[string][]string{
		"## HTTP/1.1 proxy": {"sidecar/haproxy, medians of 1 per-round ratios: req/s", "skipped: wrk not found (apt-get install wrk)", "note: haproxy not found (apt-get install haproxy)"},
		"## Load generator": {"loadgen/vegeta, medians of 1 per-round ratios: achieved rate", "skipped: the vegeta CLI not found (" + vegetaInstall + ")"},
		"## gRPC: 20 bidi":  {"sidecar/direct, medians of 1 per-round figures: open"},
		"## Propagation":    {"2 changes: p50", "skipped:"},
	}
	all := []string{targetHTTPRate, targetHTTPP99, targetHTTPCPU, targetLoadRate, targetLoadCPU, targetGRPCOpen, targetGRPCMemory, targetPropagate}
	tests := []struct {
		name    string
		noPath  bool     // no wrk, haproxy or vegeta to be found
		args    []string // after tiny
		want    []string // sections printed
		notWant []string // sections not printed
		targets []string // targets the summary judges or skips
		exact   []string // lines that must be printed
	}{
		{name: "anchors on the machine", want: []string{"## HTTP/1.1 proxy", "## Load generator", "## gRPC: 20 bidi", "## Propagation"}, targets: all},
		{
			name: "no anchors", noPath: true,
			want:    []string{"## HTTP/1.1 proxy", "## Load generator", "## gRPC: 20 bidi", "## Propagation"},
			targets: all,
			exact: []string{
				"skipped: wrk not found (apt-get install wrk)",
				"skipped: the vegeta CLI not found (" + vegetaInstall + ")",
				"–  " + targetHTTPRate, "–  " + targetLoadCPU,
				"note: haproxy not found (apt-get install haproxy): no anchor, the sidecar against direct only",
			},
		},
		{
			name: "only some sections", args: []string{"--only", "grpc,propagation"},
			want: []string{"## gRPC: 20 bidi", "## Propagation"}, notWant: []string{"## HTTP/1.1 proxy", "## Load generator", targetHTTPRate, targetLoadCPU},
			targets: []string{targetGRPCOpen, targetGRPCMemory, targetPropagate},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.noPath {
				t.Setenv("PATH", t.TempDir())
				t.Setenv("HOME", t.TempDir())
			}
			out, stderr, code := execute(t, append(tiny, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s\n%s", code, stderr, out)
			}
			for _, s := range tt.want {
				sec, ok := section(out, s)
				if !ok {
					t.Errorf("no section %q in:\n%s", s, out)
					continue
				}
				if !containsAny(sec, sections[s]) {
					t.Errorf("section %q has none of %q:\n%s", s, sections[s], sec)
				}
			}
			summary, ok := section(out, "## Targets (issue 12)")
			if !ok {
				t.Errorf("no summary in:\n%s", out)
			}
			for _, target := range tt.targets {
				if !strings.Contains(summary, target) {
					t.Errorf("the summary does not judge %q:\n%s", target, summary)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(out, s) {
					t.Errorf("section %q printed:\n%s", s, out)
				}
			}
			exact := tt.exact
			if _, err := exec.LookPath("haproxy"); err == nil && !tt.noPath && strings.Contains(out, "## gRPC") {
				exact = append(exact, "the anchor: haproxy/direct open", "   1  haproxy ")
			}
			for _, s := range exact {
				if !strings.Contains(out, s) {
					t.Errorf("no %q in:\n%s", s, out)
				}
			}
		})
	}
	t.Run("unknown section", func(t *testing.T) {
		if _, stderr, code := execute(t, "bench", "--only", "nope"); code != exitBadInput || !strings.Contains(stderr, `--only "nope"`) {
			t.Errorf("exit %d, stderr %q; want %d naming the section", code, stderr, exitBadInput)
		}
	})
}

// section returns the part of out from the heading that starts with
// heading to the next blank line.
func section(out, heading string) (string, bool) {
	i := strings.Index(out, heading)
	if i < 0 {
		return "", false
	}
	s := out[i:]
	if j := strings.Index(s, "\n\n"); j >= 0 {
		s = s[:j]
	}
	return s, true
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
