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
	EnvRunID      = "MESHSIM_RUN_ID"
	EnvNetwork    = "MESHSIM_NETWORK"
	EnvImage      = "MESHSIM_IMAGE"
	EnvXDSAddress = "MESHSIM_XDS_ADDRESS"
	EnvEnvoyImage = "MESHSIM_ENVOY_IMAGE"
	// EnvTimeScale and EnvDeregistrationDelay are the fakes' sim.Options
	// TimeScale (a number) and DeregistrationDelay (a Go duration).
	EnvTimeScale           = "MESHSIM_TIME_SCALE"
	EnvDeregistrationDelay = "MESHSIM_DEREGISTRATION_DELAY"
)

// RunFakes is what the fakes' container runs ("meshsim container fakes"):
// the AWS endpoint on port FakesAPIPort and the xDS control plane on
// FakesXDSPort, with an ECS fake whose tasks the docker runtime runs (on
// the engine behind DOCKER_HOST, the mounted socket). env names the run
// (MESHSIM_RUN_ID, MESHSIM_NETWORK, MESHSIM_IMAGE, MESHSIM_XDS_ADDRESS and
// optionally MESHSIM_ENVOY_IMAGE, MESHSIM_TIME_SCALE and
// MESHSIM_DEREGISTRATION_DELAY). It prints FakesReady to stdout once it
// serves, and returns when ctx is done (SIGTERM), after ECS has stopped
// every task.
func RunFakes(ctx context.Context, env map[string]string, stdout io.Writer) error {
	opts := Options{
		RunID:      env[EnvRunID],
		Network:    env[EnvNetwork],
		Image:      env[EnvImage],
		XDSAddress: env[EnvXDSAddress],
		EnvoyImage: env[EnvEnvoyImage],
	}
	for k, v := range map[string]string{EnvRunID: opts.RunID, EnvNetwork: opts.Network, EnvImage: opts.Image, EnvXDSAddress: opts.XDSAddress} {
		if v == "" {
			return fmt.Errorf("meshsim container fakes: %s is not set", k)
		}
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
	cli, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	simOpts.Runtime = func(bus *events.Bus) (sim.Runtime, error) {
		o := opts
		o.Bus = bus
		return New(cli, o)
	}
	world, err := sim.Start(context.WithoutCancel(ctx), simOpts)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, FakesReady)
	<-ctx.Done()
	return world.Close()
}

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
