package docker_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/reports/reportstest"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/docker"
)

// canary is the built-in bookingapp canary with shortened bake times.
func canary(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Builtin("bookingapp-canary")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Rate = 300
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 2500 * time.Millisecond
	}
	return sc
}

// TestWorldBookingappCanary runs the built-in bookingapp canary with the
// fakes, every task and every sidecar in containers, through the same
// engine and AWS SDK clients as in process, and checks what the in-process
// test checks. A second run kills a task mid-rollout: ECS replaces it and
// the requests that failed meanwhile are counted.
func TestWorldBookingappCanary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("canary", func(t *testing.T) {
		var log bytes.Buffer
		world := startWorld(ctx, t, docker.WorldOptions{EnvoyImage: "registry.invalid/envoy:absent", Log: &log})
		if world.EnvoyImage != "" || !strings.Contains(log.String(), "registry.invalid/envoy:absent is not in the local Docker engine") {
			t.Errorf("with an absent Envoy image: EnvoyImage %q, log %q", world.EnvoyImage, log.String())
		}
		if !strings.HasPrefix(world.Endpoint, "http://127.0.0.1:") || !strings.HasPrefix(world.XDSAddress, "127.0.0.1:") {
			t.Errorf("endpoint %s, xDS %s; want both published on 127.0.0.1", world.Endpoint, world.XDSAddress)
		}
		sc := canary(t)
		// Four standard errors: a sound test fails by chance about once in
		// 16,000 checks.
		sc.Asserts = []scenarios.Assertion{{Kind: "no-failed-requests"}, {Kind: "weight-binomial", Value: 4}}
		run, rep := runScenario(ctx, t, world, sc, nil)
		reportstest.CheckCleanSplit(t, run, rep, 500, 4)
		if !rep.Passed() {
			for _, a := range rep.Assertions {
				t.Errorf("assertion %+v", a)
			}
		}
		if !hasEvent(run, "xds", contract.EventXDSAck, "") {
			t.Error("no xds.ack event was recorded")
		}
		if !hasEvent(run, "runtime", contract.EventContainerStarted, "") {
			t.Error("no runtime container.started event was recorded")
		}
	})

	t.Run("a killed task is replaced and its failed requests counted", func(t *testing.T) {
		world := startWorld(ctx, t, docker.WorldOptions{})
		sc := canary(t)
		sc.Asserts = nil
		// The scenario schedules the fault: SIGKILL to a movie v1 task a
		// second into the canary-25 step. movie's route retries nothing, or
		// App Mesh's default retry policy would replay the cut requests.
		sc.Faults = []scenarios.Fault{{Action: "kill", Service: "movie", Version: "v1", Count: 1, Step: "canary-25", After: time.Second}}
		// Its requests take 200 ms, so the killed task has some in flight.
		movie, _ := sc.Service("movie")
		noRetries := 0
		movie.Retries = &noRetries
		movie.Versions[0].Latency = 200 * time.Millisecond
		run, rep := runScenarioWith(ctx, t, world, sc, nil, docker.TaskFaults{Faults: world.Faults})
		var victim string
		for _, f := range rep.Faults {
			if f.Action == "kill" && f.Error == "" {
				victim = f.Task
			}
		}
		if victim == "" {
			t.Fatalf("no task was killed: faults %+v", rep.Faults)
		}

		// ECS saw the essential container exit, stopped the task and
		// started another for the service.
		var stoppedAt time.Time
		for _, e := range run.Events {
			if e.Source == contract.SourceECS && e.Type == contract.EventTaskState && strings.HasSuffix(e.Resource, "/"+victim) && e.Detail[contract.DetailTo] == "STOPPED" {
				stoppedAt = e.Time
				if !strings.Contains(e.Detail[contract.DetailStoppedReason], "Essential container in task exited") {
					t.Errorf("killed task stopped for %q", e.Detail[contract.DetailStoppedReason])
				}
			}
		}
		if stoppedAt.IsZero() {
			t.Fatalf("the killed task %s never reached STOPPED", victim)
		}
		if !hasEvent(run, "runtime", contract.EventContainerExited, victim) {
			t.Errorf("no container.exited event for the killed task")
		}
		replaced := false
		for _, e := range run.Events {
			if e.Source == contract.SourceECS && e.Type == contract.EventTaskState && e.Detail[contract.DetailService] == "movie-v1" && e.Detail[contract.DetailTo] == "RUNNING" &&
				!strings.HasSuffix(e.Resource, "/"+victim) && e.Time.After(stoppedAt) {
				replaced = true
			}
		}
		if !replaced {
			t.Error("no movie-v1 task became RUNNING after the killed one stopped")
		}

		// The requests that failed are in the report, step by step.
		failed := 0
		for _, o := range run.Observations {
			if !o.OK() && o.ErrorKind != "canceled" {
				failed++
			}
		}
		if failed == 0 {
			t.Error("no request failed while a task that served a third of them was killed")
		}
		if rep.Run.Totals.Failed != failed {
			t.Errorf("report counts %d failed requests, the observations %d", rep.Run.Totals.Failed, failed)
		}
		t.Logf("killed task %s: %d failed requests, by step %v", victim, failed, failedByStep(rep))
	})
}

// TestStartWorldPortTaken asks for an API port that is taken: the error
// says so, and nothing of the run is left.
func TestStartWorldPortTaken(t *testing.T) {
	cli := dockerEngine(t)
	img := image(t, cli)
	runID := docker.NewRunID()
	noLeftovers(t, cli, runID)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	world, err := docker.StartWorld(ctx, cli, docker.WorldOptions{RunID: runID, Image: img, Addr: ln.Addr().String()})
	if err == nil {
		world.Close()
		t.Fatal("StartWorld succeeded on a taken port")
	}
	if !strings.Contains(err.Error(), "the port is taken") {
		t.Errorf("error %q does not say the port is taken", err)
	}
}

// startWorld starts a world of its own for the test, closed (and checked
// for leftovers) when the test ends.
func startWorld(ctx context.Context, t *testing.T, opts docker.WorldOptions) *docker.World {
	t.Helper()
	cli := dockerEngine(t)
	opts.Image = image(t, cli)
	opts.RunID = docker.NewRunID()
	noLeftovers(t, cli, opts.RunID)
	world, err := docker.StartWorld(ctx, cli, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := world.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return world
}

// runScenario runs sc against the world's fakes and returns the run
// directory's contents and its report.
func runScenario(ctx context.Context, t *testing.T, world *docker.World, sc *scenarios.Scenario, progress engine.Progress) (*rundir.Run, *reports.Report) {
	t.Helper()
	return runScenarioWith(ctx, t, world, sc, progress, nil)
}

// runScenarioWith is runScenario with the faults the scenario needs.
func runScenarioWith(ctx context.Context, t *testing.T, world *docker.World, sc *scenarios.Scenario, progress engine.Progress, faults engine.Faults) (*rundir.Run, *reports.Report) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	res, err := engine.Run(ctx, sc, engine.Options{Endpoint: world.Endpoint, XDSAddress: world.XDSAddress, Faults: faults, Dir: dir, RunID: world.RunID, Runtime: "docker", Progress: progress})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return reportstest.Report(t, res.Dir)
}

// hasEvent reports whether the run recorded an event of source and type
// whose resource ends with suffix.
func hasEvent(run *rundir.Run, source contract.Source, typ contract.EventType, suffix string) bool {
	for _, e := range run.Events {
		if e.Source == source && e.Type == typ && (suffix == "" || strings.HasSuffix(e.Resource, suffix) || e.Detail[contract.DetailTask] == suffix) {
			return true
		}
	}
	return false
}

func failedByStep(rep *reports.Report) []int {
	out := make([]int, len(rep.Steps))
	for i, st := range rep.Steps {
		out[i] = st.Failed
	}
	return out
}

// rollingUpdate is an ECS rolling update of movie under load, with tasks
// that drain gracefully, as the in-process TestRollingUpdateDrain runs it.
const rollingUpdate = `name: rolling
timeScale: 10
services:
  - name: home
    backends: [movie]
    versions: [{name: v1, count: 1}]
  - name: movie
    retries: 0
    versions:
      - {name: v1, count: 2, latency: 20ms, drain: 500ms}
      - {name: v2, count: 2, latency: 20ms}
ingress: {service: home}
load: {rate: 100, timeout: 2s}
rollout:
  service: movie
  deployments:
    - {to: v2, minimumHealthyPercent: 100, maximumPercent: 200, hold: 1s}
assertions:
  - no-failed-requests
  - deployments-as-expected
`

// TestWorldRollingUpdate runs an ECS rolling update in containers: the
// same assertions hold as in process (no failed request, the deployment
// succeeds), and the old tasks' containers are gone.
func TestWorldRollingUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	world := startWorld(ctx, t, docker.WorldOptions{})
	sc, err := scenarios.Parse("rolling.yaml", []byte(rollingUpdate))
	if err != nil {
		t.Fatal(err)
	}
	_, rep := runScenario(ctx, t, world, sc, nil)
	if !rep.Passed() {
		for _, a := range rep.Assertions {
			t.Errorf("assertion %+v", a)
		}
	}
	if len(rep.TaskStops) != 2 {
		t.Errorf("%d movie tasks stopped, want the 2 of v1", len(rep.TaskStops))
	}
}
