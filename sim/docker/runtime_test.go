package docker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/docker"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// taskReports collects what the runtime reports about one task.
type taskReports chan ecs.TaskReport

func (r taskReports) report(tr ecs.TaskReport) { r <- tr }

// wait returns the first report that satisfies ok, failing the test when
// ctx ends first.
func (r taskReports) wait(ctx context.Context, t *testing.T, what string, ok func(ecs.TaskReport) bool) ecs.TaskReport {
	t.Helper()
	begun := time.Now()
	for {
		select {
		case tr := <-r:
			if ok(tr) {
				return tr
			}
		case <-ctx.Done():
			t.Fatalf("no report of %s in %s: %v", what, time.Since(begun).Round(time.Millisecond), ctx.Err())
		}
	}
}

// drain returns the reports received and not yet waited for.
func (r taskReports) drain() []ecs.TaskReport {
	var out []ecs.TaskReport
	for {
		select {
		case tr := <-r:
			out = append(out, tr)
		default:
			return out
		}
	}
}

func health(container string, h ecs.HealthStatus) func(ecs.TaskReport) bool {
	return func(tr ecs.TaskReport) bool { return tr.Container == container && tr.Health == h }
}

func exited(container string) func(ecs.TaskReport) bool {
	return func(tr ecs.TaskReport) bool { return tr.Container == container && tr.Exit != nil }
}

// appContainer is a sample service container with a fast health check.
func appContainer(env map[string]string) ecs.ContainerSpec {
	base := map[string]string{contract.EnvService: "web", contract.EnvVersion: "v1", contract.EnvPort: "8080"}
	for k, v := range env {
		if v == "" {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return ecs.ContainerSpec{
		Name: "app", Image: contract.SampleHTTPImage + ":latest", Essential: true, Env: base,
		Ports: []ecs.PortMapping{{ContainerPort: 8080, Protocol: "tcp"}},
		HealthCheck: &ecs.HealthCheck{
			Command:  []string{"CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"},
			Interval: 200 * time.Millisecond, Timeout: 300 * time.Millisecond, Retries: 2,
		},
	}
}

func taskSpec(id string, containers ...ecs.ContainerSpec) ecs.TaskSpec {
	return ecs.TaskSpec{
		TaskID: id, TaskARN: "arn:aws:ecs:us-east-1:000000000000:task/c/" + id,
		Cluster: "c", Service: "web-v1", Family: "web-v1", Revision: 1, Containers: containers,
	}
}

// TestRuntime runs tasks on the docker runtime directly: the ECS fake's
// side of the contract (Start, reports, Stop) and the faults.
func TestRuntime(t *testing.T) {
	cli := dockerEngine(t)
	img := image(t, cli)
	f := newRuntimeFixture(t, cli, testContext(t), docker.Options{Image: img, XDSAddress: "127.0.0.1:18000", Events: events.NewBus(0)}, 0)
	t.Run("serves in its own network namespace with its sidecar, labelled", f.servesWithSidecar)
	t.Run("a killed container is reported", f.killedReported)
	t.Run("a container that crashes says why", f.crashSaysWhy)
	t.Run("what outlives the stop timeout is killed", f.killedAfterStopTimeout)
	t.Run("an image the engine lacks is not pulled", f.imageNotPulled)
	// Left running: Close must remove it.
	t.Run("paused or cut off, a task fails its health checks", f.healthFaults)
}

// runtimeFixture is a docker runtime on a network of its own for one run,
// with the run's faults; the runtime and the network go at the test's end.
type runtimeFixture struct {
	cli     *testcontainers.DockerClient
	ctx     context.Context
	runID   string
	network string
	rt      *docker.Runtime
	faults  *docker.Faults
	seq     int // the last task id handed out
}

// newRuntimeFixture starts a runtime with opts on a new run's network;
// task ids count on from seq.
func newRuntimeFixture(t *testing.T, cli *testcontainers.DockerClient, ctx context.Context, opts docker.Options, seq int) *runtimeFixture {
	t.Helper()
	f := &runtimeFixture{cli: cli, ctx: ctx, runID: docker.NewRunID(), seq: seq}
	noLeftovers(t, cli, f.runID)
	network, err := docker.CreateNetwork(ctx, cli, f.runID)
	if err != nil {
		t.Fatal(err)
	}
	f.network = network
	t.Cleanup(func() {
		// Fails, and so leaves the network to noLeftovers, if the runtime
		// left a container on it.
		if _, err := cli.NetworkRemove(context.Background(), network, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("removing the network: %v", err)
		}
	})
	opts.RunID, opts.Network = f.runID, network
	f.rt, err = docker.New(cli, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	f.faults = docker.NewFaults(cli, f.runID, network)
	return f
}

// newTask returns a new task id.
func (f *runtimeFixture) newTask() string {
	f.seq++
	return fmt.Sprintf("%032x", f.seq)
}

// servesWithSidecar: serves in its own network namespace with its sidecar, labelled.
func (f *runtimeFixture) servesWithSidecar(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	sc := ecs.ContainerSpec{Name: "envoy", Image: contract.SidecarImage, Essential: true, Env: map[string]string{
		contract.EnvResourceARN: "arn:aws:appmesh:us-east-1:000000000000:mesh/m/virtualNode/web-v1",
	}}
	started, err := f.rt.Start(f.ctx, taskSpec(id, appContainer(nil), sc), r.report)
	if err != nil {
		t.Fatal(err)
	}
	r.wait(f.ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
	sidecarReady(t, started.IP)

	resp, err := http.Get("http://" + started.IP + ":8080/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(contract.HeaderTask) != id || resp.Header.Get(contract.HeaderVersion) != "v1" {
		t.Errorf("GET /: %s, task %q, version %q", resp.Status, resp.Header.Get(contract.HeaderTask), resp.Header.Get(contract.HeaderVersion))
	}

	list, err := f.cli.ContainerList(f.ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", docker.LabelRun+"="+f.runID).Add("label", docker.LabelTask+"="+id)})
	if err != nil {
		t.Fatal(err)
	}
	ids, modes := map[string]string{}, map[string]string{}
	for _, c := range list.Items {
		ids[c.Labels[docker.LabelContainer]] = c.ID
		modes[c.Labels[docker.LabelContainer]] = c.HostConfig.NetworkMode
		if c.Labels[docker.LabelRun] != f.runID || c.Labels[docker.LabelService] != "web-v1" || c.Labels[docker.LabelVersion] != "v1" {
			t.Errorf("container %v: labels %v", c.Names, c.Labels)
		}
		prefix := "/meshsim-" + f.runID + "-web-v1-" + id[:12] + "-"
		if len(c.Names) != 1 || !strings.HasPrefix(c.Names[0], prefix) {
			t.Errorf("container names %v, want %s<container>", c.Names, prefix)
		}
	}
	if len(ids) != 2 || modes["app"] != f.network || modes["envoy"] != "container:"+ids["app"] {
		t.Errorf("task containers %v with network modes %v; want app on %s and envoy in app's namespace", ids, modes, f.network)
	}
	tasks, err := f.faults.Tasks(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].ID != id || tasks[0].IP != started.IP || strings.Join(tasks[0].Containers, ",") != "app,envoy" {
		t.Errorf("Tasks: %+v", tasks)
	}

	if err := f.rt.Stop(f.ctx, id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Stop returns once the exits are reported.
	exits := map[string]int{}
	var reasons []string
	for _, tr := range r.drain() {
		if tr.Exit != nil {
			exits[tr.Container] = tr.Exit.Code
			reasons = append(reasons, tr.Container+": "+tr.Exit.Reason)
		}
	}
	if len(exits) != 2 || exits["app"] != 0 || exits["envoy"] != 0 {
		t.Errorf("exit codes after SIGTERM: %v (%s), want app and envoy 0", exits, strings.Join(reasons, "; "))
	}
	if left, _ := f.faults.Tasks(f.ctx); len(left) != 0 {
		t.Errorf("after Stop: %+v", left)
	}
}

// killedReported: a killed container is reported.
func (f *runtimeFixture) killedReported(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	if _, err := f.rt.Start(f.ctx, taskSpec(id, appContainer(nil)), r.report); err != nil {
		t.Fatal(err)
	}
	r.wait(f.ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
	if err := f.faults.Kill(f.ctx, id, "app"); err != nil {
		t.Fatal(err)
	}
	tr := r.wait(f.ctx, t, "app exit", exited("app"))
	if tr.Exit.Code != 137 {
		t.Errorf("exit %+v, want code 137", *tr.Exit)
	}
	if err := f.rt.Stop(f.ctx, id, time.Second); err != nil {
		t.Error(err)
	}
}

// crashSaysWhy: a container that crashes says why.
func (f *runtimeFixture) crashSaysWhy(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	if _, err := f.rt.Start(f.ctx, taskSpec(id, appContainer(map[string]string{contract.EnvService: ""})), r.report); err != nil {
		t.Fatal(err)
	}
	tr := r.wait(f.ctx, t, "app exit", exited("app"))
	if tr.Exit.Code == 0 || !strings.Contains(tr.Exit.Reason, "MESHSIM_SERVICE is not set") {
		t.Errorf("exit %+v, want a failing code and the sample service's complaint", *tr.Exit)
	}
	if err := f.rt.Stop(f.ctx, id, time.Second); err != nil {
		t.Error(err)
	}
}

// killedAfterStopTimeout: what outlives the stop timeout is killed.
func (f *runtimeFixture) killedAfterStopTimeout(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	if _, err := f.rt.Start(f.ctx, taskSpec(id, appContainer(map[string]string{contract.EnvDrain: "30s"})), r.report); err != nil {
		t.Fatal(err)
	}
	r.wait(f.ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
	begun := time.Now()
	if err := f.rt.Stop(f.ctx, id, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	tr := r.wait(f.ctx, t, "app exit", exited("app"))
	if tr.Exit.Code != 137 || tr.Exit.Reason != "killed after the stop timeout" {
		t.Errorf("exit %+v, want 137, killed after the stop timeout", *tr.Exit)
	}
	// Well under the 30 s drain it would otherwise take.
	if took := time.Since(begun); took > 25*time.Second {
		t.Errorf("Stop took %s with a grace of 500ms", took)
	}
}

// imageNotPulled: an image the engine lacks is not pulled.
func (f *runtimeFixture) imageNotPulled(t *testing.T) {
	id := f.newTask()
	c := appContainer(nil)
	c.Image = "registry.invalid/meshsim/nothing:1"
	_, err := f.rt.Start(f.ctx, taskSpec(id, c), nil)
	if err == nil || !strings.Contains(err.Error(), "CannotPullContainerError") {
		t.Fatalf("Start: %v, want CannotPullContainerError", err)
	}
}

// healthFaults: paused or cut off, a task fails its health checks.
func (f *runtimeFixture) healthFaults(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	started, err := f.rt.Start(f.ctx, taskSpec(id, appContainer(nil)), r.report)
	if err != nil {
		t.Fatal(err)
	}
	r.wait(f.ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
	steps := []struct {
		name  string
		fault func(context.Context, string) error
		want  ecs.HealthStatus
	}{
		{"pause", f.faults.Pause, ecs.HealthUnhealthy},
		{"unpause", f.faults.Unpause, ecs.HealthHealthy},
		{"disconnect", f.faults.Disconnect, ecs.HealthUnhealthy},
		{"reconnect", f.faults.Reconnect, ecs.HealthHealthy},
	}
	for _, st := range steps {
		if err := st.fault(f.ctx, id); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		r.wait(f.ctx, t, fmt.Sprintf("app %s after %s", st.want, st.name), health("app", st.want))
	}
	tasks, err := f.faults.Tasks(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].IP != started.IP {
		t.Errorf("after reconnecting: %+v, want the address %s back", tasks, started.IP)
	}
}

// sidecarReady waits until the task's sidecar serves its admin API: a
// process stopped before it has installed its SIGTERM handler dies as
// PID 1 does (Go then exits with code 2), on ECS as here.
func sidecarReady(t *testing.T, ip string) {
	t.Helper()
	polltest.Eventually(t, "the sidecar's admin API to answer", func() bool {
		resp, err := http.Get("http://" + net.JoinHostPort(ip, strconv.Itoa(contract.AdminPort)) + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
}
