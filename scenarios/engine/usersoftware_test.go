package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/examples/tinyapp/tinyapptest"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/reports/reportstest"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim"
)

// example loads a scenario of examples/tinyapp with its command pointed at
// bin.
func example(t *testing.T, name, bin string) *scenarios.Scenario {
	t.Helper()
	path := filepath.Join("..", "..", "examples", "tinyapp", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse(path, []byte(strings.ReplaceAll(string(data), "./bin/tinyapp", bin)))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// runWithTasks runs sc in a fresh in-process world that keeps its tasks'
// output in the run directory.
func runWithTasks(t *testing.T, sc *scenarios.Scenario) (string, *rundir.Run, *reports.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "run")
	world, err := sim.Start(ctx, sim.Options{TimeScale: sc.TimeScale, TaskLogDir: filepath.Join(dir, rundir.TasksDir)})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()
	if _, err := engine.Run(ctx, sc, engine.Options{Endpoint: world.Endpoint, Dir: dir, RunID: sc.Name, Runtime: "inproc"}); err != nil {
		t.Fatalf("run: %v", err)
	}
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, run, reports.Analyze(run)
}

// TestUserAppCanary rolls the user's own service out by canary: each task
// a local process, the split measured from what the ingress proxy reports
// (the application names no version) and judged within the binomial
// tolerance.
func TestUserAppCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	dir, run, rep := runWithTasks(t, example(t, "canary.yaml", tinyapptest.Build(t)))
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	perVersion := map[string]int{}
	for _, o := range run.Observations {
		if !o.IsRequest() || !o.OK() {
			continue
		}
		if o.Endpoint == "" || o.Chain != "" {
			t.Fatalf("observation %+v: want an endpoint from the proxy and no chain from the application", o)
		}
		perVersion[o.Version]++
	}
	if len(perVersion) != 2 || perVersion["v1"] == 0 || perVersion["v2"] == 0 {
		t.Errorf("requests per version %v, want v1 and v2 only", perVersion)
	}
	// Every task was a process that drained on SIGTERM: exit code 0.
	exits, _ := filepath.Glob(filepath.Join(dir, rundir.TasksDir, "*", "app.exit"))
	if len(exits) != 4 {
		t.Fatalf("%d app.exit files, want one per task (4): %v", len(exits), exits)
	}
	for _, f := range exits {
		var e struct {
			ExitCode int `json:"exitCode"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &e) != nil || e.ExitCode != 0 {
			t.Errorf("%s: %s (%v), want exit code 0", f, b, err)
		}
		stderr, _ := os.ReadFile(strings.TrimSuffix(f, ".exit") + ".stderr")
		if !strings.Contains(string(stderr), "drained") {
			t.Errorf("%s.stderr does not show the drain:\n%s", strings.TrimSuffix(f, ".exit"), stderr)
		}
	}
}

// TestUserAppSIGTERM rolls the user's service out by ECS rolling update
// twice: when the old version drains on SIGTERM no request fails; when it
// exits at once, requests fail, each put down to v1, the version that was
// stopping.
func TestUserAppSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	bin := tinyapptest.Build(t)
	for _, tt := range []struct {
		file      string
		wantDrops bool
	}{
		{"rolling.yaml", false},
		{"rolling-sigterm-exit.yaml", true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			_, run, rep := runWithTasks(t, example(t, tt.file, bin))
			if !rep.Passed() {
				t.Errorf("assertions failed: %+v", rep.Assertions)
			}
			failed := rep.Run.Totals.Failed
			if !tt.wantDrops {
				if failed != 0 {
					t.Errorf("draining on SIGTERM: %d of %d requests failed", failed, rep.Run.Totals.Requests)
				}
				return
			}
			if failed == 0 {
				t.Fatalf("exiting at once on SIGTERM: no request of %d failed", rep.Run.Totals.Requests)
			}
			for _, o := range run.Observations {
				if o.IsRequest() && !o.OK() && (o.Version != "v1" || o.Task == "") {
					t.Errorf("failure %+v: want it put down to a task of v1", o)
				}
			}
		})
	}
}

func TestCheckUserSoftware(t *testing.T) {
	const doc = `name: x
services:
  - name: web
    versions:
      - {name: v1, command: ["./app"]}
      - {name: v2, image: "myorg/web:2"}
ingress: {service: web}
load: {rate: 1}
rollout: {service: web, steps: [{weights: {v1: 100, v2: 0}, bake: 1s}]}
`
	sc, err := scenarios.Parse("x.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for rt, want := range map[string]string{
		"inproc": `x.yaml:6:9: service "web" version "v2" runs the image myorg/web:2: use --runtime docker`,
		"docker": `x.yaml:5:9: service "web" version "v1" runs a command, a local process: use the inproc runtime`,
	} {
		err := engine.CheckUserSoftware(sc, rt)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q", rt, err, want)
		}
	}
	// A command whose program is not there fails before the run starts.
	missing, err := scenarios.Parse(filepath.Join(t.TempDir(), "x.yaml"), []byte(strings.Replace(doc, `{name: v2, image: "myorg/web:2"}`, `{name: v2, command: ["./app"]}`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckUserSoftware(missing, "inproc"); err == nil || !strings.Contains(err.Error(), `command "./app"`) {
		t.Errorf("missing program: %v, want an error naming the command", err)
	}
}

// TestUserGRPCTraffic: gRPC load that names a method and a JSON request,
// encoded through the server's reflection service reached through the
// ingress, is called at the scenario's rate and split by the route.
func TestUserGRPCTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	const doc = `name: user-grpc
timeScale: 10
services:
  - name: echo
    protocol: grpc
    versions:
      - {name: v1, count: 1}
      - {name: v2, count: 1}
ingress: {service: echo}
load: {rate: 50, timeout: 2s, grpcMethod: meshsim.echo.v1.Echo/Echo, grpcRequest: {"name": "from-the-user"}}
rollout:
  service: echo
  steps:
    - {name: a, weights: {v1: 100, v2: 0}, bake: 2s}
    - {name: b, weights: {v1: 50, v2: 50}, bake: 2s}
assertions:
  - no-failed-requests
`
	sc, err := scenarios.Parse("user-grpc.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_, run, rep := runWithTasks(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	versions := map[string]int{}
	for _, o := range run.Observations {
		if o.Kind == rundir.KindGRPCUnary && o.OK() {
			versions[o.Version]++
		}
	}
	if versions["v1"] == 0 || versions["v2"] == 0 {
		t.Errorf("calls per version %v, want both versions called", versions)
	}
}

// appRequests counts, per "METHOD URI BODY-BYTES", the requests the tasks
// of a run in dir logged (tinyapp -log-requests), but for meshsim's own
// "GET /" that waits for the data plane to route before the load starts.
func appRequests(t *testing.T, dir string) map[string]int {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, rundir.TasksDir, "*", "app.stderr"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no app.stderr in %s (%v)", dir, err)
	}
	got := map[string]int{}
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, req, ok := strings.Cut(line, " request "); ok {
				got[req]++
			}
		}
	}
	delete(got, "GET / 0")
	return got
}

// TestUserTrafficTargetsFile rolls tinyapp out under the requests of a
// vegeta targets file (examples/tinyapp/traffic.yaml): each target reaches
// the application with its method, path and body, in equal shares, and
// the route splits them per version.
func TestUserTrafficTargetsFile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	bin := tinyapptest.Build(t)
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "tinyapp", "bodies", "booking.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The targets file's @body paths are relative to where meshsim runs.
	t.Chdir(filepath.Join("..", "..", "examples", "tinyapp"))
	data, err := os.ReadFile("traffic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse("traffic.yaml", []byte(strings.ReplaceAll(string(data), `"./bin/tinyapp"`, `"`+bin+`", "-log-requests"`)))
	if err != nil {
		t.Fatal(err)
	}
	dir, run, rep := runWithTasks(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	split := reportstest.CheckAttributedHalf(t, run, rep)

	got := appRequests(t, dir)
	want := []string{"GET /movies?page=1 0", "GET /movies/42 0", fmt.Sprintf("POST /bookings %d", len(body))}
	n := 0
	for _, k := range want {
		n += got[k]
	}
	if answered := rep.Run.Totals.Requests - rep.Run.Totals.Failed - rep.Run.Totals.Canceled; n < answered {
		t.Errorf("the app logged %d of the targets' requests, fewer than the %d answered: %v", n, answered, got)
	}
	if len(got) != len(want) {
		t.Errorf("the app got %v, want only %v", got, want)
	}
	for _, k := range want {
		if ok, dev, tol := reportstest.Within3Sigma(got[k], n, 1.0/3); !ok {
			t.Errorf("%q reached the app %d times of %d, %.1f from a third, over 3σ (%.1f)", k, got[k], n, dev, tol)
		}
	}
	t.Logf("per request %v; per version %v", got, split)
}

// TestUserTrafficWeightedRequests rolls tinyapp out under the scenario's
// weighted requests (load.requests): they reach the application with their
// methods, paths and bodies, in the weights' proportion (3:1) within the
// binomial tolerance, and the route splits them per version.
func TestUserTrafficWeightedRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	bin := tinyapptest.Build(t)
	doc := `name: weighted
timeScale: 10
services:
  - name: web
    port: 8080
    healthCheckPath: /health
    versions:
      - {name: v1, count: 1, command: ["` + bin + `", "-log-requests"], env: {APP_VERSION: v1}}
      - {name: v2, count: 1, command: ["` + bin + `", "-log-requests"], env: {APP_VERSION: v2}}
ingress: {service: web}
load:
  rate: 100
  timeout: 2s
  requests:
    - {path: "/movies?page=1", weight: 3}
    - {method: POST, path: /bookings, headers: {Content-Type: application/json}, body: '{"movie":"42"}'}
rollout:
  service: web
  steps:
    - {name: baseline, weights: {v1: 100, v2: 0}, bake: 2s}
    - {name: half, weights: {v1: 50, v2: 50}, bake: 3s}
assertions:
  - no-failed-requests
  - weight-binomial: 3
`
	sc, err := scenarios.Parse("weighted.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dir, run, rep := runWithTasks(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions failed: %+v", rep.Assertions)
	}
	split := reportstest.CheckAttributedHalf(t, run, rep)

	got := appRequests(t, dir)
	get, post := "GET /movies?page=1 0", fmt.Sprintf("POST /bookings %d", len(`{"movie":"42"}`))
	n := got[get] + got[post]
	if answered := rep.Run.Totals.Requests - rep.Run.Totals.Failed - rep.Run.Totals.Canceled; n < answered {
		t.Errorf("the app logged %d of the requests, fewer than the %d answered: %v", n, answered, got)
	}
	if len(got) != 2 {
		t.Errorf("the app got %v, want only %q and %q", got, get, post)
	}
	if ok, dev, tol := reportstest.Within3Sigma(got[get], n, 0.75); !ok {
		t.Errorf("%q reached the app %d times of %d, %.1f from 3/4, over 3σ (%.1f)", get, got[get], n, dev, tol)
	}
	t.Logf("per request %v; per version %v", got, split)
}
