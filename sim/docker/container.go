package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/sampleapp"
	"github.com/meshsim/meshsim/sim/sidecar"
)

// Environment of the fakes' container (see RunFakes).
const (
	EnvRunID = "MESHSIM_RUN_ID"
	// EnvTimeScale and EnvDeregistrationDelay are the fakes' sim.Options
	// TimeScale (a number) and DeregistrationDelay (a Go duration).
	EnvTimeScale           = "MESHSIM_TIME_SCALE"
	EnvDeregistrationDelay = "MESHSIM_DEREGISTRATION_DELAY"
)

// RunFakes is what the fakes' container runs ("meshsim container fakes"):
// the AWS endpoint on port FakesAPIPort and the xDS control plane on
// FakesXDSPort, with an ECS fake whose tasks the meshsim process on the
// host runs, asked over the control channel (FakesControlPort; see
// control.go): the container holds no Docker socket. env names the run
// (MESHSIM_RUN_ID, MESHSIM_CONTROL_TOKEN and optionally
// MESHSIM_TIME_SCALE and MESHSIM_DEREGISTRATION_DELAY). It prints
// FakesReady to stdout once it serves, and returns when ctx is done
// (SIGTERM), after ECS has stopped every task, or when the control
// channel is lost (the meshsim process is gone: no heartbeat for
// HeartbeatTimeout, or its connection closed), with an error that says so.
func RunFakes(ctx context.Context, env map[string]string, stdout io.Writer) error {
	if env[EnvRunID] == "" {
		return fmt.Errorf("meshsim container fakes: %s is not set", EnvRunID)
	}
	simOpts := sim.Options{Addr: ":" + strconv.Itoa(FakesAPIPort), XDSAddr: ":" + strconv.Itoa(FakesXDSPort)}
	if v := env[EnvTimeScale]; v != "" {
		scale, err := strconv.ParseFloat(v, 64)
		if err != nil || scale < 0 {
			return fmt.Errorf("meshsim container fakes: %s=%q: not a non-negative number", EnvTimeScale, v)
		}
		simOpts.TimeScale = scale
	}
	if v := env[EnvDeregistrationDelay]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("meshsim container fakes: %s=%q: not a non-negative duration", EnvDeregistrationDelay, v)
		}
		simOpts.DeregistrationDelay = d
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var rt *remote
	simOpts.Runtime = func(bus *events.Bus) (sim.Runtime, error) {
		var err error
		rt, err = listenControl(":"+strconv.Itoa(FakesControlPort), env[EnvControlToken], bus)
		return rt, err
	}
	world, err := sim.Start(context.WithoutCancel(ctx), simOpts)
	if err != nil {
		return err
	}
	go rt.serve(ctx)
	fmt.Fprintln(stdout, FakesReady)
	select {
	case <-ctx.Done():
		return world.Close()
	case <-rt.Lost():
	}
	// Nothing can stop the tasks now but the kernel: when this process,
	// the first of the PID namespace the tasks share, exits, it kills
	// them. So exit soon, even if closing the world waits on them (the
	// sidecars' xDS streams).
	lost := fmt.Errorf("meshsim container fakes: stopping, the meshsim process that started run %s is gone (%v)", env[EnvRunID], rt.why)
	fmt.Fprintln(stdout, lost)
	closed := make(chan error, 1)
	go func() { closed <- world.Close() }()
	select {
	case err := <-closed:
		return errors.Join(lost, err)
	case <-time.After(orphanCloseTimeout):
		return lost
	}
}

// orphanCloseTimeout bounds closing the world of fakes whose meshsim
// process is gone.
const orphanCloseTimeout = 2 * time.Second

// RunApp is what a sample service container runs ("meshsim container
// app"): the sample HTTP service configured by env as the inproc runtime
// configures it (sampleapp.ConfigFromEnv), for the task MESHSIM_TASK_ID,
// listening on every interface of the task's network namespace. It
// returns when ctx is done (SIGTERM), after a graceful shutdown, or with
// an error when the service crashes by itself.
func RunApp(ctx context.Context, env map[string]string) error {
	cfg, err := sampleapp.ConfigFromEnv(env, env[EnvTaskID], "")
	if err != nil {
		return err
	}
	srv, err := sampleapp.Start(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return err
	}
	return serve(ctx, srv)
}

// RunGRPC is what a sample gRPC service container runs ("meshsim
// container grpc"): as RunApp, with grpcapp.ConfigFromEnv.
func RunGRPC(ctx context.Context, env map[string]string) error {
	cfg, err := grpcapp.ConfigFromEnv(env, env[EnvTaskID], "")
	if err != nil {
		return err
	}
	srv, err := grpcapp.Start(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return err
	}
	return serve(ctx, srv)
}

// server is a running sample service.
type server interface {
	Done() <-chan struct{}
	Err() error
	Shutdown(context.Context) error
}

// serve waits until srv exits by itself (returning why) or ctx is done
// (then shutting it down gracefully; Docker kills the container when its
// stop timeout is over).
func serve(ctx context.Context, srv server) error {
	select {
	case <-srv.Done():
		return srv.Err()
	case <-ctx.Done():
	}
	return srv.Shutdown(context.Background())
}

// RunSidecar is what an embedded sidecar container runs ("meshsim
// container sidecar"): the sidecar configured by env as App Mesh's Envoy
// image is (sidecar.ConfigFromEnv), its listeners on every interface of
// the task's network namespace. It returns when ctx is done (SIGTERM).
func RunSidecar(ctx context.Context, env map[string]string) error {
	cfg, err := sidecar.ConfigFromEnv(env, "0.0.0.0")
	if err != nil {
		return err
	}
	p, err := sidecar.Start(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	if err := p.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
