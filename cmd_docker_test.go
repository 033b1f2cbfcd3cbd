package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/reports/reportstest"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/docker"
	"github.com/meshsim/meshsim/sim/poll"
)

// dockerCleanupMargin is how long before go test's deadline the docker
// tests stop waiting (interrupting the meshsim they run), so that
// everything is removed before go test kills the binary.
const dockerCleanupMargin = 90 * time.Second

// dockerContext returns the test's context, ended dockerCleanupMargin
// before go test's deadline.
func dockerContext(t *testing.T) context.Context {
	t.Helper()
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-dockerCleanupMargin))
		t.Cleanup(cancel)
	}
	return ctx
}

// runIDPattern finds the run id in what "meshsim run --runtime docker"
// writes to stderr.
var runIDPattern = regexp.MustCompile(`docker run ([0-9a-f]{8})`)

// meshsimProcess is "meshsim run --runtime docker" as a process of its own.
type meshsimProcess struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr bytes.Buffer
	runID  chan string // receives the run id once stderr names it
	done   chan struct{}
}

// startMeshsim runs the static meshsim binary bin with args. When ctx ends
// it gets SIGINT (it then removes its run), and SIGKILL a minute later.
// What its run leaves is removed when the test ends.
func startMeshsim(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient, bin string, args ...string) *meshsimProcess {
	t.Helper()
	p := &meshsimProcess{runID: make(chan string, 1), done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(os.Interrupt) }
	p.cmd.WaitDelay = time.Minute
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var runID string
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := runIDPattern.FindStringSubmatch(sc.Text()); m != nil && runID == "" {
				runID = m[1]
				p.runID <- runID
			}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		p.cmd.Wait()
		if runID == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		docker.Clean(ctx, cli, runID)
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *meshsimProcess) wait() int {
	<-p.done
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func (p *meshsimProcess) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// runContainers lists the run's containers, the running ones only unless
// all.
func runContainers(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient, runID string, all bool) []string {
	t.Helper()
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: all, Filters: make(client.Filters).Add("label", docker.LabelRun+"="+runID)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs.Items {
		names = append(names, strings.Join(c.Names, ",")+" ("+string(c.State)+")")
	}
	return names
}

// TestRunDocker runs "meshsim run --runtime docker" end to end, as a
// process of its own: a run leaves nothing behind; a run killed with
// SIGKILL leaves nothing running once the heartbeat has timed out; then
// "meshsim clean" removes what a crashed run left.
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
	ctx := dockerContext(t)
	// A static meshsim built from this source: the process the tests run,
	// and what its image holds.
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := docker.BuildBinary(ctx, ".", v.Arch)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))

	t.Run("run", func(t *testing.T) { testDockerRun(ctx, t, cli, bin) })

	t.Run("a user's image by canary", func(t *testing.T) { testDockerUserImage(ctx, t, cli, bin, v.Arch) })

	t.Run("an App Mesh virtual gateway as the ingress", func(t *testing.T) { testDockerGateway(ctx, t, cli, bin) })

	t.Run("SIGKILL leaves nothing running", func(t *testing.T) { testDockerSIGKILL(ctx, t, cli, bin) })

	t.Run("a missing image fails the run up front", func(t *testing.T) {
		src, err := os.ReadFile("scenarios/builtin/bookingapp-canary.yaml")
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "own.yaml")
		own := strings.Replace(string(src), "      - name: v2\n        count: 2\n", "      - name: v2\n        count: 2\n        image: myorg/absent:1.3\n", 1)
		if err := os.WriteFile(file, []byte(own), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := execute(t, "run", file, "--runtime", "docker", "--quiet", "--out", filepath.Join(t.TempDir(), "run"))
		if code != exitErrored || !strings.Contains(stderr, file+":") || !strings.Contains(stderr, "image myorg/absent:1.3 is not in the local Docker engine") {
			t.Errorf("exit %d, stderr %q; want the image and its place in the scenario", code, stderr)
		}
	})

	t.Run("clean", func(t *testing.T) {
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

// testDockerRun runs the meshsim binary bin with the docker runtime: the run
// completes, says the Envoy image is absent, and leaves nothing behind.
func testDockerRun(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient, bin string) {
	p := startMeshsim(ctx, t, cli, bin, "run", "bookingapp-canary", "--runtime", "docker", "--bake", "1s", "--rate", "100",
		"--quiet", "--envoy-image", "registry.invalid/envoy:absent", "--out", filepath.Join(t.TempDir(), "run"))
	code := p.wait()
	out, stderr := p.stdout.String(), p.errText()
	// With a one-second bake the weights are judged on too few
	// requests: the run must complete and no request fail.
	// On a starved machine the run may be inconclusive, never failed
	// for want of CPU.
	if (code != exitOK && code != exitFailed && code != exitInconclusive) || strings.Contains(stderr, "did not complete") ||
		(code != exitInconclusive && !strings.Contains(out, "PASS  no-failed-requests")) {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if code == exitInconclusive && !strings.Contains(out, "the instrument saturated") {
		t.Fatalf("inconclusive, but not for the instrument's saturation:\n%s", out)
	}
	if code == exitInconclusive {
		t.Logf("inconclusive on this machine:\n%s", out)
	}
	if !strings.Contains(stderr, "registry.invalid/envoy:absent is not in the local Docker engine") {
		t.Errorf("no word of the absent Envoy image in stderr:\n%s", stderr)
	}
	m := runIDPattern.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no run id in stderr:\n%s", stderr)
	}
	if left := runContainers(ctx, t, cli, m[1], true); len(left) > 0 {
		t.Errorf("run %s left %v", m[1], left)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", docker.LabelRun+"="+m[1])})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Items) > 0 {
		t.Errorf("run %s left %d networks", m[1], len(ns.Items))
	}
}

// testDockerSIGKILL kills the meshsim binary bin once its tasks run: the
// fakes exit, saying why, nothing keeps running, and meshsim clean removes
// what is left.
func testDockerSIGKILL(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient, bin string) {
	p := startMeshsim(ctx, t, cli, bin, "run", "bookingapp-canary", "--runtime", "docker", "--bake", "2m", "--rate", "20",
		"--quiet", "--out", filepath.Join(t.TempDir(), "run"))
	var runID string
	select {
	case runID = <-p.runID:
	case <-p.done:
		t.Fatalf("meshsim exited before naming its run:\n%s", p.errText())
	case <-ctx.Done():
		t.Fatalf("no run id: %v\n%s", ctx.Err(), p.errText())
	}
	// Kill it once its tasks run: the engine's events say when.
	started := cli.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
		Add("label", docker.LabelRun+"="+runID).Add("label", docker.LabelRole+"=task").Add("type", "container").Add("event", "start")})
	select {
	case <-started.Messages:
	case err := <-started.Err:
		t.Fatalf("waiting for a task container: %v\n%s", err, p.errText())
	case <-p.done:
		t.Fatalf("meshsim exited before starting a task:\n%s", p.errText())
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait()
	killed := time.Now()

	// The fakes lose the control channel (its connection closes at
	// once; failing that, no beat comes for HeartbeatTimeout) and
	// exit, and the kernel ends every task process with them.
	wctx, cancel := context.WithTimeout(ctx, docker.HeartbeatTimeout+30*time.Second)
	defer cancel()
	var running []string
	if err := poll.Until(wctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		running = runContainers(ctx, t, cli, runID, false)
		return len(running) == 0, nil
	}); err != nil {
		t.Fatalf("%s after SIGKILL, still running: %v (%v)", time.Since(killed).Round(time.Millisecond), running, err)
	}
	t.Logf("nothing of run %s running %s after SIGKILL (heartbeat timeout %s)", runID, time.Since(killed).Round(time.Millisecond), docker.HeartbeatTimeout)
	fakes, err := cli.ContainerLogs(ctx, "meshsim-"+runID+"-fakes", client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(fakes)
	fakes.Close()
	if !bytes.Contains(logs, []byte("meshsim process that started run "+runID+" is gone")) {
		t.Errorf("the fakes' logs do not say why they stopped:\n%s", logs)
	}

	// What is left is stopped; meshsim clean removes it.
	out, stderr, code := execute(t, "clean", "--run", runID)
	if code != exitOK || !strings.Contains(out, "1 networks") {
		t.Errorf("clean: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if left := runContainers(ctx, t, cli, runID, true); len(left) > 0 {
		t.Errorf("after clean: %v", left)
	}
}

// TestTaskLimitFlags: bad task container limits are refused before
// anything starts, naming the flag.
func TestTaskLimitFlags(t *testing.T) {
	for _, args := range [][]string{{"--task-memory", "lots"}, {"--task-memory", "1MiB"}, {"--task-pids", "0"}} {
		_, stderr, code := execute(t, append([]string{"run", "bookingapp-canary", "--runtime", "docker", "--quiet", "--out", filepath.Join(t.TempDir(), "run")}, args...)...)
		if code == exitOK || !strings.Contains(stderr, args[0]) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming %s", args, code, stderr, args[0])
		}
	}
}

// tinyappImage builds examples/tinyapp (static, for the engine's
// architecture arch) into an image FROM scratch, tagged by its content,
// and removes it when the test ends.
func tinyappImage(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient, arch string) string {
	t.Helper()
	bin, err := docker.BuildBinary(ctx, filepath.Join("examples", "tinyapp"), arch)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	app, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := docker.BuildAppImage(ctx, cli, "meshsim-test/tinyapp", app)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true})
	})
	if err != nil {
		t.Fatalf("building the tinyapp image: %v", err)
	}
	return tag
}

// tinyappDockerScenario rolls two versions of the image tag out by canary,
// 100/0 then 50/50; tinyapp sets no meshsim header.
const tinyappDockerScenario = `name: tinyapp-docker
timeScale: 10
services:
  - name: web
    port: 8080
    healthCheckPath: /health
    versions:
      - {name: v1, count: 1, image: "%[1]s", env: {APP_VERSION: v1}}
      - {name: v2, count: 1, image: "%[1]s", env: {APP_VERSION: v2}}
ingress: {service: web}
load: {rate: 100, timeout: 2s}
rollout:
  service: web
  steps:
    - {name: baseline, weights: {v1: 100, v2: 0}, bake: 2s}
    - {name: half, weights: {v1: 50, v2: 50}, bake: 4s}
assertions:
  - no-failed-requests
  - weight-binomial: 3
`

// testDockerUserImage runs the meshsim binary bin with the docker runtime
// on a user's image, tinyapp FROM scratch: the data plane attributes each
// request to its version (the app names none), the split holds within
// the binomial tolerance, no request fails, nothing is left behind.
func testDockerUserImage(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient, bin, arch string) {
	bctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	tag := tinyappImage(bctx, t, cli, arch)
	file := filepath.Join(t.TempDir(), "tinyapp-docker.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(tinyappDockerScenario, tag)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	p := startMeshsim(ctx, t, cli, bin, "run", file, "--runtime", "docker", "--quiet", "--out", dir)
	code := p.wait()
	out, stderr := p.stdout.String(), p.errText()
	saturated := code == exitInconclusive && strings.Contains(out, "the instrument saturated")
	switch {
	case saturated:
		t.Logf("inconclusive on this machine:\n%s", out)
	case code != exitOK:
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	case !strings.Contains(out, "PASS  no-failed-requests") || !strings.Contains(out, "PASS  weight-binomial"):
		t.Errorf("report:\n%s", out)
	}
	m := runIDPattern.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no run id in stderr:\n%s", stderr)
	}
	if left := runContainers(ctx, t, cli, m[1], true); len(left) > 0 {
		t.Errorf("run %s left %v", m[1], left)
	}
	if saturated {
		// The measurement does not hold: the report says so.
		return
	}

	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range run.Observations {
		if o.IsRequest() && !o.OK() {
			t.Errorf("request %d failed: status %d %s (%s)", o.Seq, o.Status, o.Error, o.ErrorKind)
		}
	}
	steps := reportstest.CheckAttributedHalf(t, run, reports.Analyze(run))
	t.Logf("baseline %v, half %v", steps[0], steps[1])
}

// testDockerGateway runs appmesh-gateway-canary on the docker runtime: the
// ingress is an App Mesh virtual gateway, the embedded sidecar in its own
// container identified as mesh/<mesh>/virtualGateway/<name>, whose port
// takes the load; no request fails, the gateway's proxy ACKed its
// configuration, and nothing is left running.
func testDockerGateway(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient, bin string) {
	dir := filepath.Join(t.TempDir(), "run")
	p := startMeshsim(ctx, t, cli, bin, "run", "appmesh-gateway-canary", "--runtime", "docker", "--bake", "2s", "--rate", "100", "--quiet", "--out", dir)
	code := p.wait()
	out, stderr := p.stdout.String(), p.errText()
	// Two-second steps judge the weights on too few requests: the run must
	// complete and no request fail (an inconclusive run only for the
	// instrument's saturation).
	if (code != exitOK && code != exitFailed && code != exitInconclusive) || strings.Contains(stderr, "did not complete") ||
		(code != exitInconclusive && !strings.Contains(out, "PASS  no-failed-requests")) {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if code == exitInconclusive && !strings.Contains(out, "the instrument saturated") {
		t.Fatalf("inconclusive, but not for the instrument's saturation:\n%s", out)
	}
	m := runIDPattern.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no run id in stderr:\n%s", stderr)
	}
	if left := runContainers(ctx, t, cli, m[1], true); len(left) > 0 {
		t.Errorf("run %s left %v", m[1], left)
	}
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range run.Events {
		if e.Type == contract.EventXDSAck && e.Resource == contract.GatewayNodeID("gateway", "gateway") {
			return
		}
	}
	t.Error("no xds.ack from the gateway's proxy (mesh/gateway/virtualGateway/gateway)")
}
