package docker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/reports/reportstest"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/docker"
	"github.com/meshsim/meshsim/sim/events"
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
	ctx := testContext(t)

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
		reportstest.CheckCleanSplit(t, run, rep, 250, 4)
		if !rep.Passed() {
			for _, a := range rep.Assertions {
				t.Errorf("assertion %+v", a)
			}
		}
		if !hasEvent(run, "xds", contract.EventXDSAck, "") {
			t.Error("no xds.ack event was recorded")
		}
		if !hasEvent(run, contract.SourceRuntime, contract.EventContainerStarted, "") {
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
		// The run holds its teardown until the service has replaced the
		// killed task (or the test's time is up): how long that takes
		// depends on the machine, not on the scenario's bake times.
		log := followEvents(ctx, t, world.Endpoint)
		faults := &killRecorder{TaskFaults: docker.TaskFaults{Faults: world.Faults}, log: log}
		hold := &holdTeardown{wait: func() error {
			_, err := log.await(ctx, "a movie-v1 task started after the kill to become RUNNING", faults.replacement)
			return err
		}}
		run, rep := runScenarioWith(ctx, t, world, sc, hold, faults)
		if hold.err != nil {
			t.Error(hold.err)
		}
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
		stopped := false
		for _, e := range run.Events {
			if e.Source == contract.SourceECS && e.Type == contract.EventTaskState && strings.HasSuffix(e.Resource, "/"+victim) && e.Detail[contract.DetailTo] == "STOPPED" {
				stopped = true
				if !strings.Contains(e.Detail[contract.DetailStoppedReason], "Essential container in task exited") {
					t.Errorf("killed task stopped for %q", e.Detail[contract.DetailStoppedReason])
				}
			}
		}
		if !stopped {
			t.Errorf("the killed task %s never reached STOPPED", victim)
		}
		if !hasEvent(run, contract.SourceRuntime, contract.EventContainerExited, victim) {
			t.Errorf("no container.exited event for the killed task")
		}
		// The replacement is in the run's own record too.
		var recorded []events.Event
		for _, e := range run.Events {
			recorded = append(recorded, events.Event{Source: e.Source, Type: e.Type, Resource: e.Resource, Detail: e.Detail})
		}
		if !faults.replacement(recorded) {
			t.Error("the run's events show no movie-v1 task started after the kill becoming RUNNING")
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
	ctx := testContext(t)
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
	ctx := testContext(t)
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

// eventLog follows a world's event stream (GET /_meshsim/events), so that
// a test waits on what happens instead of for a time.
type eventLog struct {
	mu      sync.Mutex
	events  []events.Event
	changed chan struct{}
}

// followEvents follows the stream of the fakes at endpoint until ctx ends,
// resuming after the last event when the stream breaks.
func followEvents(ctx context.Context, t *testing.T, endpoint string) *eventLog {
	l := &eventLog{changed: make(chan struct{})}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		var since uint64
		for ctx.Err() == nil {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/_meshsim/events?since=%d", endpoint, since), nil)
			if err != nil {
				return
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				dec := json.NewDecoder(resp.Body)
				for {
					var e events.Event
					if dec.Decode(&e) != nil {
						break
					}
					since = e.Seq
					l.mu.Lock()
					l.events = append(l.events, e)
					close(l.changed)
					l.changed = make(chan struct{})
					l.mu.Unlock()
				}
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return l
}

// snapshot returns the events so far.
func (l *eventLog) snapshot() []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// await waits until cond holds for the events so far, or ctx ends.
func (l *eventLog) await(ctx context.Context, what string, cond func([]events.Event) bool) ([]events.Event, error) {
	begun := time.Now()
	for {
		l.mu.Lock()
		evs, changed := slices.Clone(l.events), l.changed
		l.mu.Unlock()
		if cond(evs) {
			return evs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return evs, fmt.Errorf("waited %s for %s: %w", time.Since(begun).Round(time.Millisecond), what, ctx.Err())
		}
	}
}

// killRecorder is the scenario's faults; it notes which movie-v1 tasks
// existed when a task was killed.
type killRecorder struct {
	docker.TaskFaults
	log *eventLog

	mu     sync.Mutex
	before map[string]bool // task ARNs of movie-v1 seen before the kill
}

func (k *killRecorder) Kill(ctx context.Context, taskID string) error {
	before := map[string]bool{}
	for _, e := range k.log.snapshot() {
		if e.Source == contract.SourceECS && e.Type == contract.EventTaskState && e.Detail[contract.DetailService] == "movie-v1" {
			before[e.Resource] = true
		}
	}
	k.mu.Lock()
	k.before = before
	k.mu.Unlock()
	return k.TaskFaults.Kill(ctx, taskID)
}

// replacement reports whether evs show a movie-v1 task that did not exist
// when the task was killed becoming RUNNING.
func (k *killRecorder) replacement(evs []events.Event) bool {
	k.mu.Lock()
	before := k.before
	k.mu.Unlock()
	if before == nil {
		return false // nothing killed yet
	}
	for _, e := range evs {
		if e.Source == contract.SourceECS && e.Type == contract.EventTaskState && e.Detail[contract.DetailService] == "movie-v1" &&
			e.Detail[contract.DetailTo] == "RUNNING" && !before[e.Resource] {
			return true
		}
	}
	return false
}

// holdTeardown is the engine's progress: as the run is about to tear the
// world down, it waits for wait, keeping its error.
type holdTeardown struct {
	wait func() error
	once sync.Once
	err  error
}

func (h *holdTeardown) Update(s status.Status) {
	if s.Phase == status.PhaseTeardown {
		h.once.Do(func() { h.err = h.wait() })
	}
}
