package docker_test

import (
	"testing"

	"github.com/meshsim/meshsim/sim/docker"
	"github.com/meshsim/meshsim/sim/ecs"
)

// TestClean removes what a crashed run left: a task's containers and the
// run's network, found by the run's label.
func TestClean(t *testing.T) {
	cli := dockerEngine(t)
	img := image(t, cli)
	runID := docker.NewRunID()
	noLeftovers(t, cli, runID)
	ctx := testContext(t)
	network, err := docker.CreateNetwork(ctx, cli, runID)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := docker.New(cli, docker.Options{RunID: runID, Network: network, Image: img, XDSAddress: "127.0.0.1:18000"})
	if err != nil {
		t.Fatal(err)
	}
	exits := make(chan ecs.TaskReport, 10)
	if _, err := rt.Start(ctx, taskSpec("00000000000000000000000000000001", appContainer(nil)), func(r ecs.TaskReport) {
		if r.Exit != nil {
			exits <- r
		}
	}); err != nil {
		t.Fatal(err)
	}

	// The run "crashes": nothing is stopped.
	rm, err := docker.Clean(ctx, cli, runID)
	if err != nil {
		t.Fatal(err)
	}
	if rm.Containers != 1 || rm.Networks != 1 {
		t.Errorf("Clean removed %+v, want 1 container and 1 network", rm)
	}
	// The runtime notices its container is gone, and closes cleanly.
	select {
	case r := <-exits:
		if r.Exit.Code != 137 {
			t.Errorf("exit of a removed container: %+v", *r.Exit)
		}
	case <-ctx.Done():
		t.Error("the runtime did not report the removed container")
	}
	if err := rt.Close(); err != nil {
		t.Errorf("Close after Clean: %v", err)
	}
}
