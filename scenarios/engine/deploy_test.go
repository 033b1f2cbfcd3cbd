package engine_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim"
)

// rolling is an ECS rolling update of movie v1 → v2 under load; movie's
// requests take 40 ms, so tasks always have requests in flight. movie's
// route retries nothing: App Mesh's default retry policy would replay the
// requests an abruptly stopped task cuts off, and hide them. A graceful
// task keeps serving for 500 ms after SIGTERM, long enough for the proxies
// to have dropped it; an abrupt one ignores that and exits at once.
const rolling = `name: rolling-SHUTDOWN
timeScale: 10
services:
  - name: home
    backends: [movie]
    versions: [{name: v1, count: 1}]
  - name: movie
    retries: 0
    versions:
      - {name: v1, count: 3, latency: 40ms, shutdown: SHUTDOWN, drain: 500ms}
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

// runScenario runs a scenario in a fresh in-process world and returns its
// analysed run.
func runScenario(t *testing.T, sc *scenarios.Scenario) (*rundir.Run, *reports.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	world, err := sim.Start(ctx, sim.Options{TimeScale: sc.TimeScale})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := engine.Run(ctx, sc, engine.Options{Endpoint: world.Endpoint, Dir: dir, RunID: sc.Name, Runtime: "inproc"}); err != nil {
		t.Fatalf("run: %v", err)
	}
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return run, reports.Analyze(run)
}

// TestRollingUpdateDrain: tasks that drain gracefully are replaced without
// a failed request; tasks that exit abruptly cut the requests in flight,
// and every failure is put down to a task that was stopping.
func TestRollingUpdateDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	for _, shutdown := range []string{"graceful", "abrupt"} {
		t.Run(shutdown, func(t *testing.T) {
			sc, err := scenarios.Parse("rolling.yaml", []byte(strings.ReplaceAll(rolling, "SHUTDOWN", shutdown)))
			if err != nil {
				t.Fatal(err)
			}
			run, rep := runScenario(t, sc)
			if !rep.Passed() {
				t.Fatalf("assertions failed: %+v", rep.Assertions)
			}
			if n := len(rep.TaskStops); n != 3 {
				t.Errorf("%d tasks of movie stopped, want the 3 of v1", n)
			}
			failed := rep.Run.Totals.Failed
			switch shutdown {
			case "graceful":
				if failed != 0 {
					t.Errorf("graceful drain: %d of %d requests failed", failed, rep.Run.Totals.Requests)
				}
			case "abrupt":
				if failed == 0 {
					t.Errorf("abrupt exit: no request failed; %d requests", rep.Run.Totals.Requests)
				}
				blamed := 0
				for _, s := range rep.TaskStops {
					blamed += s.Failures
				}
				if blamed != failed || rep.UnexplainedFailures != 0 {
					t.Errorf("abrupt exit: %d failures, %d put down to stopping tasks, %d unexplained", failed, blamed, rep.UnexplainedFailures)
				}
				for _, o := range run.Observations {
					if !o.OK() && o.ErrorKind == "" {
						t.Errorf("unclassified failure: %+v", o)
					}
				}
			}
		})
	}
}

// TestGatedCanaryRollsBack runs the built-in gated canary with a bad new
// version: the lifecycle hook's gate, judged on the requests of its window,
// fails, and ECS rolls the deployment back.
func TestGatedCanaryRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("gated-canary-bad")
	if err != nil {
		t.Fatal(err)
	}
	run, rep := runScenario(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	d := run.Meta.Deployments[0]
	if d.Outcome != "ROLLBACK_SUCCESSFUL" || !strings.Contains(d.RollbackReason, "error rate") {
		t.Errorf("outcome %s, rollback reason %q", d.Outcome, d.RollbackReason)
	}
	if len(d.Gates) == 0 || d.Gates[0].Status != "FAILED" || d.Gates[0].Requests == 0 {
		t.Fatalf("gates %+v", d.Gates)
	}
	// The service ends on v1: the last step is served by v1 alone.
	last := rep.Steps[len(rep.Steps)-1]
	for _, v := range last.Versions {
		if v.Version == "v2" && v.Requests > 0 {
			t.Errorf("after the rollback v2 still served %d requests", v.Requests)
		}
	}
}
