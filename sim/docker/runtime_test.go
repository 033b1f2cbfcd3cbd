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
	runID := docker.NewRunID()
	noLeftovers(t, cli, runID)
	ctx := testContext(t)

	network, err := docker.CreateNetwork(ctx, cli, runID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Fails, and so leaves the network to noLeftovers, if the runtime
		// left a container on it.
		if _, err := cli.NetworkRemove(context.Background(), network, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("removing the network: %v", err)
		}
	})
	bus := events.NewBus(0)
	rt, err := docker.New(cli, docker.Options{RunID: runID, Network: network, Image: img, XDSAddress: "127.0.0.1:18000", Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	faults := docker.NewFaults(cli, runID, network)
	seq := 0
	newTask := func() string {
		seq++
		return fmt.Sprintf("%032x", seq)
	}

	t.Run("serves in its own network namespace with its sidecar, labelled", func(t *testing.T) {
		id := newTask()
		r := make(taskReports, 100)
		sc := ecs.ContainerSpec{Name: "envoy", Image: contract.SidecarImage, Essential: true, Env: map[string]string{
			contract.EnvResourceARN: "arn:aws:appmesh:us-east-1:000000000000:mesh/m/virtualNode/web-v1",
		}}
		started, err := rt.Start(ctx, taskSpec(id, appContainer(nil), sc), r.report)
		if err != nil {
			t.Fatal(err)
		}
		r.wait(ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
		sidecarReady(t, started.IP)

		resp, err := http.Get("http://" + started.IP + ":8080/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(contract.HeaderTask) != id || resp.Header.Get(contract.HeaderVersion) != "v1" {
			t.Errorf("GET /: %s, task %q, version %q", resp.Status, resp.Header.Get(contract.HeaderTask), resp.Header.Get(contract.HeaderVersion))
		}

		list, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", docker.LabelRun+"="+runID).Add("label", docker.LabelTask+"="+id)})
		if err != nil {
			t.Fatal(err)
		}
		ids, modes := map[string]string{}, map[string]string{}
		for _, c := range list.Items {
			ids[c.Labels[docker.LabelContainer]] = c.ID
			modes[c.Labels[docker.LabelContainer]] = c.HostConfig.NetworkMode
			if c.Labels[docker.LabelRun] != runID || c.Labels[docker.LabelService] != "web-v1" || c.Labels[docker.LabelVersion] != "v1" {
				t.Errorf("container %v: labels %v", c.Names, c.Labels)
			}
			prefix := "/meshsim-" + runID + "-web-v1-" + id[:12] + "-"
			if len(c.Names) != 1 || !strings.HasPrefix(c.Names[0], prefix) {
				t.Errorf("container names %v, want %s<container>", c.Names, prefix)
			}
		}
		if len(ids) != 2 || modes["app"] != network || modes["envoy"] != "container:"+ids["app"] {
			t.Errorf("task containers %v with network modes %v; want app on %s and envoy in app's namespace", ids, modes, network)
		}
		tasks, err := faults.Tasks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != 1 || tasks[0].ID != id || tasks[0].IP != started.IP || strings.Join(tasks[0].Containers, ",") != "app,envoy" {
			t.Errorf("Tasks: %+v", tasks)
		}

		if err := rt.Stop(ctx, id, 5*time.Second); err != nil {
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
		if left, _ := faults.Tasks(ctx); len(left) != 0 {
			t.Errorf("after Stop: %+v", left)
		}
	})

	t.Run("a killed container is reported", func(t *testing.T) {
		id := newTask()
		r := make(taskReports, 100)
		if _, err := rt.Start(ctx, taskSpec(id, appContainer(nil)), r.report); err != nil {
			t.Fatal(err)
		}
		r.wait(ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
		if err := faults.Kill(ctx, id, "app"); err != nil {
			t.Fatal(err)
		}
		tr := r.wait(ctx, t, "app exit", exited("app"))
		if tr.Exit.Code != 137 {
			t.Errorf("exit %+v, want code 137", *tr.Exit)
		}
		if err := rt.Stop(ctx, id, time.Second); err != nil {
			t.Error(err)
		}
	})

	t.Run("a container that crashes says why", func(t *testing.T) {
		id := newTask()
		r := make(taskReports, 100)
		if _, err := rt.Start(ctx, taskSpec(id, appContainer(map[string]string{contract.EnvService: ""})), r.report); err != nil {
			t.Fatal(err)
		}
		tr := r.wait(ctx, t, "app exit", exited("app"))
		if tr.Exit.Code == 0 || !strings.Contains(tr.Exit.Reason, "MESHSIM_SERVICE is not set") {
			t.Errorf("exit %+v, want a failing code and the sample service's complaint", *tr.Exit)
		}
		if err := rt.Stop(ctx, id, time.Second); err != nil {
			t.Error(err)
		}
	})

	t.Run("what outlives the stop timeout is killed", func(t *testing.T) {
		id := newTask()
		r := make(taskReports, 100)
		if _, err := rt.Start(ctx, taskSpec(id, appContainer(map[string]string{contract.EnvDrain: "30s"})), r.report); err != nil {
			t.Fatal(err)
		}
		r.wait(ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
		begun := time.Now()
		if err := rt.Stop(ctx, id, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		tr := r.wait(ctx, t, "app exit", exited("app"))
		if tr.Exit.Code != 137 || tr.Exit.Reason != "killed after the stop timeout" {
			t.Errorf("exit %+v, want 137, killed after the stop timeout", *tr.Exit)
		}
		// Well under the 30 s drain it would otherwise take.
		if took := time.Since(begun); took > 25*time.Second {
			t.Errorf("Stop took %s with a grace of 500ms", took)
		}
	})

	t.Run("an image the engine lacks is not pulled", func(t *testing.T) {
		id := newTask()
		c := appContainer(nil)
		c.Image = "registry.invalid/meshsim/nothing:1"
		_, err := rt.Start(ctx, taskSpec(id, c), nil)
		if err == nil || !strings.Contains(err.Error(), "CannotPullContainerError") {
			t.Fatalf("Start: %v, want CannotPullContainerError", err)
		}
	})

	// Left running: Close must remove it.
	t.Run("paused or cut off, a task fails its health checks", func(t *testing.T) {
		id := newTask()
		r := make(taskReports, 100)
		started, err := rt.Start(ctx, taskSpec(id, appContainer(nil)), r.report)
		if err != nil {
			t.Fatal(err)
		}
		r.wait(ctx, t, "app HEALTHY", health("app", ecs.HealthHealthy))
		steps := []struct {
			name  string
			fault func(context.Context, string) error
			want  ecs.HealthStatus
		}{
			{"pause", faults.Pause, ecs.HealthUnhealthy},
			{"unpause", faults.Unpause, ecs.HealthHealthy},
			{"disconnect", faults.Disconnect, ecs.HealthUnhealthy},
			{"reconnect", faults.Reconnect, ecs.HealthHealthy},
		}
		for _, st := range steps {
			if err := st.fault(ctx, id); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			r.wait(ctx, t, fmt.Sprintf("app %s after %s", st.want, st.name), health("app", st.want))
		}
		tasks, err := faults.Tasks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != 1 || tasks[0].IP != started.IP {
			t.Errorf("after reconnecting: %+v, want the address %s back", tasks, started.IP)
		}
	})
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
