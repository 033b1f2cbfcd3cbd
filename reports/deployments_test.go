package reports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/sim/contract"
)

func taskEvent(at time.Time, task, from, to string) rundir.Event {
	return rundir.Event{Time: at, Source: contract.SourceECS, Type: contract.EventTaskState, Resource: task,
		Detail: map[string]string{"service": "movie", "from": from, "to": to}}
}

func TestDeployments(t *testing.T) {
	steps := []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100}),
		step(1, "rolling", 10*time.Second, 20*time.Second, nil),
	}
	obs := concat(served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 100}),
		served(1, at(10*time.Second), 10*time.Millisecond, map[string]int{"v1": 60, "v2": 40}))
	evs := []rundir.Event{
		taskEvent(at(-time.Second), "t1", "ACTIVATING", "RUNNING"),
		taskEvent(at(-time.Second), "t2", "ACTIVATING", "RUNNING"),
		taskEvent(at(11*time.Second), "t1", "RUNNING", "DEACTIVATING"), // 1 running
		taskEvent(at(12*time.Second), "t3", "ACTIVATING", "RUNNING"),   // 2
		taskEvent(at(13*time.Second), "t4", "ACTIVATING", "RUNNING"),   // 3
		taskEvent(at(14*time.Second), "t2", "RUNNING", "DEACTIVATING"), // 2
	}
	for _, tc := range []struct {
		outcome string
		pass    bool
	}{{"SUCCESSFUL", true}, {"ROLLBACK_SUCCESSFUL", false}} {
		t.Run(tc.outcome, func(t *testing.T) {
			run := newRun(steps, obs, evs, rundir.Assertion{Kind: "deployments-as-expected"})
			run.Meta.TimeScale = 60
			run.Meta.Deployments = []rundir.Deployment{{
				Name: "to-v2", Service: "movie", Strategy: "ROLLING", From: "v1", To: "v2", Expect: "SUCCESSFUL",
				Outcome: tc.outcome, RollbackReason: "circuit breaker", Started: at(10 * time.Second), Ended: at(20 * time.Second),
				Stages: []rundir.Stage{{Stage: "SCALE_UP", At: at(11 * time.Second)}},
			}}
			r := reports.Analyze(run)
			if a := r.Assertions[0]; a.Passed != tc.pass {
				t.Errorf("deployments-as-expected passed=%v: %s", a.Passed, a.Message)
			}
			d := r.Deployments[0]
			if d.AWSDuration != 10*time.Minute {
				t.Errorf("AWS duration %v, want 10m (10 s at 60×)", d.AWSDuration)
			}
			if c := r.Steps[1].Tasks; c == nil || c.Min != 1 || c.Max != 3 {
				t.Errorf("rolling step capacity %+v, want 1–3", c)
			}
			if c := r.Steps[0].Tasks; c == nil || c.Min != 2 || c.Max != 2 {
				t.Errorf("baseline capacity %+v, want 2", c)
			}
			// An unweighted (rolling) step counts every request for its shares.
			if s := r.Steps[1]; s.ShareRequests != 100 || s.Convergence.Excluded != 0 {
				t.Errorf("rolling step: share requests %d, excluded %d", s.ShareRequests, s.Convergence.Excluded)
			}
			var buf bytes.Buffer
			reports.WriteSummary(&buf, r)
			for _, want := range []string{"to-v2: ROLLING v1 → v2, ended " + tc.outcome, "(10m0s of AWS time at 60×)", "SCALE_UP +1s (AWS +1m0s)", "time scale 60×"} {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("summary lacks %q:\n%s", want, buf.String())
				}
			}
		})
	}
}

// TestDeploymentExpectReason: a deployment that rolled back as expected
// passes deployments-as-expected only when its rollback reason contains the
// expected one, so a rollback for the wrong reason (a gate without data) is
// caught.
func TestDeploymentExpectReason(t *testing.T) {
	steps := []rundir.Step{step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100})}
	obs := served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 100})
	for _, tc := range []struct {
		expectReason, reason string
		pass                 bool
		message              string
	}{
		{"", "no data: 0 requests", true, "every deployment ended as expected"},
		{"error rate", "hook FAILED: error rate 2.10% > 1.00%", true, "every deployment ended as expected"},
		{"error rate", "hook FAILED: no data: 3 requests in the last 2s", false, `for the reason "hook FAILED: no data: 3 requests in the last 2s", which does not contain "error rate"`},
	} {
		run := newRun(steps, obs, nil, rundir.Assertion{Kind: "deployments-as-expected"})
		run.Meta.Deployments = []rundir.Deployment{{
			Name: "canary", Service: "api", Strategy: "CANARY", From: "v1", To: "v2", Expect: "ROLLBACK_SUCCESSFUL", ExpectReason: tc.expectReason,
			Outcome: "ROLLBACK_SUCCESSFUL", RollbackReason: tc.reason, Started: at(0), Ended: at(10 * time.Second),
		}}
		a := reports.Analyze(run).Assertions[0]
		if a.Passed != tc.pass || !strings.Contains(a.Message+strings.Join(a.Failures, "; "), tc.message) {
			t.Errorf("expectReason %q, reason %q: passed=%v %q %v", tc.expectReason, tc.reason, a.Passed, a.Message, a.Failures)
		}
	}
}
