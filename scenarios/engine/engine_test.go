package engine_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim"
)

// TestBookingappCanary runs the built-in bookingapp canary end to end on
// the inproc runtime with shortened bake times: every layer is real (AWS
// SDK clients against the fakes, ECS starting tasks, Cloud Map, the xDS
// control plane, sidecars, vegeta load).
func TestBookingappCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("bookingapp-canary")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Rate = 300
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 2500 * time.Millisecond
	}
	// Four standard errors: a sound test fails by chance about once in
	// 16,000 checks.
	sc.Asserts = []scenarios.Assertion{{Kind: "no-failed-requests"}, {Kind: "weight-binomial", Value: 4}}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	world, err := sim.Start(ctx, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()

	dir := filepath.Join(t.TempDir(), "run")
	res, err := engine.Run(ctx, sc, engine.Options{Endpoint: world.Endpoint, Dir: dir, RunID: "test", Runtime: "inproc"})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	run, err := rundir.Read(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := reports.Analyze(run)
	if err := reports.WriteFiles(res.Dir, rep); err != nil {
		t.Fatal(err)
	}

	if run.Meta.Partial {
		t.Errorf("run is partial: %s", run.Meta.Reason)
	}
	// Count per step from the raw observations, independently of reports.
	type tally struct {
		n, failed int
		versions  map[string]int
	}
	steps := make([]tally, len(sc.Rollout.Steps))
	for i := range steps {
		steps[i].versions = map[string]int{}
	}
	for _, o := range run.Observations {
		s := &steps[o.Step]
		s.n++
		if !o.OK() {
			s.failed++
			t.Errorf("step %d: failed request: status %d %s (%s)", o.Step, o.Status, o.Error, o.ErrorKind)
			continue
		}
		s.versions[o.Version]++
	}
	for i, st := range sc.Rollout.Steps {
		s := steps[i]
		if s.n < 300 {
			t.Errorf("step %d: only %d requests", i, s.n)
			continue
		}
		// The first requests of a step may still see the previous weights
		// (the xDS push takes a moment); reports excludes them using the
		// ACK events, so judge the share with the report's numbers too.
		for _, v := range []string{"v1", "v2"} {
			p := float64(st.Weights[v]) / 100
			got := float64(s.versions[v]) / float64(s.n-s.failed)
			tol := 4*math.Sqrt(p*(1-p)/float64(s.n)) + 0.02 // 2 points for requests sent before the push landed
			if math.Abs(got-p) > tol {
				t.Errorf("step %d (%s): %s served %.1f%%, weight %.0f%% (tolerance %.1f points)", i, st.Name, v, 100*got, 100*p, 100*tol)
			}
		}
	}
	if !rep.Passed() {
		t.Errorf("report assertions failed (see %s/report.md)", res.Dir)
		for _, a := range rep.Assertions {
			t.Logf("assertion %+v", a)
		}
	}
	for _, e := range run.Events {
		if e.Source == "xds" && e.Type == "xds.ack" {
			return
		}
	}
	t.Error("no xds.ack event was recorded")
}
