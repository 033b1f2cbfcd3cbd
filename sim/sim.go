// Package sim is the simulated AWS world: the ECS, Cloud Map, App Mesh and
// Route 53 fakes behind one endpoint (with Route 53's name server), the xDS control plane that turns App Mesh and
// Cloud Map state into Envoy configuration, and the runtime that runs the
// tasks ECS decides to run (sample services and their sidecars).
//
// Start wires these together; everything else talks to the world through
// its endpoint (the AWS APIs and the event stream) and the xDS server.
package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/appmesh"
	"github.com/meshsim/meshsim/sim/cloudmap"
	"github.com/meshsim/meshsim/sim/cloudwatch"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/elbv2"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/inproc"
	"github.com/meshsim/meshsim/sim/lambda"
	"github.com/meshsim/meshsim/sim/route53"
	"github.com/meshsim/meshsim/sim/sampleapp"
	"github.com/meshsim/meshsim/sim/sidecar"
	"github.com/meshsim/meshsim/sim/taskexit"
	"github.com/meshsim/meshsim/sim/xds"
)

// Options configure the world.
type Options struct {
	// Addr is the AWS endpoint's listen address (default 127.0.0.1:0).
	Addr string
	// XDSAddr is the xDS control plane's listen address (default 127.0.0.1:0).
	XDSAddr string
	// TimeScale shrinks every AWS-side duration by this factor: ECS
	// minutes (bake times) and seconds (health-check intervals, stop
	// timeouts, the deregistration delay). 0 or 1 is real time.
	TimeScale float64
	// DeregistrationDelay is how long ECS keeps a stopping task
	// deregistered but running, so callers stop sending to it (AWS time;
	// default 0).
	DeregistrationDelay time.Duration
	// Runtime, when set, makes the runtime that runs the tasks ECS starts,
	// in place of the embedded inproc runtime (for example the docker
	// runtime). It is called once, with the world's event bus; Close
	// closes what it returns.
	Runtime func(bus *events.Bus) (Runtime, error)
	// DNSAddr is the listen address of the Route 53 fake's name server
	// (default 127.0.0.1:0).
	DNSAddr string
	// TaskLogDir is where the embedded runtime keeps the output and exit
	// of the containers it runs as local processes (the user's commands),
	// one directory per task; empty discards them.
	TaskLogDir string
}

// Runtime runs the tasks ECS starts (see ecs.Runtime).
type Runtime interface {
	ecs.Runtime
	// Close stops every task still running.
	Close() error
}

// World is a running simulated world. Close it to stop every task and
// server.
type World struct {
	// Endpoint is the URL of the AWS endpoint, e.g. http://127.0.0.1:4566.
	Endpoint string
	// XDSAddress is the host:port of the ADS server sidecars connect to.
	XDSAddress string
	// DNSAddress is the host:port (UDP and TCP) of the name server that
	// answers the Route 53 fake's hosted zones.
	DNSAddress string

	bus      *events.Bus
	cloudMap *cloudmap.Fake
	// cloudWatch holds the metrics and alarms; ECS reads its alarms'
	// states during deployments.
	cloudWatch *cloudwatch.Fake
	ecs        *ecs.Fake
	route53    *route53.Fake
	elb        *elbv2.Fake
	dns        *route53.DNSServer
	runtime    Runtime
	httpSrv    *http.Server
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	once       sync.Once
}

// Start starts the world. It returns once the endpoint and the control
// plane accept connections; cancelling ctx or calling Close stops it.
func Start(ctx context.Context, opts Options) (*World, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.XDSAddr == "" {
		opts.XDSAddr = "127.0.0.1:0"
	}
	apiLn, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("AWS endpoint: listening on %s: %w", opts.Addr, err)
	}
	xdsLn, err := net.Listen("tcp", opts.XDSAddr)
	if err != nil {
		apiLn.Close()
		return nil, fmt.Errorf("xDS control plane: listening on %s: %w", opts.XDSAddr, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	w := &World{
		Endpoint:   "http://" + apiLn.Addr().String(),
		XDSAddress: xdsLn.Addr().String(),
		bus:        events.NewBus(0),
		cancel:     cancel,
	}
	if opts.Runtime != nil {
		rt, err := opts.Runtime(w.bus)
		if err != nil {
			cancel()
			apiLn.Close()
			xdsLn.Close()
			return nil, fmt.Errorf("task runtime: %w", err)
		}
		w.runtime = rt
	} else {
		rt := inproc.New(inproc.Options{Bus: w.bus})
		rt.Handle(contract.SampleHTTPImage, inproc.StarterFunc(startSample))
		rt.Handle(contract.SampleGRPCImage, inproc.StarterFunc(startGRPC))
		rt.Handle(contract.CommandImage, inproc.Commands{LogDir: opts.TaskLogDir})
		sidecars := inproc.StarterFunc(func(ctx context.Context, c inproc.Container) (inproc.Process, error) {
			return startSidecar(ctx, c, w.XDSAddress, w.bus)
		})
		rt.Handle(contract.SidecarImage, sidecars)
		// Task definitions written for App Mesh's Envoy image work unchanged.
		rt.Handle("*envoy*", sidecars)
		w.runtime = rt
	}
	w.cloudMap = cloudmap.New(cloudmap.Options{Bus: w.bus})
	mesh := appmesh.New(appmesh.Options{Bus: w.bus})
	scale := opts.TimeScale
	if scale <= 0 {
		scale = 1
	}
	hooks := lambda.New(w.bus, 0)
	w.cloudWatch = cloudwatch.New(cloudwatch.Options{
		Bus: w.bus, Second: time.Duration(float64(time.Second) / scale),
		// ECS fails the deployments that watch an alarm gone into ALARM.
		OnStateChange: func(alarm, state string) { w.ecs.AlarmChanged(alarm, state) },
	})
	w.elb = elbv2.New(elbv2.Options{Bus: w.bus, Second: time.Duration(float64(time.Second) / scale),
		Proxies: &lbProxies{rt: w.runtime, tasks: map[string]string{}}})
	w.ecs = ecs.New(ecs.Options{
		Bus: w.bus, Runtime: w.runtime, Registry: w.cloudMap, Namespaces: w.cloudMap, Hooks: hooks, Alarms: w.cloudWatch, LoadBalancers: w.elb,
		Second:              time.Duration(float64(time.Second) / scale),
		Minute:              time.Duration(float64(time.Minute) / scale),
		DeregistrationDelay: opts.DeregistrationDelay, // ECS scales it itself
	})

	w.route53 = route53.New(route53.Options{Bus: w.bus, Second: time.Duration(float64(time.Second) / scale)})
	if w.dns, err = w.route53.ServeDNS(cmp.Or(opts.DNSAddr, "127.0.0.1:0")); err != nil {
		cancel()
		apiLn.Close()
		xdsLn.Close()
		return nil, errors.Join(err, w.route53.Close(), w.ecs.Close(), w.elb.Close(), w.runtime.Close(), w.cloudMap.Close())
	}
	w.DNSAddress = w.dns.Addr

	ep := endpoint.New(w.bus)
	ep.HandleTarget(ecs.TargetPrefix, w.ecs)
	ep.HandleTarget(cloudmap.TargetPrefix, w.cloudMap)
	ep.HandlePath(appmesh.PathPrefix, mesh)
	ep.HandlePath(route53.PathPrefix, w.route53)
	ep.HandlePath(contract.HookPathPrefix, hooks)
	ep.HandlePath(cloudwatch.PathPrefix, w.cloudWatch)
	ep.HandleTarget(cloudwatch.Service, w.cloudWatch)
	ep.HandleService(elbv2.Service, elbv2.Namespace, w.elb)
	ep.HandlePath(cloudwatch.PublishPath, w.cloudWatch)
	w.httpSrv = ep.Server()

	cp := xds.NewServer(xds.Options{Bus: w.bus})
	// Translate the first state before anyone can connect, then follow
	// every change of App Mesh or Cloud Map.
	world := func() xds.World {
		xw := meshWorld(mesh.State(), w.cloudMap)
		xw.Meshes = append(xw.Meshes, serviceConnectWorld(w.ecs.TrafficState(), w.cloudMap)...)
		xw.LoadBalancers = loadBalancerWorld(w.elb.State())
		return xw
	}
	if err := cp.Update(ctx, world()); err != nil {
		cancel()
		apiLn.Close()
		xdsLn.Close()
		_, _, _ = w.dns.Close(), w.route53.Close(), w.elb.Close()
		return nil, fmt.Errorf("xDS control plane: %w", err)
	}
	meshChanged, mapChanged, ecsChanged, elbChanged := mesh.Watch(ctx), w.cloudMap.Watch(ctx), w.ecs.Watch(ctx), w.elb.Watch(ctx)
	// A target in slow start changes its weight with time alone.
	slowStart := time.NewTicker(500 * time.Millisecond)
	w.wg.Add(4)
	go func() {
		defer w.wg.Done()
		w.cloudWatch.Run(ctx)
	}()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		// Container Insights publishes once a minute; ten AWS seconds
		// give alarms on task counts a datapoint in any period.
		publishTaskCounts(ctx, w.ecs, w.cloudWatch, max(10*time.Duration(float64(time.Second)/scale), 100*time.Millisecond))
	}()
	go func() {
		defer w.wg.Done()
		defer slowStart.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-meshChanged:
			case <-mapChanged:
			case <-ecsChanged:
			case <-elbChanged:
			case <-slowStart.C:
				if !w.elb.SlowStarting() {
					continue
				}
			}
			if err := cp.Update(ctx, world()); err != nil && ctx.Err() == nil {
				w.bus.Emit(events.Event{Source: contract.SourceXDS, Type: contract.EventXDSError, Detail: map[string]string{"error": err.Error()}})
			}
		}
	}()
	go func() {
		defer w.wg.Done()
		_ = cp.Serve(ctx, xdsLn)
	}()
	go func() {
		defer w.wg.Done()
		if err := w.httpSrv.Serve(endpoint.Listener(apiLn)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.bus.Emit(events.Event{Source: contract.SourceEndpoint, Type: contract.EventEndpointError, Detail: map[string]string{"error": err.Error()}})
		}
	}()
	context.AfterFunc(ctx, func() { _ = w.Close() })
	return w, nil
}

// Close stops every task (as ECS would on shutdown), the endpoint and the
// control plane.
func (w *World) Close() error {
	var err error
	w.once.Do(func() {
		err = errors.Join(w.ecs.Close(), w.elb.Close(), w.runtime.Close(), w.cloudMap.Close(), w.dns.Close(), w.route53.Close())
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if e := w.httpSrv.Shutdown(shutdown); e != nil {
			w.httpSrv.Close()
		}
		w.cancel()
		w.wg.Wait()
	})
	return err
}

// startSample runs the sample HTTP service of a task.
func startSample(ctx context.Context, c inproc.Container) (inproc.Process, error) {
	env := make(map[string]string, len(c.Env))
	for k, v := range c.Env {
		env[k] = v
	}
	// In a task, localhost is the task's own network namespace; in the
	// inproc runtime that is the task's loopback address.
	if p, ok := env[contract.EnvProxy]; ok {
		env[contract.EnvProxy] = inproc.TaskLocal(p, c.TaskIP)
	}
	cfg, err := sampleapp.ConfigFromEnv(env, c.TaskID, c.TaskIP)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	// The container lives until it is stopped or killed, not for the
	// duration of the call that started it.
	srv, err := sampleapp.Start(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	return serverProcess{srv}, nil
}

// startGRPC runs the sample gRPC service of a task.
func startGRPC(ctx context.Context, c inproc.Container) (inproc.Process, error) {
	cfg, err := grpcapp.ConfigFromEnv(c.Env, c.TaskID, c.TaskIP)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	srv, err := grpcapp.Start(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	return serverProcess{srv}, nil
}

// server is a sample service task: it shuts down gracefully (or abruptly,
// if so configured) or is closed, and may exit by itself (a crash).
type server interface {
	Shutdown(context.Context) error
	Close() error
	Done() <-chan struct{}
	Err() error
}

// serverProcess is a sample service task as an inproc.Process: Stop is
// SIGTERM, Kill is SIGKILL.
type serverProcess struct{ server }

// Stop implements inproc.Process.
func (p serverProcess) Stop(ctx context.Context) error {
	if err := p.Shutdown(ctx); err != nil {
		return errors.Join(err, p.server.Close())
	}
	return nil
}

// Kill implements inproc.Process.
func (p serverProcess) Kill() error { return p.server.Close() }

// startSidecar runs the embedded sidecar of a task, connected to the
// control plane unless the task definition names another one.
func startSidecar(ctx context.Context, c inproc.Container, xdsAddr string, bus *events.Bus) (inproc.Process, error) {
	env := map[string]string{contract.EnvXDSEndpoint: xdsAddr}
	for k, v := range c.Env {
		env[k] = v
	}
	cfg, err := sidecar.ConfigFromEnv(env, c.TaskIP)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	cfg.Bus = bus
	p, err := sidecar.Start(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	return sidecarProcess{p: p, exit: taskexit.New()}, nil
}

// sidecarProcess is an embedded sidecar as an inproc.Process: SIGTERM and
// SIGKILL both close it (Close drains with GOAWAY first).
type sidecarProcess struct {
	p    *sidecar.Proxy
	exit *taskexit.Exit
}

// Stop implements inproc.Process.
func (s sidecarProcess) Stop(context.Context) error { return s.Kill() }

// Kill implements inproc.Process.
func (s sidecarProcess) Kill() error {
	err := s.p.Close()
	s.exit.Exited(nil)
	return err
}

// Done implements inproc.Process.
func (s sidecarProcess) Done() <-chan struct{} { return s.exit.Done() }

// Err implements inproc.Process.
func (s sidecarProcess) Err() error { return s.exit.Err() }
