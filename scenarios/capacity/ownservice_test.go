package capacity

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/examples/tinyapp/tinyapptest"
	capreport "github.com/meshsim/meshsim/reports/capacity"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim"
)

// TestSweepOwnService sweeps a user's own service (tinyapp, a local
// process per task that sets no meshsim header) up to a rate cap, and
// checks that the requests reached it (its 40ms latency shows) and that
// the deployment configuration comes from the scenario's deployment.
func TestSweepOwnService(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tinyapp and sweeps for seconds")
	}
	bin := tinyapptest.Build(t)
	src := `
name: own
description: tinyapp sized
timeScale: 20
services:
  - name: web
    port: 8080
    healthCheckPath: /health
    versions:
      - {name: v1, count: 1, command: ["` + bin + `", "-latency", "40ms"]}
      - {name: v2, count: 1, command: ["` + bin + `", "-latency", "40ms"]}
ingress: {service: web}
load: {rate: 50, timeout: 2s}
rollout:
  service: web
  deployments:
    - {to: v2, minimumHealthyPercent: 50, maximumPercent: 150}
`
	file := filepath.Join(t.TempDir(), "own.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	world, err := sim.Start(ctx, sim.Options{TimeScale: sc.TimeScale, TaskLogDir: filepath.Join(dir, "tasks")})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()
	rec, err := Run(ctx, sc, Options{
		Endpoint: world.Endpoint, Runtime: "inproc", Dir: dir, Service: "web",
		Objective:    capreport.Objective{Quantile: 0.99, Latency: 300 * time.Millisecond, ErrorBudget: 0.01},
		StepDuration: time.Second, StartRate: 40, MaxRate: 100, MaxTasks: 1,
		Progress: func(line string) { t.Log(line) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Cost != "" || rec.MinimumHealthyPercent != 50 || rec.MaximumPercent != 150 {
		t.Errorf("cost %q, deployment %d/%d; want no sample cost and the scenario's 50/150", rec.Cost, rec.MinimumHealthyPercent, rec.MaximumPercent)
	}
	if !strings.Contains(rec.Stopped, "max-rate") && !strings.Contains(rec.Stopped, "saturated") {
		t.Errorf("stopped %q, want at --max-rate", rec.Stopped)
	}
	measured := 0
	for _, p := range rec.Points {
		if p.Saturated != "" {
			continue
		}
		measured++
		if p.Broken != "" || p.Latency.P50 < 40*time.Millisecond {
			t.Errorf("point %.0f req/s: broken %q, p50 %v; want met, p50 ≥ tinyapp's 40ms", p.Offered, p.Broken, p.Latency.P50)
		}
	}
	if measured == 0 {
		t.Skipf("meshsim saturated at every point: %s", rec.Stopped)
	}
	if err := capreport.WriteFiles(dir, capreport.Analyze(*rec)); err != nil {
		t.Fatal(err)
	}
}
