package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/inproc"
	"github.com/meshsim/meshsim/sim/sidecar"
)

// EnvTaskID is the environment variable that tells a container its ECS
// task id (the sample service reports it in x-meshsim-task).
const EnvTaskID = "MESHSIM_TASK_ID"

// closeGrace is how long Close gives each container after SIGTERM.
const closeGrace = 5 * time.Second

// cleanupTimeout bounds removing a task's containers.
const cleanupTimeout = 30 * time.Second

// Options configure a Runtime.
type Options struct {
	// RunID names and labels the task containers. Required.
	RunID string
	// Network is the run's Docker network; every task gets its address
	// there. Required.
	Network string
	// Image is meshsim's image (see EnsureImage), which runs the sample
	// service and the embedded sidecar. Required.
	Image string
	// XDSAddress is the control plane's host:port as sidecars reach it on
	// the run network; sidecars get it as APPMESH_XDS_ENDPOINT unless their
	// task definition sets that. Required.
	XDSAddress string
	// EnvoyImage, when set, is run for sidecars in place of the embedded
	// sidecar, with a bootstrap that points ADS at XDSAddress. The engine
	// must have it (nothing is pulled).
	EnvoyImage string
	// Events receives the runtime's events (Source contract.SourceRuntime):
	// contract.EventContainerStarted, EventContainerHealth and
	// EventContainerExited. May be
	// nil.
	Events Emitter
	// Images are the images of the run besides meshsim's own (the users'
	// images its scenario names): a task definition may name one of them,
	// which runs as it is (the engine must have it; nothing is pulled).
	// Any other image is refused.
	Images []string
	// PIDNamespace, when set, is the container whose PID namespace every
	// task container joins (the fakes'): when its process exits, the
	// kernel kills every task process, so that a run whose meshsim
	// process is gone leaves nothing running.
	PIDNamespace string
	// Limits bound each task container; zero fields take
	// DefaultTaskLimits'.
	Limits Limits
}

// Emitter receives events; *events.Bus is one.
type Emitter interface {
	Emit(events.Event)
}

// Limits bound a container's resources.
type Limits struct {
	// Memory is the memory limit in bytes: beyond it the container is
	// OOM-killed (reported as ECS reports it, OutOfMemoryError).
	Memory int64
	// PIDs is the most processes and threads the container may have.
	PIDs int64
}

// Default limits.
var (
	// DefaultTaskLimits bound each task container: 512 MiB, 512
	// processes and threads.
	DefaultTaskLimits = Limits{Memory: 512 << 20, PIDs: 512}
	// DefaultFakesLimits bound the fakes' container: 1 GiB, 1024
	// processes and threads.
	DefaultFakesLimits = Limits{Memory: 1 << 30, PIDs: 1024}
)

// orDefault returns l with its zero fields taken from d.
func (l Limits) orDefault(d Limits) Limits {
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.PIDs == 0 {
		l.PIDs = d.PIDs
	}
	return l
}

// User is the non-root user (uid:gid) meshsim's own containers run as.
const User = "65532:65532"

// harden drops every capability, forbids gaining privileges (setuid
// binaries, file capabilities) and applies the limits.
func harden(hc *container.HostConfig, l Limits) {
	hc.CapDrop = []string{"ALL"}
	hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	hc.Resources.Memory = l.Memory
	hc.Resources.MemorySwap = l.Memory // no swap beyond the limit
	pids := l.PIDs
	hc.Resources.PidsLimit = &pids
}

// Runtime runs ECS tasks as Docker containers. It implements ecs.Runtime.
//
// Each container of a task definition becomes a container labelled with
// the run, service, version, task and container name. The first owns the
// task's network namespace and its address on the run network; the others
// join that namespace (network mode container:<id>), so that the
// application and its sidecar reach each other on localhost, as on an
// awsvpc task. Images are mapped as the inproc runtime maps them: the
// sample HTTP and gRPC service and sidecar images (and any image whose
// name contains "envoy") run meshsim's image, as User; any other image
// (one of Options.Images) runs as it is, as ECS would run it: with the
// task definition's entryPoint, command, workingDirectory, user and
// environment, and its health check run by the engine inside the
// container (so CMD-SHELL needs a shell in the image, as on ECS).
//
// Every container runs with no capabilities, no-new-privileges and the
// memory and process limits of Options.Limits.
type Runtime struct {
	opts Options
	cli  *testcontainers.DockerClient
	// ctx lives as long as the runtime; it bounds the exit watchers.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	tasks  map[string]*task
	closed bool

	health *healthEvents
}

var _ ecs.Runtime = (*Runtime)(nil)

type task struct {
	spec       ecs.TaskSpec
	ip         string
	containers []*taskContainer
	stopChecks context.CancelFunc
	// watchers are the goroutines that report exits and health.
	watchers sync.WaitGroup
}

type taskContainer struct {
	name   string // in the task definition
	id     string
	grace  time.Duration // its stopTimeout; 0 for the task's
	killed atomic.Bool   // killed by Stop after the grace period
}

// New returns a runtime on the engine cli is connected to (see Connect).
// Close it to stop every task.
func New(cli *testcontainers.DockerClient, opts Options) (*Runtime, error) {
	switch {
	case opts.RunID == "":
		return nil, errors.New("docker runtime: Options.RunID is empty")
	case opts.Network == "":
		return nil, errors.New("docker runtime: Options.Network is empty")
	case opts.Image == "":
		return nil, errors.New("docker runtime: Options.Image is empty")
	case opts.XDSAddress == "":
		return nil, errors.New("docker runtime: Options.XDSAddress is empty")
	}
	opts.Limits = opts.Limits.orDefault(DefaultTaskLimits)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runtime{opts: opts, cli: cli, ctx: ctx, cancel: cancel, tasks: make(map[string]*task)}
	r.health = watchHealth(ctx, cli, opts.RunID)
	return r, nil
}

// plan is how one container of a task definition runs.
type plan struct {
	spec       ecs.ContainerSpec
	image      string
	entrypoint []string
	cmd        []string
	env        map[string]string
	user       string
	workdir    string
	// own is set for meshsim's own roles, whose health checks the runtime
	// runs (the image has no curl); the engine runs a user image's.
	own bool
}

// plan maps a task definition's container to an image and command.
func (r *Runtime) plan(ctx context.Context, spec ecs.TaskSpec, c ecs.ContainerSpec) (plan, error) {
	env := make(map[string]string, len(c.Env)+2)
	for k, v := range c.Env {
		env[k] = v
	}
	p := plan{spec: c, env: env, user: User, own: true}
	repo := repository(c.Image)
	if repo == contract.SampleHTTPImage || repo == contract.SampleGRPCImage || repo == contract.SidecarImage || containsEnvoy(repo) {
		env[EnvTaskID] = spec.TaskID
	}
	switch {
	case repo == contract.SampleHTTPImage:
		p.image, p.cmd = r.opts.Image, []string{"container", "app"}
	case repo == contract.SampleGRPCImage:
		p.image, p.cmd = r.opts.Image, []string{"container", "grpc"}
	case repo == contract.SidecarImage || containsEnvoy(repo):
		if _, ok := env[contract.EnvXDSEndpoint]; !ok {
			env[contract.EnvXDSEndpoint] = r.opts.XDSAddress
		}
		if r.opts.EnvoyImage == "" {
			p.image, p.cmd = r.opts.Image, []string{"container", "sidecar"}
			break
		}
		cfg, err := sidecar.ConfigFromEnv(env, "")
		if err != nil {
			return plan{}, fmt.Errorf("CannotStartContainerError: container %s: %w", c.Name, err)
		}
		bootstrap, err := EnvoyBootstrap(cfg.NodeID, cfg.XDSAddress)
		if err != nil {
			return plan{}, fmt.Errorf("CannotStartContainerError: container %s: %w", c.Name, err)
		}
		p.image = r.opts.EnvoyImage
		p.entrypoint = []string{"envoy"}
		p.cmd = []string{"--config-yaml", string(bootstrap), "--log-level", "warn", "--concurrency", "1"}
	default:
		if !r.allowed(c.Image) {
			return plan{}, fmt.Errorf("CannotPullContainerError: image %s of container %s is not one of this run's images "+
				"(meshsim runs only the images its scenario names, and its own %s, %s and %s)",
				c.Image, c.Name, contract.SampleHTTPImage, contract.SampleGRPCImage, contract.SidecarImage)
		}
		if _, err := r.cli.ImageInspect(ctx, c.Image); err != nil {
			return plan{}, fmt.Errorf("CannotPullContainerError: image %s of container %s is not in the local Docker engine, "+
				"and meshsim pulls nothing (docker pull, build or load it first): %v", c.Image, c.Name, err)
		}
		p = plan{spec: c, env: env, image: c.Image, entrypoint: c.EntryPoint, cmd: c.Command, user: c.User, workdir: c.WorkingDirectory}
	}
	return p, nil
}

// allowed reports whether img is one of Options.Images.
func (r *Runtime) allowed(img string) bool {
	want := normalized(img)
	for _, i := range r.opts.Images {
		if normalized(i) == want {
			return true
		}
	}
	return false
}

// normalized returns an image reference in its full form
// (docker.io/library/nginx:latest for nginx).
func normalized(img string) string {
	ref, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return img
	}
	return reference.TagNameOnly(ref).String()
}

// Start starts the task's containers in the order of the task definition,
// the first on the run network and the others in its network namespace,
// then watches them for exits and runs their health checks against the
// task's address.
func (r *Runtime) Start(ctx context.Context, spec ecs.TaskSpec, report func(ecs.TaskReport)) (ecs.Started, error) {
	if report == nil {
		report = func(ecs.TaskReport) {}
	}
	if len(spec.Containers) == 0 {
		return ecs.Started{}, errors.New("CannotStartContainerError: the task definition has no containers")
	}
	r.mu.Lock()
	switch _, dup := r.tasks[spec.TaskID]; {
	case r.closed:
		r.mu.Unlock()
		return ecs.Started{}, errors.New("CannotStartContainerError: the meshsim docker runtime is closed")
	case dup:
		r.mu.Unlock()
		return ecs.Started{}, fmt.Errorf("CannotStartContainerError: task %s is already running", spec.TaskID)
	}
	r.mu.Unlock()

	plans := make([]plan, len(spec.Containers))
	for i, c := range spec.Containers {
		p, err := r.plan(ctx, spec, c)
		if err != nil {
			return ecs.Started{}, err
		}
		plans[i] = p
	}

	t := &task{spec: spec}
	if err := r.startContainers(ctx, t, plans); err != nil {
		r.discard(t)
		return ecs.Started{}, err
	}
	probes := make([]*inproc.Probe, len(plans))
	for i, p := range plans {
		if p.spec.HealthCheck == nil || !p.own {
			continue
		}
		probe, err := inproc.ParseProbe(p.spec.HealthCheck.Command, t.ip)
		if err != nil {
			r.discard(t)
			return ecs.Started{}, fmt.Errorf("CannotStartContainerError: container %s: %w", p.spec.Name, err)
		}
		probes[i] = probe
	}

	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.tasks[spec.TaskID] = t
	}
	r.mu.Unlock()
	if closed {
		r.discard(t)
		return ecs.Started{}, errors.New("CannotStartContainerError: the meshsim docker runtime is closed")
	}

	checks, stopChecks := context.WithCancel(r.ctx)
	t.stopChecks = stopChecks
	for i, c := range t.containers {
		t.watchers.Go(func() { r.watchExit(t, c, report) })
		if plans[i].spec.HealthCheck != nil && !plans[i].own {
			// The engine runs the check; its health_status events tell.
			t.watchers.Go(func() {
				r.health.follow(checks, c.id, func(h ecs.HealthStatus) {
					r.emit("container.health", spec.TaskARN, map[string]string{"task": spec.TaskID, "container": c.name, "status": string(h)})
					report(ecs.TaskReport{Container: c.name, Health: h})
				})
			})
		}
		if probes[i] == nil {
			continue
		}
		hc := *plans[i].spec.HealthCheck
		t.watchers.Go(func() {
			probes[i].Run(checks, hc, func(h ecs.HealthStatus) {
				r.emit(contract.EventContainerHealth, spec.TaskARN, map[string]string{"task": spec.TaskID, "container": c.name, "status": string(h)})
				report(ecs.TaskReport{Container: c.name, Health: h})
			})
		})
	}
	return ecs.Started{IP: t.ip}, nil
}

// startContainers starts the task's containers; t records those started
// and, once the first has started, the task's address.
func (r *Runtime) startContainers(ctx context.Context, t *task, plans []plan) error {
	spec := t.spec
	service := spec.Service
	if service == "" {
		service = spec.Family
	}
	version := "rev" + strconv.Itoa(spec.Revision)
	for _, p := range plans {
		if v := p.env[contract.EnvVersion]; v != "" {
			version = v
			break
		}
	}
	for i, p := range plans {
		labels := map[string]string{
			LabelRun: r.opts.RunID, LabelRole: roleTask, LabelService: service, LabelVersion: version,
			LabelTask: spec.TaskID, LabelContainer: p.spec.Name,
		}
		mode := container.NetworkMode(r.opts.Network)
		opts := []testcontainers.ContainerCustomizer{
			testcontainers.WithLogger(quiet),
			testcontainers.WithName(name(r.opts.RunID, service, short(spec.TaskID), p.spec.Name)),
			testcontainers.WithLabels(labels),
			testcontainers.WithEnv(p.env),
		}
		if i == 0 {
			opts = append(opts, tcnetwork.WithNetworkName(nil, r.opts.Network))
		} else {
			mode = container.NetworkMode("container:" + t.containers[0].id)
		}
		opts = append(opts, testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = mode
			if r.opts.PIDNamespace != "" {
				hc.PidMode = container.PidMode("container:" + r.opts.PIDNamespace)
			}
			harden(hc, r.opts.Limits)
		}))
		opts = append(opts, testcontainers.WithConfigModifier(func(cfg *container.Config) {
			cfg.User = p.user
			cfg.WorkingDir = p.workdir
			if hc := p.spec.HealthCheck; hc != nil && !p.own {
				cfg.Healthcheck = &container.HealthConfig{
					Test: hc.Command, Interval: hc.Interval, Timeout: hc.Timeout, Retries: hc.Retries, StartPeriod: hc.StartPeriod,
				}
			}
		}))
		if len(p.entrypoint) > 0 {
			opts = append(opts, testcontainers.WithEntrypoint(p.entrypoint...))
		}
		if len(p.cmd) > 0 {
			opts = append(opts, testcontainers.WithCmd(p.cmd...))
		}
		c, err := testcontainers.Run(ctx, p.image, opts...)
		if c != nil {
			t.containers = append(t.containers, &taskContainer{name: p.spec.Name, id: c.GetContainerID(), grace: p.spec.StopTimeout})
		}
		if err != nil {
			return fmt.Errorf("CannotStartContainerError: container %s (image %s): %w", p.spec.Name, p.image, err)
		}
		if i == 0 {
			in, err := c.Inspect(ctx)
			if err != nil {
				return fmt.Errorf("CannotStartContainerError: container %s: %w", p.spec.Name, err)
			}
			ip, err := networkIP(in, r.opts.Network)
			if err != nil {
				return fmt.Errorf("ResourceInitializationError: container %s: %w", p.spec.Name, err)
			}
			t.ip = ip
		}
		r.emit(contract.EventContainerStarted, spec.TaskARN, map[string]string{
			"task": spec.TaskID, "container": p.spec.Name, "image": p.image, "ip": t.ip, "id": short(c.GetContainerID()),
		})
	}
	return nil
}

// networkIP returns a container's address on network.
func networkIP(in *container.InspectResponse, network string) (string, error) {
	if in.NetworkSettings != nil {
		if ep, ok := in.NetworkSettings.Networks[network]; ok && ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String(), nil
		}
	}
	return "", fmt.Errorf("no address on network %s", network)
}

// watchExit waits for the container to exit and reports how.
func (r *Runtime) watchExit(t *task, c *taskContainer, report func(ecs.TaskReport)) {
	var res exitResult
	select {
	case res = <-waitExit(r.ctx, r.cli, c.id):
	case <-r.ctx.Done():
		return
	}
	exit := ecs.ContainerExit{Code: res.code, Reason: "exited"}
	switch {
	case c.killed.Load():
		exit.Reason = "killed after the stop timeout"
	case res.err != nil && cerrdefs.IsNotFound(res.err):
		exit = ecs.ContainerExit{Code: 137, Reason: "the container was removed"}
	case res.err != nil:
		exit = ecs.ContainerExit{Code: 1, Reason: fmt.Sprintf("lost track of the container: %v", res.err)}
	case res.code == 137:
		exit.Reason = "killed (SIGKILL)"
		if in, err := r.cli.ContainerInspect(r.ctx, c.id, client.ContainerInspectOptions{}); err == nil &&
			in.Container.State != nil && in.Container.State.OOMKilled {
			exit.Reason = "OutOfMemoryError: container killed due to memory usage"
		}
	case res.code != 0:
		exit.Reason = "exited with code " + strconv.Itoa(res.code)
		if line := lastLogLine(r.ctx, r.cli, c.id); line != "" {
			exit.Reason += ": " + line
		}
	}
	r.emit(contract.EventContainerExited, t.spec.TaskARN, map[string]string{
		"task": t.spec.TaskID, "container": c.name, "exitCode": strconv.Itoa(exit.Code), "reason": exit.Reason,
	})
	report(ecs.TaskReport{Container: c.name, Exit: &exit})
}

// Stop sends SIGTERM to the task's containers, kills those still running
// after grace, reports their exits and removes them.
func (r *Runtime) Stop(ctx context.Context, taskID string, grace time.Duration) error {
	r.mu.Lock()
	t, ok := r.tasks[taskID]
	delete(r.tasks, taskID)
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("docker runtime: no running task %s", taskID)
	}
	return r.stop(ctx, t, grace)
}

// stop stops t's containers, waits for their exits to be reported, and
// removes them.
func (r *Runtime) stop(ctx context.Context, t *task, grace time.Duration) error {
	t.stopChecks()
	ids := make([]string, len(t.containers))
	each := graces(len(t.containers), grace)
	for i, c := range t.containers {
		ids[i] = c.id
		if c.grace > 0 && c.grace < grace {
			each[i] = c.grace // the container's own stopTimeout
		}
	}
	err := terminate(ctx, r.cli, ids, each, func(i int) { t.containers[i].killed.Store(true) })
	if err == nil {
		// Every container has exited: its exit is reported (with its
		// last log line) before it is removed.
		t.watchers.Wait()
	}
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err = errors.Join(err, remove(rmCtx, r.cli, ids))
	// Removed, the containers that had not exited are reported gone:
	// nothing is reported after Stop returns.
	t.watchers.Wait()
	if err != nil {
		return fmt.Errorf("task %s: %w", t.spec.TaskID, err)
	}
	return nil
}

// discard removes the containers of a task that failed to start.
func (r *Runtime) discard(t *task) {
	ids := make([]string, len(t.containers))
	for i, c := range t.containers {
		ids[i] = c.id
	}
	ctx, cancel := context.WithTimeout(r.ctx, cleanupTimeout)
	defer cancel()
	if err := remove(ctx, r.cli, ids); err != nil {
		r.emit("runtime.error", t.spec.TaskARN, map[string]string{"task": t.spec.TaskID, "error": err.Error()})
	}
}

// Close stops every task, giving each container a few seconds after
// SIGTERM, and removes its containers. Tasks started afterwards fail.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	tasks := r.tasks
	r.tasks = make(map[string]*task)
	r.mu.Unlock()
	errs := make(chan error, len(tasks))
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), closeGrace+cleanupTimeout)
			defer cancel()
			errs <- r.stop(ctx, t, closeGrace)
		})
	}
	wg.Wait()
	r.cancel()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (r *Runtime) emit(typ contract.EventType, resource string, detail map[string]string) {
	if r.opts.Events == nil {
		return
	}
	r.opts.Events.Emit(events.Event{Source: contract.SourceRuntime, Type: typ, Resource: resource, Detail: detail})
}

// repository returns an image's repository in its familiar form (no tag or
// digest, no docker.io/library/ prefix).
func repository(img string) string {
	ref, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return img
	}
	return reference.FamiliarName(ref)
}

// containsEnvoy reports whether an image repository names Envoy (App
// Mesh's aws-appmesh-envoy, envoyproxy/envoy), which the runtime runs as
// the sidecar.
func containsEnvoy(repo string) bool { return strings.Contains(repo, "envoy") }
