package engine_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/poll"
)

// runScenario runs a scenario in a fresh in-process world and returns its
// analysed run. Every run it makes is checked for what any run must hold:
// no goroutine of the engine or the load generator outlives Run, and the
// live counts the engine reports at the end equal the report's, step by
// step and version by version.
func runScenario(t *testing.T, sc *scenarios.Scenario) (*rundir.Run, *reports.Report) {
	t.Helper()
	run, rep, err := runWith(context.Background(), t, sc, nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return run, rep
}

// runWith is runScenario with the run's context and a progress observer
// (nil for none); it returns Run's error instead of failing on it.
func runWith(ctx context.Context, t *testing.T, sc *scenarios.Scenario, progress func(status.Status)) (*rundir.Run, *reports.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	world, err := sim.Start(ctx, sim.Options{TimeScale: sc.TimeScale})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()
	var (
		mu     sync.Mutex
		totals []status.StepTotal
	)
	p := progressFunc(func(s status.Status) {
		if progress != nil {
			progress(s)
		}
		if s.Phase == status.PhaseDone {
			mu.Lock()
			totals = s.Totals
			mu.Unlock()
		}
	})
	dir := filepath.Join(t.TempDir(), "run")
	_, runErr := engine.Run(ctx, sc, engine.Options{Endpoint: world.Endpoint, DNSAddress: world.DNSAddress, Dir: dir, RunID: sc.Name, Runtime: "inproc", Progress: p})
	checkNoEngineGoroutines(t)
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := reports.Analyze(run)
	mu.Lock()
	defer mu.Unlock()
	checkLiveTotals(t, totals, rep)
	return run, rep, runErr
}

// progressFunc adapts a function to engine.Progress.
type progressFunc func(status.Status)

func (f progressFunc) Update(s status.Status) { f(s) }

// checkLiveTotals fails t unless the final live counts equal the report's.
func checkLiveTotals(t *testing.T, totals []status.StepTotal, rep *reports.Report) {
	t.Helper()
	if len(totals) != len(rep.Steps) {
		t.Errorf("%d steps live, %d in the report", len(totals), len(rep.Steps))
		return
	}
	for i, st := range rep.Steps {
		live := totals[i]
		if live.Requests != int64(st.Requests) || live.Failed != int64(st.Failed) {
			t.Errorf("step %d (%s): live %d requests, %d failed; report %d, %d", i, st.Name, live.Requests, live.Failed, st.Requests, st.Failed)
		}
		for _, v := range st.Versions {
			if live.Versions[v.Version] != v.Latency.Count {
				t.Errorf("step %d (%s): %s answered %d live, %d in the report", i, st.Name, v.Version, live.Versions[v.Version], v.Latency.Count)
			}
		}
	}
}

// engineFrames mark a goroutine of the engine or of the load generator it
// drives (in the stack, or in its "created by" line).
var engineFrames = []string{"meshsim/meshsim/scenarios/engine.", "meshsim/meshsim/loadgen.", "tsenart/vegeta"}

// checkNoEngineGoroutines fails t if a goroutine of the engine or the load
// generator is left once Run has returned. A goroutine that has signalled
// its end may take a moment to exit, so it looks again for up to 2 s (a
// leaked goroutine waits on something that never comes, far longer).
func checkNoEngineGoroutines(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var left []string
	_ = poll.Until(ctx, 20*time.Millisecond, func(context.Context) (bool, error) {
		left = engineGoroutines()
		return len(left) == 0, nil
	})
	for _, g := range left {
		t.Errorf("a goroutine outlived engine.Run:\n%s", g)
	}
}

func engineGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range engineFrames {
			if strings.Contains(g, f) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// TestCancelMidGate cuts a run short while a gate waits out its window:
// Run returns (the run partial), the gate answers nothing and records that
// it was left unanswered, and no goroutine of the engine is left behind.
func TestCancelMidGate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("gated-canary-bad")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Rate = 50
	sc.Rollout.Deployments[0].Hooks[0].Window = time.Hour
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	var once sync.Once
	run, _, err := runWith(ctx, t, sc, func(s status.Status) {
		if strings.Contains(s.StepName, "PRODUCTION_TRAFFIC_SHIFT") && s.StepElapsed > time.Second {
			once.Do(interrupt)
		}
	})
	if err == nil || !run.Meta.Partial {
		t.Fatalf("run cut mid-gate: err %v, partial %v", err, run.Meta.Partial)
	}
	var unanswered, answered int
	for _, e := range run.Events {
		switch e.Type {
		case "gate.unanswered":
			unanswered++
		case "gate.succeeded", "gate.failed":
			answered++
		}
	}
	if unanswered != 1 || answered != 0 {
		t.Errorf("%d gates unanswered, %d answered; want 1 and 0", unanswered, answered)
	}
}
