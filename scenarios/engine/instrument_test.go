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
)

// starve leaves the process one CPU (GOMAXPROCS 1) and keeps it busy with
// n goroutines that spin, until the returned function is called: whatever
// the machine's speed, everything else in the process (the load generator,
// and with the inproc runtime the sidecars and services) gets a small
// share of one CPU.
func starve(n int) (stop func()) {
	prev := runtime.GOMAXPROCS(1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			x := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				for i := range 1 << 16 {
					x += i ^ x>>1
				}
			}
		})
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			runtime.GOMAXPROCS(prev)
		})
	}
}

// TestSaturatedInstrumentIsInconclusive runs a short rehearsal whose load
// generator cannot keep up on purpose: once the load starts, the process
// has one CPU shared with eight spinning goroutines, and the offered rate
// is 5,000 requests per second through the ingress sidecar to the
// services, far more than a share of one CPU can send, receive and serve
// on any machine. The steps must be INCONCLUSIVE with the instrument's
// reason, never FAIL (requests do time out), and the run directory must
// hold the instrument's own samples.
func TestSaturatedInstrumentIsInconclusive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("bookingapp-canary")
	if err != nil {
		t.Fatal(err)
	}
	sc.Rollout.Steps = sc.Rollout.Steps[:2]
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 2 * time.Second
	}
	sc.Load.Rate = 5000
	sc.Load.Timeout = 500 * time.Millisecond
	sc.Asserts = []scenarios.Assertion{{Kind: "no-failed-requests"}, {Kind: "latency-p99-below", Value: float64(100 * time.Millisecond)}}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	world, err := sim.Start(ctx, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()

	var mu sync.Mutex
	var stopStarving func()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if stopStarving != nil {
			stopStarving()
		}
	}()
	progress := progressFunc(func(s status.Status) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case s.Phase == "rollout" && stopStarving == nil:
			stopStarving = starve(8)
		case s.Phase == "teardown" || s.Phase == "done":
			if stopStarving != nil {
				stopStarving() // idempotent
			}
		}
	})
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := engine.Run(ctx, sc, engine.Options{Endpoint: world.Endpoint, Dir: dir, RunID: "starved", Runtime: "inproc", Progress: progress}); err != nil {
		t.Fatalf("run: %v", err)
	}
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}

	// The run measured itself.
	kinds := map[string]int{}
	var behind bool
	for _, s := range run.Instrument {
		kinds[s.Kind]++
		if s.Kind == rundir.SampleHost && s.CPUs < 1 {
			t.Errorf("host sample with %d CPUs", s.CPUs)
		}
		if s.Kind == rundir.SampleLoadgen && s.Generator == rundir.GeneratorHTTP && s.Due > s.Sent && s.Lag > 0 {
			behind = true
		}
	}
	if kinds[rundir.SampleHost] == 0 || kinds[rundir.SampleLoadgen] == 0 || kinds[rundir.SampleSidecar] == 0 {
		t.Errorf("instrument samples by kind: %v, want host, loadgen and sidecar samples", kinds)
	}
	if !behind {
		t.Error("no loadgen sample shows the generator behind its schedule")
	}

	rep := reports.Analyze(run)
	for _, s := range rep.Steps {
		if s.Verdict != reports.VerdictInconclusive {
			t.Errorf("step %d %q: verdict %q (%s), want inconclusive", s.Index, s.Name, s.Verdict, s.VerdictReason)
			continue
		}
		if !strings.Contains(s.VerdictReason, "load generator") {
			t.Errorf("step %d: reason %q does not name the load generator", s.Index, s.VerdictReason)
		}
		t.Logf("step %d %q: %s", s.Index, s.Name, s.VerdictReason)
	}
	if rep.Verdict != reports.VerdictInconclusive {
		t.Errorf("run verdict %q (%s), want inconclusive", rep.Verdict, rep.VerdictReason)
	}
}
