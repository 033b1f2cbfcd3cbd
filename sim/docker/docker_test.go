package docker_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshsim/meshsim/sim/docker"
)

// cleanupMargin is how long before go test's deadline (-timeout) the
// tests stop waiting: they fail, and their cleanups remove what they
// started, before go test kills the binary.
const cleanupMargin = 90 * time.Second

func TestMain(m *testing.M) {
	// Ryuk would be pulled from Docker Hub; docker.Connect sets this too,
	// but before anything else is safest.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	flag.Parse()
	// Last resort, should a test hang past its context: remove every run
	// of this binary before go test's timeout kills it.
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, ok := f.Value.(flag.Getter).Get().(time.Duration); ok && d > 0 {
			time.AfterFunc(d-cleanupMargin/3, cleanAllRuns)
		}
	}
	os.Exit(m.Run())
}

var (
	engineOnce sync.Once
	engineCli  *testcontainers.DockerClient
	engineErr  error

	imageOnce sync.Once
	imageTag  string
	imageErr  error

	// runs holds the ids of the runs this binary started.
	runsMu sync.Mutex
	runs   = map[string]bool{}
)

// cleanAllRuns removes what every run of this binary left.
func cleanAllRuns() {
	runsMu.Lock()
	ids := slices.Collect(maps.Keys(runs))
	runsMu.Unlock()
	if engineCli == nil || len(ids) == 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "go test's timeout is near: removing runs %v\n", ids)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupMargin/4)
	defer cancel()
	for _, id := range ids {
		docker.Clean(ctx, engineCli, id)
	}
}

// testContext returns the test's context, ended cleanupMargin before go
// test's deadline.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-cleanupMargin))
		t.Cleanup(cancel)
	}
	return ctx
}

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
// test binary (and reused across runs while the source is unchanged), in
// the time the first test that needs it has.
func image(t *testing.T, cli *testcontainers.DockerClient) string {
	t.Helper()
	imageOnce.Do(func() {
		ctx := testContext(t)
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
	runsMu.Lock()
	runs[runID] = true
	runsMu.Unlock()
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
		defer func() {
			runsMu.Lock()
			delete(runs, runID)
			runsMu.Unlock()
		}()
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
