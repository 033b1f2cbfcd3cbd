package docker_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/docker"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
)

// userApp is a user's service, not meshsim's: a tiny HTTP server that sets
// no meshsim header. It says who it runs as and what its environment
// says; with -check URL it is its own health check (a FROM scratch image
// has no curl and no shell).
const userApp = `package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	say := flag.String("say", "", "what to answer")
	check := flag.String("check", "", "GET this URL: exit 0 on 200, else 1")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	flag.Parse()
	if *check != "" {
		resp, err := http.Get(*check)
		if err != nil || resp.StatusCode != 200 {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if *ignoreTerm {
		ctx = context.Background()
	}
	wd, _ := os.Getwd()
	srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s uid=%d wd=%s", *say, os.Getenv("GREETING"), os.Getuid(), wd)
	})}
	go srv.ListenAndServe()
	<-ctx.Done()
	srv.Shutdown(context.Background())
}
`

// userImage builds userApp (CGO_ENABLED=0) into an image FROM scratch,
// tagged by its content, and removes it when the test ends.
func userImage(ctx context.Context, t *testing.T, cli *testcontainers.DockerClient) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"main.go": userApp,
		"go.mod":  "module userapp\n\ngo 1.22\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+v.Arch, "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the user's app: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	tag, err := docker.BuildAppImage(ctx, cli, "meshsim-test/userapp", bin)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true})
	})
	if err != nil {
		t.Fatalf("building the user's image: %v", err)
	}
	return tag
}

// TestUserImage runs a user's own image as ECS would: the task
// definition's entryPoint, command, environment, user, workingDirectory,
// health check (run by the engine in the container: CMD works, CMD-SHELL
// fails for want of a shell, as on ECS) and stop timeout; the sidecar in
// its network namespace; and only the run's images.
func TestUserImage(t *testing.T) {
	cli := dockerEngine(t)
	img := image(t, cli)
	ctx := testContext(t)
	app := userImage(ctx, t, cli)
	f := &userImageFixture{
		runtimeFixture: newRuntimeFixture(t, cli, ctx, docker.Options{Image: img, XDSAddress: "127.0.0.1:18000", Events: events.NewBus(0), Images: []string{app}}, 100),
		img:            img, app: app,
	}
	t.Run("runs as the task definition says, its sidecar beside it", f.runsAsDefined)
	t.Run("CMD-SHELL fails without a shell, as on ECS", f.cmdShellFails)
	t.Run("SIGTERM ignored: killed after the stopTimeout", f.sigtermIgnored)
	t.Run("only the run's images", f.onlyRunImages)
	t.Run("a missing image fails the world up front", f.missingImageFailsWorld)
}

// userImageFixture is the runtime of TestUserImage with meshsim's image img
// and the user's image app.
type userImageFixture struct {
	*runtimeFixture
	img, app string
}

// cmdCheck is the health check of the user's image that works: CMD, run by
// the engine in the container.
var cmdCheck = []string{"CMD", "/app", "-check", "http://localhost:9090/"}

// userContainer is the user's image app in a task definition's container,
// with the health check check and the command.
func userContainer(app string, check []string, command ...string) ecs.ContainerSpec {
	return ecs.ContainerSpec{
		Name: "api", Image: app, Essential: true,
		EntryPoint: []string{"/app"}, Command: command,
		Env:              map[string]string{"GREETING": "hello"},
		User:             "1234:1234",
		WorkingDirectory: "/",
		Ports:            []ecs.PortMapping{{ContainerPort: 9090, Protocol: "tcp"}},
		HealthCheck: &ecs.HealthCheck{
			Command:  check,
			Interval: 200 * time.Millisecond, Timeout: 2 * time.Second, Retries: 2,
		},
		StopTimeout: 30 * time.Second,
	}
}

// runsAsDefined: runs as the task definition says, its sidecar beside it.
func (f *userImageFixture) runsAsDefined(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	sc := ecs.ContainerSpec{Name: "envoy", Image: contract.SidecarImage, Essential: true, Env: map[string]string{
		contract.EnvResourceARN: "arn:aws:appmesh:us-east-1:000000000000:mesh/m/virtualNode/api-v1",
	}}
	started, err := f.rt.Start(f.ctx, taskSpec(id, userContainer(f.app, cmdCheck, "-addr", ":9090", "-say", "v1"), sc), r.report)
	if err != nil {
		t.Fatal(err)
	}
	r.wait(f.ctx, t, "api HEALTHY (CMD, run by the engine)", health("api", ecs.HealthHealthy))
	sidecarReady(t, started.IP)
	resp, err := http.Get("http://" + started.IP + ":9090/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(body), "v1 hello uid=1234 wd=/"; got != want {
		t.Errorf("GET /: %q, want %q (command, environment, user, workingDirectory)", got, want)
	}
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-meshsim") {
			t.Errorf("the user's app answered with meshsim header %s", k)
		}
	}
	list, err := f.cli.ContainerList(f.ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", docker.LabelRun+"="+f.runID).Add("label", docker.LabelTask+"="+id)})
	if err != nil {
		t.Fatal(err)
	}
	ids, modes := map[string]string{}, map[string]string{}
	for _, c := range list.Items {
		ids[c.Labels[docker.LabelContainer]] = c.ID
		modes[c.Labels[docker.LabelContainer]] = c.HostConfig.NetworkMode
	}
	if modes["api"] != f.network || modes["envoy"] != "container:"+ids["api"] {
		t.Errorf("network modes %v; want api on %s and envoy in api's namespace", modes, f.network)
	}
	for name, cid := range ids {
		in, err := f.cli.ContainerInspect(f.ctx, cid, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hc := in.Container.HostConfig
		if strings.Join(hc.CapDrop, ",") != "ALL" || !strings.Contains(strings.Join(hc.SecurityOpt, ","), "no-new-privileges") ||
			hc.Memory != docker.DefaultTaskLimits.Memory || hc.PidsLimit == nil || *hc.PidsLimit != docker.DefaultTaskLimits.PIDs {
			t.Errorf("%s: CapDrop %v, SecurityOpt %v, Memory %d, PidsLimit %v; want ALL, no-new-privileges and the default limits",
				name, hc.CapDrop, hc.SecurityOpt, hc.Memory, hc.PidsLimit)
		}
		if want := map[string]string{"api": "1234:1234", "envoy": docker.User}[name]; in.Container.Config.User != want {
			t.Errorf("%s runs as %q, want %q", name, in.Container.Config.User, want)
		}
	}
	if err := f.rt.Stop(f.ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, tr := range r.drain() {
		if tr.Exit != nil && tr.Exit.Code != 0 {
			t.Errorf("%s exited %+v after SIGTERM, want 0", tr.Container, *tr.Exit)
		}
	}
}

// cmdShellFails: CMD-SHELL fails without a shell, as on ECS.
func (f *userImageFixture) cmdShellFails(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	c := userContainer(f.app, []string{"CMD-SHELL", "/app -check http://localhost:9090/ || exit 1"}, "-addr", ":9090")
	if _, err := f.rt.Start(f.ctx, taskSpec(id, c), r.report); err != nil {
		t.Fatal(err)
	}
	r.wait(f.ctx, t, "api UNHEALTHY", health("api", ecs.HealthUnhealthy))
	if err := f.rt.Stop(f.ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// sigtermIgnored: SIGTERM ignored: killed after the stopTimeout.
func (f *userImageFixture) sigtermIgnored(t *testing.T) {
	id := f.newTask()
	r := make(taskReports, 100)
	c := userContainer(f.app, cmdCheck, "-addr", ":9090", "-ignore-term")
	c.StopTimeout = time.Second
	if _, err := f.rt.Start(f.ctx, taskSpec(id, c), r.report); err != nil {
		t.Fatal(err)
	}
	r.wait(f.ctx, t, "api HEALTHY", health("api", ecs.HealthHealthy))
	// The task's grace is longer; the container's own stopTimeout
	// holds.
	if err := f.rt.Stop(f.ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	tr := r.wait(f.ctx, t, "api exit", exited("api"))
	if tr.Exit.Code != 137 || tr.Exit.Reason != "killed after the stop timeout" {
		t.Errorf("exit %+v, want 137, killed after the stop timeout", *tr.Exit)
	}
}

// onlyRunImages: only the run's images.
func (f *userImageFixture) onlyRunImages(t *testing.T) {
	c := userContainer(f.app, nil, "-addr", ":9090")
	c.HealthCheck = nil
	c.Image = f.img // present in the engine, but not one of the run's user images
	_, err := f.rt.Start(f.ctx, taskSpec(f.newTask(), c), nil)
	if err == nil || !strings.Contains(err.Error(), "not one of this run's images") {
		t.Errorf("Start with an image not of the run: %v", err)
	}
}

// missingImageFailsWorld: a missing image fails the world up front.
func (f *userImageFixture) missingImageFailsWorld(t *testing.T) {
	_, err := docker.StartWorld(f.ctx, f.cli, docker.WorldOptions{RunID: docker.NewRunID(), Image: f.img, Images: []string{"myorg/absent:1.3"}})
	if err == nil || !strings.Contains(err.Error(), "myorg/absent:1.3") {
		t.Errorf("StartWorld with a missing image: %v, want an error naming it", err)
	}
}
