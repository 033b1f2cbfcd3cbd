package docker_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshsim/meshsim/sim/docker"
)

func TestMain(m *testing.M) {
	// Ryuk would be pulled from Docker Hub; docker.Connect sets this too,
	// but before anything else is safest.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Exit(m.Run())
}

var (
	engineOnce sync.Once
	engineCli  *testcontainers.DockerClient
	engineErr  error

	imageOnce sync.Once
	imageTag  string
	imageErr  error
)

// dockerEngine returns a client of the Docker engine, or skips the test when
// none answers.
func dockerEngine(t *testing.T) *testcontainers.DockerClient {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker engine; skipped with -short")
	}
	engineOnce.Do(func() { engineCli, engineErr = docker.Connect(context.Background()) })
	if engineErr != nil {
		t.Skipf("skipping: %v", engineErr)
	}
	return engineCli
}

// image returns meshsim's image built from this module's source, once per
// test binary (and reused across runs while the source is unchanged).
func image(t *testing.T, cli *testcontainers.DockerClient) string {
	t.Helper()
	imageOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			imageErr = err
			return
		}
		v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
		if err != nil {
			imageErr = err
			return
		}
		bin, err := docker.BuildBinary(ctx, filepath.Dir(strings.TrimSpace(string(gomod))), v.Arch)
		if err != nil {
			imageErr = err
			return
		}
		defer os.RemoveAll(filepath.Dir(bin))
		imageTag, _, imageErr = docker.EnsureImage(ctx, cli, bin, io.Discard)
	})
	if imageErr != nil {
		t.Fatalf("building meshsim's image: %v", imageErr)
	}
	return imageTag
}

// noLeftovers makes the test fail if a container or network of the run
// is left once the test and its other cleanups are done (it then removes
// them, so that one failure does not leak into the next run). Call it
// first, so that its cleanup runs last.
func noLeftovers(t *testing.T, cli *testcontainers.DockerClient, runID string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		filter := make(client.Filters).Add("label", docker.LabelRun+"="+runID)
		cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
		if err != nil {
			t.Errorf("listing containers: %v", err)
			return
		}
		ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
		if err != nil {
			t.Errorf("listing networks: %v", err)
			return
		}
		if len(cs.Items) > 0 || len(ns.Items) > 0 {
			var names []string
			for _, c := range cs.Items {
				names = append(names, strings.Join(c.Names, ","))
			}
			for _, n := range ns.Items {
				names = append(names, n.Name)
			}
			t.Errorf("left behind by run %s: %s", runID, strings.Join(names, " "))
			if _, err := docker.Clean(ctx, cli, runID); err != nil {
				t.Errorf("cleaning up: %v", err)
			}
		}
	})
}
