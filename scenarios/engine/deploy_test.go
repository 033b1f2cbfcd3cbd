package engine_test

import (
	"strings"
	"testing"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/scenarios"
)

// rolling is an ECS rolling update of movie v1 → v2 under load; movie's
// requests take 40 ms, so tasks always have requests in flight. movie's
// route retries nothing: App Mesh's default retry policy would replay the
// requests an abruptly stopped task cuts off, and hide them. A graceful
// task keeps serving for 500 ms after SIGTERM, long enough for the proxies
// to have dropped it; an abrupt one ignores that and exits at once. ECS
// deregisters a task (and the proxies may drop it) before it sends
// SIGTERM, so the abrupt version's requests take longer than that delay
// (100 ms at 10×): some are in flight when it exits however fast the
// proxies are.
const rolling = `name: rolling-SHUTDOWN
timeScale: 10
services:
  - name: home
    backends: [movie]
    versions: [{name: v1, count: 1}]
  - name: movie
    retries: 0
    versions:
      - {name: v1, count: 3, latency: LATENCY, shutdown: SHUTDOWN, drain: 500ms}
      - {name: v2, count: 3, latency: 40ms}
ingress: {service: home}
load: {rate: 150, timeout: 2s}
rollout:
  service: movie
  deployments:
    - {to: v2, minimumHealthyPercent: 100, maximumPercent: 200, hold: 1s}
assertions:
  - deployments-as-expected
`

// TestRollingUpdateDrain: tasks that drain gracefully are replaced without
// a failed request; tasks that exit abruptly cut the requests in flight,
// and every failure is put down to a task that was stopping.
func TestRollingUpdateDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	for _, tt := range []struct{ shutdown, latency string }{{"graceful", "40ms"}, {"abrupt", "300ms"}} {
		shutdown := tt.shutdown
		t.Run(shutdown, func(t *testing.T) {
			sc, err := scenarios.Parse("rolling.yaml", []byte(strings.NewReplacer("SHUTDOWN", shutdown, "LATENCY", tt.latency).Replace(rolling)))
			if err != nil {
				t.Fatal(err)
			}
			// A request that timed out was delayed (by the host, when it
			// is saturated), not cut off by a stopping task: the drain is
			// judged on the other failures, so that the test holds on a
			// machine busy with other work.
			run, rep := runScenario(t, sc)
			if !rep.Passed() {
				t.Fatalf("assertions failed: %+v", rep.Assertions)
			}
			if n := len(rep.TaskStops); n != 3 {
				t.Errorf("%d tasks of movie stopped, want the 3 of v1", n)
			}
			cut, timeouts := 0, 0
			for _, o := range run.Observations {
				switch {
				case !o.IsRequest() || o.OK() || o.ErrorKind == metrics.CanceledKind:
				case o.ErrorKind == "timeout":
					timeouts++
				case o.ErrorKind == "":
					t.Errorf("unclassified failure: %+v", o)
				default:
					cut++
				}
			}
			t.Logf("%d requests: %d cut off, %d timed out", rep.Run.Totals.Requests, cut, timeouts)
			switch shutdown {
			case "graceful":
				if cut != 0 {
					t.Errorf("graceful drain: %d of %d requests were cut off", cut, rep.Run.Totals.Requests)
				}
			case "abrupt":
				if cut == 0 {
					t.Errorf("abrupt exit: no request was cut off; %d requests", rep.Run.Totals.Requests)
				}
				blamed := 0
				for _, s := range rep.TaskStops {
					blamed += s.Failures
				}
				// Every cut-off is put down to a stopping task; only a
				// timeout may be left unexplained.
				if blamed < cut || rep.UnexplainedFailures > timeouts {
					t.Errorf("abrupt exit: %d cut off, %d failures put down to stopping tasks, %d unexplained (%d timeouts)", cut, blamed, rep.UnexplainedFailures, timeouts)
				}
			}
		})
	}
}

// TestGatedCanaryRollsBack runs the built-in gated canary with a bad new
// version: the lifecycle hook's gate, judged on the requests of its window,
// fails for what the version does (its errors or its latency, not for want
// of data), and ECS rolls the deployment back with the gate's reason. The
// gate's figures are the report's: recomputed from the run directory with
// the aggregator the reports use, its window gives the same count and p99.
// The load is a third of the scenario's, so that the test holds on a
// machine busy with other work.
func TestGatedCanaryRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("gated-canary-bad")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Rate = 100
	// The scenario's max-error-rate judges what users felt while the canary
	// ran; on a saturated host it measures the host. This test is about the
	// gate.
	sc.Asserts = []scenarios.Assertion{{Kind: "deployments-as-expected"}}
	run, rep := runScenario(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	d := run.Meta.Deployments[0]
	if len(d.Gates) == 0 {
		t.Fatalf("no gate decision recorded; deployment %+v", d)
	}
	g := d.Gates[0]
	if g.Status != "FAILED" || g.Requests < scenarios.DefaultHookMinRequests || strings.Contains(g.Reason, "no data") ||
		!(strings.Contains(g.Reason, "error rate") || strings.Contains(g.Reason, "p99")) {
		t.Errorf("gate %+v: want FAILED on the version's errors or latency, with at least %d requests", g, scenarios.DefaultHookMinRequests)
	}
	if d.Outcome != "ROLLBACK_SUCCESSFUL" || !strings.Contains(d.RollbackReason, g.Reason) {
		t.Errorf("outcome %s, rollback reason %q; want ROLLBACK_SUCCESSFUL for the gate's reason %q", d.Outcome, d.RollbackReason, g.Reason)
	}
	w := metrics.WindowOf(run.Observations, g.From, g.To, g.Through)
	if q := w.Latency.Quantiles(); w.Requests != g.Requests || w.Failed != g.Failed || q.P99 != g.P99 {
		t.Errorf("gate saw %d requests, %d failed, p99 %v; the run directory's window [%v, %v) through %d has %d, %d, p99 %v",
			g.Requests, g.Failed, g.P99, g.From, g.To, g.Through, w.Requests, w.Failed, q.P99)
	}
	// The service ends on v1: the last step is served by v1 alone.
	last := rep.Steps[len(rep.Steps)-1]
	for _, v := range last.Versions {
		if v.Version == "v2" && v.Requests > 0 {
			t.Errorf("after the rollback v2 still served %d requests", v.Requests)
		}
	}
}

// TestCanaryAnalysisGate runs the built-in canary-analysis scenarios: the
// lifecycle hook's gate compares v2 with v1 as measured in its window
// (Kayenta-style). The good canary passes the analysis and is promoted;
// the bad one (slower, failing) fails it, and ECS rolls it back with the
// analysis as the reason. The load is half the scenarios', so that the
// test holds on a busy machine.
func TestCanaryAnalysisGate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	for _, tc := range []struct {
		scenario, status, outcome, verdict string
	}{
		{"canary-analysis", "SUCCEEDED", "SUCCESSFUL", "Pass"},
		{"canary-analysis-bad", "FAILED", "ROLLBACK_SUCCESSFUL", "Fail"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			sc, err := scenarios.Builtin(tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			sc.Load.Rate = 150
			// What users felt is the scenario's business; this test is about
			// the gate.
			sc.Asserts = []scenarios.Assertion{{Kind: "deployments-as-expected"}}
			run, _ := runScenario(t, sc)
			d := run.Meta.Deployments[0]
			if len(d.Gates) == 0 {
				t.Fatalf("no gate decision recorded; deployment %+v", d)
			}
			g := d.Gates[0]
			want := "canary analysis v2 vs v1: " + tc.verdict
			if g.Status != tc.status || !strings.Contains(g.Reason, want) || !strings.Contains(g.Reason, "Flagger would") {
				t.Errorf("first gate %s: %q; want %s with %q and Flagger's verdict", g.Status, g.Reason, tc.status, want)
			}
			if d.Outcome != tc.outcome {
				t.Errorf("outcome %s (rollback reason %q); want %s", d.Outcome, d.RollbackReason, tc.outcome)
			}
			if tc.status == "FAILED" && (!strings.Contains(d.RollbackReason, "canary analysis") || !strings.Contains(g.Reason, "High")) {
				t.Errorf("rollback reason %q, gate %q: want the analysis and a High metric named", d.RollbackReason, g.Reason)
			}
		})
	}
}
