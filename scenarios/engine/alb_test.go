package engine_test

import (
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
)

// cutOff counts the requests that failed other than by a timeout (a host
// busy with other work delays some requests; a stopping task cuts them).
func cutOff(t *testing.T, run *rundir.Run) (cut, timeouts int) {
	t.Helper()
	for _, o := range run.Observations {
		switch {
		case !o.IsRequest() || o.OK() || o.ErrorKind == metrics.CanceledKind:
		case o.ErrorKind == "timeout":
			timeouts++
		default:
			cut++
		}
	}
	return cut, timeouts
}

// TestALBBlueGreen runs the built-in alb-blue-green at a third of its
// rate: ECS shifts the test listener rule to green (a target group
// weight event with testWeight 100 before production moves), then the
// production rule, and every request is served, by blue before and by
// green after.
func TestALBBlueGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("alb-blue-green")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Rate, sc.Load.Timeout = 70, 10*time.Second
	sc.Rollout.Deployments[0].Hooks = nil // the gate needs its share of requests in 2 s
	start := time.Now()
	run, rep := runScenario(t, sc)
	cut, timeouts := cutOff(t, run)
	t.Logf("alb-blue-green: wall time %s, %d requests, %d failed (%d cut off, %d timed out)", time.Since(start).Round(time.Millisecond), rep.Run.Totals.Requests, cut+timeouts, cut, timeouts)
	if cut != 0 {
		t.Errorf("%d requests were cut off", cut)
	}
	if d := rep.Deployments; len(d) != 1 || !d[0].AsExpected {
		t.Errorf("deployments %+v", d)
	}
	first, last := rep.Steps[0], rep.Steps[len(rep.Steps)-1]
	if len(first.Versions) != 1 || first.Versions[0].Version != "blue" || len(last.Versions) != 1 || last.Versions[0].Version != "green" || last.Versions[0].ObservedPct != 100 {
		t.Errorf("first step %+v, last step %+v: want blue alone, then green alone", first.Versions, last.Versions)
	}
	testFirst := false
	for _, e := range run.Events {
		if e.Type != contract.EventDeploymentTraffic {
			continue
		}
		if e.Detail[contract.DetailTestWeight] == "100" && e.Detail[contract.DetailProductionWeight] == "0" {
			testFirst = true
		}
	}
	if !testFirst {
		t.Error("no traffic shift gave green the test listener's traffic before production's")
	}
}

// TestELBRolling runs the built-in elb-rolling at a third of its rate,
// each request taking 300 ms so that tasks always have some in flight.
// With the scenario's deregistration delay (10 s, 1 s at 10×) a draining
// target finishes them before ECS stops its abrupt app, so none is cut
// off; with a delay shorter than the requests (1 s, 100 ms at 10×) the
// app's exit cuts some, each put down to a stopping task.
func TestELBRolling(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	for _, tt := range []struct {
		name  string
		delay time.Duration // 0: the scenario's
	}{{"scenario-delay", 0}, {"delay-shorter-than-requests", time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenarios.Builtin("elb-rolling")
			if err != nil {
				t.Fatal(err)
			}
			sc.Load.Rate, sc.Load.Timeout = 70, 10*time.Second
			for i := range sc.Services[0].Versions {
				sc.Services[0].Versions[i].Latency = 300 * time.Millisecond
			}
			if tt.delay > 0 {
				sc.LoadBalancer.DeregistrationDelay = tt.delay
			}
			start := time.Now()
			run, rep := runScenario(t, sc)
			cut, timeouts := cutOff(t, run)
			blamed := 0
			for _, s := range rep.TaskStops {
				blamed += s.Failures
			}
			t.Logf("elb-rolling (delay %s): wall time %s, %d requests, %d failed (%d cut off, %d timed out), %d tasks stopped",
				sc.LoadBalancer.DeregistrationDelay, time.Since(start).Round(time.Millisecond), rep.Run.Totals.Requests, cut+timeouts, cut, timeouts, len(rep.TaskStops))
			if d := rep.Deployments; len(d) != 2 || !d[0].AsExpected || !d[1].AsExpected {
				t.Errorf("deployments %+v", d)
			}
			if n := len(rep.TaskStops); n != 8 {
				t.Errorf("%d tasks stopped, want the 4 of v1 and the 4 of v2", n)
			}
			switch {
			case tt.delay == 0 && cut != 0:
				t.Errorf("with the deregistration delay, %d requests were cut off", cut)
			case tt.delay > 0 && cut == 0:
				t.Errorf("with a delay shorter than the requests, none was cut off (%d requests)", rep.Run.Totals.Requests)
			case tt.delay > 0 && blamed < cut:
				t.Errorf("%d requests cut off, only %d put down to stopping tasks", cut, blamed)
			}
		})
	}
}
