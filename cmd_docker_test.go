package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/meshsim/meshsim/sim/docker"
)

// TestRunDocker runs "meshsim run --runtime docker" end to end and checks
// that the run leaves nothing behind; then "meshsim clean" removes what a
// crashed run left.
func TestRunDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Docker engine; skipped with -short")
	}
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	cli, err := docker.Connect(context.Background())
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	defer cli.Close()
	// This test binary is not meshsim: give the image a meshsim built from
	// this source.
	v, err := cli.ServerVersion(context.Background(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := docker.BuildBinary(context.Background(), ".", v.Arch)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	t.Setenv(envImageBinary, bin)

	t.Run("run", func(t *testing.T) {
		out, stderr, code := execute(t, "run", "bookingapp-canary", "--runtime", "docker", "--bake", "1s", "--rate", "100",
			"--quiet", "--envoy-image", "registry.invalid/envoy:absent", "--out", filepath.Join(t.TempDir(), "run"))
		// With a one-second bake the weights are judged on too few
		// requests: the run must complete and no request fail.
		if (code != exitOK && code != exitFailed) || strings.Contains(stderr, "did not complete") || !strings.Contains(out, "PASS  no-failed-requests") {
			t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
		}
		if !strings.Contains(stderr, "registry.invalid/envoy:absent is not in the local Docker engine") {
			t.Errorf("no word of the absent Envoy image in stderr:\n%s", stderr)
		}
		m := regexp.MustCompile(`docker run ([0-9a-f]{8})`).FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("no run id in stderr:\n%s", stderr)
		}
		filter := make(client.Filters).Add("label", docker.LabelRun+"="+m[1])
		cs, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: filter})
		if err != nil {
			t.Fatal(err)
		}
		ns, err := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: filter})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Items)+len(ns.Items) > 0 {
			t.Errorf("run %s left %d containers and %d networks", m[1], len(cs.Items), len(ns.Items))
			docker.Clean(context.Background(), cli, m[1])
		}
	})

	t.Run("clean", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		runID := docker.NewRunID()
		if _, err := docker.CreateNetwork(ctx, cli, runID); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := execute(t, "clean", "--run", runID)
		if code != exitOK || !strings.Contains(out, "removed 0 containers, 1 networks, 0 images") {
			t.Errorf("clean: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		if _, err := cli.NetworkInspect(ctx, docker.NetworkName(runID), client.NetworkInspectOptions{}); err == nil {
			t.Errorf("network %s is still there", docker.NetworkName(runID))
		}
	})

	t.Run("unknown runtime", func(t *testing.T) {
		_, stderr, code := execute(t, "run", "bookingapp-canary", "--runtime", "kubernetes")
		if code != exitBadInput || !strings.Contains(stderr, "want inproc or docker") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}
