package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim/contract"
)

const stopTask = `name: stop-task
timeScale: 10
services:
  - name: home
    backends: [movie]
    versions: [{name: v1}]
  - name: movie
    versions:
      - {name: v1, count: 2, drain: 500ms}
      - {name: v2, count: 2}
ingress: {service: home}
load: {rate: 100}
rollout:
  service: movie
  steps:
    - {name: base, weights: {v1: 100}, bake: 2s}
    - {name: half, weights: {v1: 50, v2: 50}, bake: 3s}
faults:
  - {action: stop-task, service: movie, version: v1, step: half, after: 500ms}
assertions:
  - no-failed-requests
`

// TestFaultStopTask schedules an ECS StopTask in a step: the task is
// stopped through the API (it drains), ECS replaces it, and the report
// lists the fault in its step.
func TestFaultStopTask(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Parse("stop-task.yaml", []byte(stopTask))
	if err != nil {
		t.Fatal(err)
	}
	run, rep := runScenario(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions: %+v", rep.Assertions)
	}
	if len(rep.Faults) != 1 {
		t.Fatalf("faults %+v", rep.Faults)
	}
	f := rep.Faults[0]
	if f.Action != "stop-task" || f.Step != 1 || f.Task == "" || f.Error != "" {
		t.Errorf("fault %+v", f)
	}
	// ECS stopped that task (through StopTask, so it drained) and started
	// another for movie-v1.
	var stopAt time.Time
	var stopped, started bool
	for _, e := range run.Events {
		if e.Source != contract.SourceECS || e.Type != contract.EventTaskState || e.Detail[contract.DetailService] != "movie-v1" {
			continue
		}
		switch {
		case strings.HasSuffix(e.Resource, f.Task) && e.Detail[contract.DetailFrom] == "RUNNING":
			stopAt = e.Time
		case strings.HasSuffix(e.Resource, f.Task) && e.Detail[contract.DetailTo] == "STOPPED":
			stopped = e.Detail[contract.DetailStoppedReason] == "meshsim fault: stop-task"
		case e.Detail[contract.DetailTo] == "PROVISIONING" && !stopAt.IsZero() && !e.Time.Before(stopAt):
			started = true
		}
	}
	if !stopped || !started {
		t.Errorf("after the fault: task stopped by it %v, replacement started %v", stopped, started)
	}
}

func TestFaultsNeedARuntime(t *testing.T) {
	sc, err := scenarios.Parse("kill.yaml", []byte(strings.Replace(stopTask, "action: stop-task", "action: kill", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckFaults(sc, nil); err == nil || !strings.Contains(err.Error(), "kill.yaml:19:5: fault \"kill\" needs a runtime") {
		t.Errorf("kill without a runtime: %v", err)
	}
}

const sidecarDelay = `name: sidecar-delay
timeScale: 10
services:
  - name: home
    backends: [movie]
    versions: [{name: v1}]
  - name: movie
    versions: [{name: v1}]
ingress: {service: home}
load: {rate: 50}
rollout:
  service: movie
  steps:
    - {name: base, weights: {v1: 100}, bake: 2s}
    - {name: slow, weights: {v1: 100}, bake: 2s}
    - {name: healed, weights: {v1: 100}, bake: 2s}
faults:
  - {action: delay, service: home, step: slow, delay: 300ms}
  - {action: heal, service: home, step: healed}
assertions:
  - no-failed-requests
`

// TestFaultSidecarDelay has home's sidecar delay its requests (home's calls
// to movie) in one step, through the sidecar's admin API at the task's
// address ECS reports, and heal in the next: only the delayed step's
// median latency is above the delay.
func TestFaultSidecarDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Parse("sidecar-delay.yaml", []byte(sidecarDelay))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckFaults(sc, nil); err != nil {
		t.Fatalf("sidecar faults need no runtime faults: %v", err)
	}
	_, rep := runScenario(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions: %+v", rep.Assertions)
	}
	if len(rep.Faults) != 2 {
		t.Fatalf("faults %+v", rep.Faults)
	}
	for i, want := range []string{"delay", "heal"} {
		if f := rep.Faults[i]; f.Action != want || f.Step != i+1 || f.Task == "" || f.Error != "" {
			t.Errorf("fault %d: %+v, want %s in step %d", i, f, want, i+1)
		}
	}
	const delay = 300 * time.Millisecond
	p50 := make([]time.Duration, len(rep.Steps))
	for i, s := range rep.Steps {
		p50[i] = s.Latency.P50
	}
	t.Logf("p50 per step: %v", p50)
	if len(p50) != 3 || p50[0] >= delay || p50[1] < delay || p50[2] >= delay {
		t.Errorf("p50 per step %v: want above %s in the delayed step only", p50, delay)
	}
}
