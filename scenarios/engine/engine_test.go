package engine_test

import (
	"context"

	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/appmesh"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/reports/reportstest"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
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
	// A third of the scenario's rate, 4 s steps: at least 60 of the 400
	// requests planned per step must be judged after the proxies ACKed the
	// step's route, and a request may take 10 s (a host busy with other
	// work stalls some), so the test holds on such a machine: it judges
	// the split, not the host's latency.
	sc.Load.Rate, sc.Load.Timeout = 100, 10*time.Second
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 4 * time.Second
	}
	// Four standard errors: a sound test fails by chance about once in
	// 16,000 checks.
	sc.Asserts = []scenarios.Assertion{{Kind: "no-failed-requests"}, {Kind: "weight-binomial", Value: 4}}
	run, rep := runScenario(t, sc)

	// Every request succeeded and, per step, the share each version served
	// is within four binomial standard errors of its weight.
	reportstest.CheckCleanSplit(t, run, rep, 60, 4)
	if !rep.Passed() {
		t.Error("report assertions failed")
		for _, a := range rep.Assertions {
			t.Logf("assertion %+v", a)
		}
	}
	for _, e := range run.Events {
		if e.Source == contract.SourceXDS && e.Type == contract.EventXDSAck {
			return
		}
	}
	t.Error("no xds.ack event was recorded")
}

// TestCancelLeavesPartialRunAndTearsDown cuts a run short in its second
// step, as Ctrl-C does: the run directory is readable and marked partial,
// and the world was deleted through the AWS APIs.
func TestCancelLeavesPartialRunAndTearsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("bookingapp-canary")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Rate = 100
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	world, err := sim.Start(ctx, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()

	runCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	progress := progressFunc(func(s status.Status) {
		if s.Phase == "rollout" && s.Step == 1 && s.Requests > 20 {
			interrupt()
		}
	})
	dir := filepath.Join(t.TempDir(), "run")
	res, err := engine.Run(runCtx, sc, engine.Options{Endpoint: world.Endpoint, Dir: dir, RunID: "cut", Runtime: "inproc", Progress: progress})
	checkNoEngineGoroutines(t)
	if err == nil {
		t.Fatal("a cancelled run returned no error")
	}
	if !res.Partial {
		t.Error("result not marked partial")
	}
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatalf("reading the partial run: %v", err)
	}
	if !run.Meta.Partial || run.Meta.Reason == "" || run.Meta.Ended.IsZero() {
		t.Errorf("meta: partial %v reason %q ended %v", run.Meta.Partial, run.Meta.Reason, run.Meta.Ended)
	}
	if len(run.Observations) == 0 || run.Meta.Steps[1].Start.IsZero() || !run.Meta.Steps[2].Start.IsZero() {
		t.Errorf("%d observations; step 1 start %v, step 2 start %v", len(run.Observations), run.Meta.Steps[1].Start, run.Meta.Steps[2].Start)
	}
	rep := reports.Analyze(run)
	if !rep.Run.Partial {
		t.Error("report not marked partial")
	}

	// The world is gone: no ECS service, no mesh.
	clients := awsclient.New(world.Endpoint, sc.Region)
	svcs, err := clients.ECS.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String(sc.Cluster)})
	if err == nil && len(svcs.ServiceArns) > 0 {
		t.Errorf("ECS services left after teardown: %v", svcs.ServiceArns)
	}
	meshes, err := clients.AppMesh.ListMeshes(ctx, &appmesh.ListMeshesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(meshes.Meshes) > 0 {
		t.Errorf("meshes left after teardown: %d", len(meshes.Meshes))
	}
}
