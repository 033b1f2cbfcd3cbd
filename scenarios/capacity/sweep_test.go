package capacity

import (
	"context"
	"math"
	"testing"
	"time"

	capreport "github.com/meshsim/meshsim/reports/capacity"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim"
)

// kneeScenario has one service whose tasks serve 4 requests at once in a
// 20ms sleep each: a knee at 4 / 20ms = 200 req/s per task, far below what
// the machine can push even beside two CPU hogs.
const kneeScenario = `
name: knee
description: a service with a known knee
region: us-east-1
cluster: knee
mesh: knee
namespace: knee.local
timeScale: 20
services:
  - name: api
    port: 8080
    versions:
      - name: v1
        latency: 20ms
        concurrency: 4
ingress:
  name: ingress
  service: api
load:
  rate: 10
  timeout: 2s
  path: /
  measure: api
rollout:
  service: api
  steps:
    - {name: only, weights: {v1: 100}, bake: 1s}
`

// TestSweepFindsKnee sweeps the service at 1 and 2 tasks and checks that
// the knee is found within 20% of the truth (200 and 400 req/s), that the
// world was scaled through ECS and that the report sizes the service.
func TestSweepFindsKnee(t *testing.T) {
	if testing.Short() {
		t.Skip("a sweep of seconds")
	}
	sc, err := scenarios.Parse("knee.yaml", []byte(kneeScenario))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	world, err := sim.Start(ctx, sim.Options{TimeScale: sc.TimeScale})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()
	dir := t.TempDir()
	rec, err := Run(ctx, sc, Options{
		Endpoint: world.Endpoint, Runtime: "inproc", Dir: dir, Service: "api",
		Objective:    capreport.Objective{Quantile: 0.99, Latency: 200 * time.Millisecond, ErrorBudget: 0.001},
		TargetRate:   700,
		StepDuration: time.Second, StartRate: 50, MaxTasks: 2,
		Progress: func(line string) { t.Log(line) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped: %s", rec.Stopped)
	back, err := ReadSweep(dir)
	if err != nil || len(back.Points) != len(rec.Points) {
		t.Fatalf("the run directory's record: %v (%d points)", err, len(back.Points))
	}
	r := capreport.Analyze(*rec)
	if r.Instrument.Saturated > 0 && len(r.Counts) < 2 {
		// The machine, not the service, set the limit: nothing to judge
		// the knee of 2 tasks by (a crowded machine; see the log).
		t.Skipf("meshsim saturated before 2 tasks were measured: %s", rec.Stopped)
	}
	if len(r.Counts) != 2 {
		t.Fatalf("measured %d task counts, want 1 and 2 (stopped: %s)", len(r.Counts), rec.Stopped)
	}
	judged := 0
	for _, c := range r.Counts {
		if c.Saturated > 0 && !c.Knee.Found {
			t.Logf("%d tasks: meshsim saturated before the knee", c.Tasks)
			continue
		}
		judged++
		truth := 200 * float64(c.Tasks)
		if !c.Knee.Found || math.Abs(c.Knee.Throughput-truth)/truth > 0.2 {
			t.Errorf("%d tasks: knee %+v, want %.0f req/s ± 20%% (saturated points: %d)", c.Tasks, c.Knee, truth, c.Saturated)
		}
	}
	if judged == 0 {
		t.Skipf("meshsim saturated before the knee at every task count: %s", rec.Stopped)
	}
	// The slots are the knee times the service time measured at low load:
	// when other programs compete for the CPUs, the measured service time
	// carries their scheduling delays too, and the estimate says so in the
	// report instead of meeting the truth.
	switch busy := r.Instrument.Load1 > float64(r.Instrument.CPUs); {
	case busy:
		t.Logf("slots per task %.2f (truth 4): not judged, the host's load average reached %.1f on %d CPUs", r.SlotsPerTask, r.Instrument.Load1, r.Instrument.CPUs)
	case math.Abs(r.SlotsPerTask-4) > 0.8:
		t.Errorf("slots per task %.2f, want 4 ± 20%%", r.SlotsPerTask)
	}
	if r.Recommendation == nil || len(r.Recommendation.Rows) == 0 || r.Recommendation.Rows[0].Tasks < 4 {
		t.Errorf("recommendation for 700 req/s at ~200 req/s per task: %+v", r.Recommendation)
	}
	if err := capreport.WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
}
