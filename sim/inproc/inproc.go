// Package inproc is meshsim's embedded task runtime: it runs the
// containers of ECS tasks inside the meshsim process, with no Docker.
//
// Each task gets its own loopback address (127.0.1.1 upward; Linux routes
// all of 127.0.0.0/8 to the loopback interface), so the containers of
// different tasks listen on the same container ports, as under awsvpc
// networking. Containers are started by image: the runtime holds a Starter
// per image pattern. Health checks run as Docker runs them, for commands
// that are curl or wget HTTP GETs.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
)

// closeGrace is how long Close gives each container after SIGTERM.
const closeGrace = 5 * time.Second

// Options configure a Runtime.
type Options struct {
	// Bus receives the runtime's events (Source "runtime"):
	// contract.EventContainerStarted, contract.EventContainerHealth, contract.EventContainerExited. May be
	// nil.
	Bus *events.Bus
}

// Runtime runs ECS tasks in process. It implements ecs.Runtime.
type Runtime struct {
	bus *events.Bus

	mu     sync.Mutex
	images []image
	addrs  addrPool
	tasks  map[string]*task
	closed bool
}

type image struct {
	pattern string
	starter Starter
}

var _ ecs.Runtime = (*Runtime)(nil)

// New returns a runtime that knows no images yet; see Handle.
func New(opts Options) *Runtime {
	return &Runtime{
		bus:   opts.Bus,
		addrs: addrPool{first: firstTaskAddr, used: make(map[uint32]bool)},
		tasks: make(map[string]*task),
	}
}

// Handle makes s start the containers whose image matches pattern. The
// pattern is an image repository (a tag or digest is ignored on both
// sides) in which '*' matches any run of characters, for example
// "meshsim/sample-http" or "*envoy*". The first matching pattern wins.
func (r *Runtime) Handle(pattern string, s Starter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images = append(r.images, image{pattern: repository(pattern), starter: s})
}

// starter returns the Starter of img. Callers hold r.mu.
func (r *Runtime) starter(img string) (Starter, error) {
	repo := repository(img)
	for _, im := range r.images {
		if match(im.pattern, repo) {
			return im.starter, nil
		}
	}
	known := make([]string, len(r.images))
	for i, im := range r.images {
		known[i] = im.pattern
	}
	return nil, fmt.Errorf("CannotPullContainerError: meshsim inproc runtime has no image %s; known images: %s",
		img, strings.Join(known, ", "))
}

type task struct {
	spec       ecs.TaskSpec
	ip         netip.Addr
	containers []*container
	stopChecks context.CancelFunc
	// watchers are the goroutines that report exits and health.
	watchers sync.WaitGroup
}

type container struct {
	name   string
	proc   Process
	killed atomic.Bool
}

// Start starts the task's containers on a loopback address of its own, in
// the order of the task definition, and starts their health checks.
func (r *Runtime) Start(ctx context.Context, spec ecs.TaskSpec, report func(ecs.TaskReport)) (ecs.Started, error) {
	if report == nil {
		report = func(ecs.TaskReport) {}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ecs.Started{}, errors.New("CannotStartContainerError: the meshsim inproc runtime is closed")
	}
	if _, ok := r.tasks[spec.TaskID]; ok {
		r.mu.Unlock()
		return ecs.Started{}, fmt.Errorf("CannotStartContainerError: task %s is already running", spec.TaskID)
	}
	starters := make([]Starter, len(spec.Containers))
	for i, c := range spec.Containers {
		s, err := r.starter(c.Image)
		if err != nil {
			r.mu.Unlock()
			return ecs.Started{}, err
		}
		starters[i] = s
	}
	r.mu.Unlock()
	var ports []uint32
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			ports = append(ports, p.ContainerPort)
		}
	}

	// Another process (another meshsim, a test binary) may use the same
	// loopback addresses: take addresses whose ports are free, and move on
	// to the next one should a container still find its port taken.
	for attempt := 1; ; attempt++ {
		r.mu.Lock()
		ip, err := r.addrs.take(ports)
		r.mu.Unlock()
		if err != nil {
			return ecs.Started{}, fmt.Errorf("ResourceInitializationError: %w", err)
		}
		started, err := r.startAt(ctx, spec, ip, starters, report)
		if err != nil && errors.Is(err, syscall.EADDRINUSE) && attempt < maxStartAttempts && ctx.Err() == nil {
			continue
		}
		return started, err
	}
}

// maxStartAttempts bounds the addresses Start tries when ports are taken.
const maxStartAttempts = 5

// startAt starts the task on ip and records it, or frees ip.
func (r *Runtime) startAt(ctx context.Context, spec ecs.TaskSpec, ip netip.Addr, starters []Starter, report func(ecs.TaskReport)) (ecs.Started, error) {
	t, err := r.start(ctx, spec, ip, starters, report)
	if err == nil {
		r.mu.Lock()
		closed := r.closed
		if !closed {
			r.tasks[spec.TaskID] = t
		}
		r.mu.Unlock()
		if !closed {
			return ecs.Started{IP: ip.String()}, nil
		}
		err = errors.New("CannotStartContainerError: the meshsim inproc runtime is closed")
		_ = t.stop(context.Background(), closeGrace)
	}
	r.mu.Lock()
	r.addrs.release(ip)
	r.mu.Unlock()
	return ecs.Started{}, err
}

// start starts the containers and their watchers; on error, it kills what
// it started.
func (r *Runtime) start(ctx context.Context, spec ecs.TaskSpec, ip netip.Addr, starters []Starter, report func(ecs.TaskReport)) (*task, error) {
	probes := make([]*probe, len(spec.Containers))
	for i, c := range spec.Containers {
		if c.HealthCheck == nil {
			continue
		}
		p, err := parseHealthCheck(c.HealthCheck.Command, ip.String())
		if err != nil {
			return nil, fmt.Errorf("CannotStartContainerError: container %s: %w", c.Name, err)
		}
		probes[i] = p
	}

	t := &task{spec: spec, ip: ip}
	for i, c := range spec.Containers {
		ports := make([]uint32, len(c.Ports))
		for j, p := range c.Ports {
			ports[j] = p.ContainerPort
		}
		proc, err := starters[i].Start(ctx, Container{
			TaskID:           spec.TaskID,
			TaskIP:           ip.String(),
			Name:             c.Name,
			Image:            c.Image,
			EntryPoint:       c.EntryPoint,
			Command:          c.Command,
			WorkingDirectory: c.WorkingDirectory,
			User:             c.User,
			Env:              c.Env,
			Ports:            ports,
			TaskDefinition:   spec.Family + ":" + strconv.Itoa(spec.Revision),
		})
		if err != nil {
			_ = t.stop(context.Background(), 0)
			return nil, fmt.Errorf("CannotStartContainerError: container %s (image %s): %w", c.Name, c.Image, err)
		}
		t.containers = append(t.containers, &container{name: c.Name, proc: proc})
		r.emit(contract.EventContainerStarted, spec.TaskARN, map[string]string{"task": spec.TaskID, "container": c.Name, "image": c.Image, "ip": ip.String()})
	}

	checks, stopChecks := context.WithCancel(context.Background())
	t.stopChecks = stopChecks
	for i, c := range t.containers {
		t.watchers.Go(func() {
			<-c.proc.Done()
			exit := ecs.ContainerExit{Code: 0, Reason: "exited"}
			ec, hasCode := c.proc.(ExitCoder)
			switch err := c.proc.Err(); {
			case hasCode:
				exit.Code, exit.Reason = ec.ExitCode()
				if c.killed.Load() {
					exit.Reason += " (killed after the stop timeout)"
				}
			case c.killed.Load():
				exit = ecs.ContainerExit{Code: 137, Reason: "killed after the stop timeout"}
			case err != nil:
				exit = ecs.ContainerExit{Code: 1, Reason: err.Error()}
			}
			r.emit(contract.EventContainerExited, spec.TaskARN, map[string]string{
				"task": spec.TaskID, "container": c.name, "exitCode": strconv.Itoa(exit.Code), "reason": exit.Reason,
			})
			report(ecs.TaskReport{Container: c.name, Exit: &exit})
		})
		if probes[i] == nil {
			continue
		}
		hc := *spec.Containers[i].HealthCheck
		t.watchers.Go(func() {
			runHealthCheck(checks, probes[i], hc, func(h ecs.HealthStatus) {
				r.emit(contract.EventContainerHealth, spec.TaskARN, map[string]string{"task": spec.TaskID, "container": c.name, "status": string(h)})
				report(ecs.TaskReport{Container: c.name, Health: h})
			})
		})
	}
	return t, nil
}

// Stop stops the task's containers: SIGTERM (Process.Stop) to all of them,
// then, after grace, a kill for those still running. It returns once they
// have exited and their exits have been reported.
func (r *Runtime) Stop(ctx context.Context, taskID string, grace time.Duration) error {
	r.mu.Lock()
	t, ok := r.tasks[taskID]
	delete(r.tasks, taskID)
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("inproc: no running task %s", taskID)
	}
	err := t.stop(ctx, grace)
	r.mu.Lock()
	r.addrs.release(t.ip)
	r.mu.Unlock()
	return err
}

// Close stops every task, giving each container a few seconds after
// SIGTERM. Tasks started afterwards fail.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	tasks := r.tasks
	r.tasks = make(map[string]*task)
	r.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, len(tasks))
	for _, t := range tasks {
		wg.Go(func() {
			if err := t.stop(context.Background(), closeGrace); err != nil {
				errs <- fmt.Errorf("task %s: %w", t.spec.TaskID, err)
			}
			r.mu.Lock()
			r.addrs.release(t.ip)
			r.mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// stop stops the task's containers (see Runtime.Stop).
func (t *task) stop(ctx context.Context, grace time.Duration) error {
	if t.stopChecks != nil {
		t.stopChecks()
	}
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	var errs []error
	var stops sync.WaitGroup
	stopErrs := make([]error, len(t.containers))
	for i, c := range t.containers {
		select {
		case <-c.proc.Done():
			continue // exited already
		default:
		}
		stops.Go(func() { stopErrs[i] = c.proc.Stop(graceCtx) })
	}
	for _, c := range t.containers {
		select {
		case <-c.proc.Done():
		case <-graceCtx.Done():
			c.killed.Store(true)
			if err := c.proc.Kill(); err != nil {
				errs = append(errs, fmt.Errorf("killing container %s: %w", c.name, err))
			}
		}
	}
	for _, c := range t.containers {
		select {
		case <-c.proc.Done():
		case <-ctx.Done():
			cancel()
			return fmt.Errorf("container %s did not exit: %w", c.name, ctx.Err())
		}
	}
	cancel()
	stops.Wait()
	for i, c := range t.containers {
		if err := stopErrs[i]; err != nil && !c.killed.Load() {
			errs = append(errs, fmt.Errorf("stopping container %s: %w", c.name, err))
		}
	}
	t.watchers.Wait()
	return errors.Join(errs...)
}

func (r *Runtime) emit(typ contract.EventType, resource string, detail map[string]string) {
	if r.bus == nil {
		return
	}
	r.bus.Emit(events.Event{Source: contract.SourceRuntime, Type: typ, Resource: resource, Detail: detail})
}

// repository returns an image's repository: without its tag or digest, and
// without a docker.io/ or docker.io/library/ prefix.
func repository(img string) string {
	if i := strings.IndexByte(img, '@'); i >= 0 {
		img = img[:i]
	}
	if i := strings.LastIndexByte(img, ':'); i > strings.LastIndexByte(img, '/') {
		img = img[:i]
	}
	img = strings.TrimPrefix(img, "docker.io/")
	img = strings.TrimPrefix(img, "library/")
	return img
}

// match reports whether name matches pattern, in which '*' matches any run
// of characters.
func match(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, last)
}

// firstTaskAddr is 127.0.1.1, the first address handed to a task.
const firstTaskAddr = 127<<24 | 0<<16 | 1<<8 | 1

// lastTaskAddr is 127.255.255.254, the last one.
const lastTaskAddr = 127<<24 | 255<<16 | 255<<8 | 254

// addrPool hands out loopback addresses, lowest free first, skipping those
// ending in .0 and .255.
type addrPool struct {
	first uint32
	used  map[uint32]bool
}

// take returns the lowest address not in use on which every TCP port of
// ports can be bound.
func (p *addrPool) take(ports []uint32) (netip.Addr, error) {
	for a := p.first; a <= lastTaskAddr; a++ {
		if b := a & 0xff; b == 0 || b == 255 || p.used[a] {
			continue
		}
		addr := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
		if !portsFree(addr, ports) {
			continue
		}
		p.used[a] = true
		return addr, nil
	}
	return netip.Addr{}, errors.New("no free loopback address for the task")
}

// portsFree reports whether every port of ports can be bound on addr.
func portsFree(addr netip.Addr, ports []uint32) bool {
	for _, port := range ports {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, uint16(port)).String())
		if err != nil {
			return false
		}
		_ = ln.Close()
	}
	return true
}

func (p *addrPool) release(a netip.Addr) {
	b := a.As4()
	delete(p.used, uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))
}
