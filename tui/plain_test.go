package tui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

func TestPlainThrottlesWithinAStep(t *testing.T) {
	var buf bytes.Buffer
	p := NewPlain(&buf, time.Second)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }

	p.Update(status.Status{Phase: "setup", Message: "creating"})
	p.Update(status.Status{Phase: "setup", Message: "creating"}) // repeat: no line
	st := status.Status{Phase: "rollout", Step: 0, Steps: 2, StepName: "base", StepBake: 5 * time.Second,
		Weights: []status.VersionWeight{{Version: "v1", Weight: 100}, {Version: "v2", Weight: 0}}}
	p.Update(st) // new step: line
	now = now.Add(300 * time.Millisecond)
	st.StepElapsed = 300 * time.Millisecond
	p.Update(st) // within interval: no line
	now = now.Add(time.Second)
	st.StepElapsed = 1300 * time.Millisecond
	st.Requests, st.Versions = 10, map[string]int64{"v1": 10}
	p.Update(st) // after interval: line
	st.Step, st.StepName, st.StepElapsed = 1, "next", 0
	p.Update(st) // new step: line

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	if lines[0] != "[setup] creating" {
		t.Errorf("line 0 %q", lines[0])
	}
	if !strings.Contains(lines[2], "step 1/2") || !strings.Contains(lines[2], "v1 100.0%") || !strings.Contains(lines[2], "weights v1=100 v2=0") {
		t.Errorf("line 2 %q", lines[2])
	}
	if !strings.Contains(lines[3], "step 2/2 next") {
		t.Errorf("line 3 %q", lines[3])
	}
}

func TestStepLineShares(t *testing.T) {
	line := StepLine(status.Status{Step: 1, Steps: 5, StepName: "canary", StepBake: 6 * time.Second, StepElapsed: 3 * time.Second,
		Requests: 1000, Failed: 0, Versions: map[string]int64{"v1": 750, "v2": 250}})
	for _, want := range []string{"step 2/5 canary", "1000 req", "0 failed", "v1 75.0%", "v2 25.0%", "3.0s/6s"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
}

// The done status carries every step's final counts; Plain prints them,
// and the dashboard's ended steps take them (requests that came back after
// their step ended included), so both end on the report's numbers.
func TestFinalTotals(t *testing.T) {
	totals := []status.StepTotal{
		{Step: 0, Name: "base", Requests: 120, Failed: 20, Versions: map[string]int64{"v1": 100}},
		{Step: 1, Name: "half", Requests: 200, Failed: 2, Versions: map[string]int64{"v1": 99, "v2": 99}},
	}
	done := status.Status{Phase: status.PhaseDone, Message: "writing the run directory", Totals: totals}

	var buf bytes.Buffer
	NewPlain(&buf, time.Second).Update(done)
	want := "[done] writing the run directory\n" +
		"  step 1 base: 120 req  20 failed  observed v1 100.0%\n" +
		"  step 2 half: 200 req  2 failed  observed v1 50.0% v2 50.0%\n"
	if buf.String() != want {
		t.Errorf("plain:\n%s\nwant:\n%s", buf.String(), want)
	}

	m := NewModel("s", func() {})
	m.apply(status.Status{Phase: status.PhaseRollout, Step: 0, Steps: 2, Requests: 100, Versions: map[string]int64{"v1": 100}})
	m.apply(status.Status{Phase: status.PhaseRollout, Step: 1, Steps: 2, Requests: 150, Versions: map[string]int64{"v1": 75, "v2": 75}})
	m.apply(done)
	if len(m.history) != 2 {
		t.Fatalf("history %+v", m.history)
	}
	for i, h := range m.history {
		if h.Requests != totals[i].Requests || h.Failed != totals[i].Failed || h.Versions["v1"] != totals[i].Versions["v1"] {
			t.Errorf("ended step %d: %d req %d failed %v; want the totals %+v", i, h.Requests, h.Failed, h.Versions, totals[i])
		}
	}
	if !strings.Contains(m.body(), "120 req  20 failed") {
		t.Errorf("dashboard does not show the totals:\n%s", m.body())
	}
}
