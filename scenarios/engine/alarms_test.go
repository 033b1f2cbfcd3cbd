package engine_test

import (
	"strings"
	"testing"

	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/scenarios"
)

// TestDeploymentAlarms runs the built-in alarm scenarios: ECS CANARY
// deployments watched by a CloudWatch alarm on the HTTPCode_Target_5XX_Count
// the engine publishes. The bad revision's errors put the alarm in ALARM
// during the canary and ECS rolls the deployment back, naming the alarm;
// the good revision leaves it OK and completes. The load is a third of the
// scenarios', so that the test holds on a busy machine; the scenarios'
// own error-rate assertions judge what users felt, which on a saturated
// host measures the host, so the test judges the deployments and the
// alarms.
func TestDeploymentAlarms(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	for _, tt := range []struct {
		scenario, outcome string
		fired             bool
	}{
		{"alarm-rollback", "ROLLBACK_SUCCESSFUL", true},
		{"alarm-pass", "SUCCESSFUL", false},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			sc, err := scenarios.Builtin(tt.scenario)
			if err != nil {
				t.Fatal(err)
			}
			sc.Load.Rate = 100
			sc.Asserts = []scenarios.Assertion{{Kind: "deployments-as-expected"}}
			run, rep := runScenario(t, sc)
			if !rep.Passed() {
				t.Errorf("assertions failed: %+v", rep.Assertions)
			}
			d := run.Meta.Deployments[0]
			if d.Outcome != tt.outcome {
				t.Fatalf("deployment ended %s (%s), want %s", d.Outcome, d.RollbackReason, tt.outcome)
			}
			alarm := alarmOf(t, rep, "api-5xx")
			fired := false
			for _, tr := range alarm.Transitions {
				if tr.To != "ALARM" {
					continue
				}
				fired = true
				if len(tr.Breaching) < 2 || tr.Breaching[0].Value < 3 {
					t.Errorf("the alarm fired on %+v; want the 2 datapoints of at least 3 that breached", tr.Breaching)
				}
				if tr.At.Before(d.Started) || !d.Ended.IsZero() && tr.At.After(d.Ended) {
					t.Errorf("the alarm fired at %v, outside the deployment (%v to %v)", tr.At, d.Started, d.Ended)
				}
			}
			if fired != tt.fired {
				t.Errorf("alarm %s went through %s; fired = %v, want %v", alarm.Name, transitions(alarm), fired, tt.fired)
			}
			if tt.fired && !strings.Contains(d.RollbackReason, "api-5xx") {
				t.Errorf("rollback reason %q does not name the alarm", d.RollbackReason)
			}
		})
	}
}

func alarmOf(t *testing.T, rep *reports.Report, name string) reports.AlarmReport {
	t.Helper()
	for _, a := range rep.Alarms {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("the report has no alarm %s (alarms %+v)", name, rep.Alarms)
	return reports.AlarmReport{}
}

func transitions(a reports.AlarmReport) string {
	var parts []string
	for _, tr := range a.Transitions {
		parts = append(parts, tr.From+"→"+tr.To)
	}
	return strings.Join(parts, ", ")
}
