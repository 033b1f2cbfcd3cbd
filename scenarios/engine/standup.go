package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/awsclient"
)

// World is a scenario's world stood up for a measurement that is not a
// rollout (a capacity sweep, scenarios/capacity): its resources exist
// through the AWS APIs, its ECS services are stable and the data plane
// answers through the ingress. Whoever stood it up changes it through the
// AWS clients (UpdateService's desiredCount, as a user would) and tears it
// down with Close.
type World struct {
	w  *world
	ld *loadPlan
}

// StandUp creates sc's world through the AWS APIs at opts.Endpoint (as Run
// does, without a run directory or a rollout) and waits, up to
// opts.SetupTimeout (default 90s), until its services are stable and the
// data plane answers through the ingress with the measured service
// (sc.Load.Measure). The ingress service must speak HTTP. On error,
// whatever was created has been deleted again.
func StandUp(ctx context.Context, sc *scenarios.Scenario, opts Options) (*World, error) {
	if opts.SetupTimeout == 0 {
		opts.SetupTimeout = 90 * time.Second
	}
	if err := CheckUserSoftware(sc, opts.Runtime); err != nil {
		return nil, err
	}
	if in, ok := sc.Service(sc.Ingress.Service); !ok || (in.Protocol == scenarios.ProtocolGRPC && sc.Routing != scenarios.RoutingServiceConnect) {
		return nil, fmt.Errorf("ingress service %q: a stood-up world is measured with HTTP load; it is not an HTTP service", sc.Ingress.Service)
	}
	if sc.Routing == scenarios.RoutingMigration {
		return nil, errors.New("routing migration runs two stacks; stand up one (appmesh or serviceconnect)")
	}
	wld := &world{sc: sc, aws: awsclient.New(opts.Endpoint, sc.Region)}
	setupCtx, cancel := context.WithTimeout(ctx, opts.SetupTimeout)
	defer cancel()
	fail := func(err error) (*World, error) {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return nil, errors.Join(setupError(ctx, err), wld.teardown(tctx))
	}
	if err := wld.create(setupCtx); err != nil {
		return fail(err)
	}
	if err := wld.waitStable(setupCtx, opts.SetupTimeout); err != nil {
		return fail(err)
	}
	ip, err := wld.taskIP(setupCtx, sc.Ingress.Name)
	if err != nil {
		return fail(err)
	}
	ld := planLoad(sc, opts, &meters{}, wld, ip, "")
	if err := ld.ready(setupCtx); err != nil {
		return fail(err)
	}
	return &World{w: wld, ld: ld}, nil
}

// ECS returns the ECS client the world was created with.
func (w *World) ECS() *ecs.Client { return w.w.aws.ECS }

// Cluster is the ECS cluster's name.
func (w *World) Cluster() string { return w.w.sc.Cluster }

// ECSService names the ECS service that runs version ver of service svc.
func (w *World) ECSService(svc, ver string) string { return versionName(svc, ver) }

// WaitStable waits, with the SDK's services-stable waiter, until every ECS
// service of the world runs its desired count, up to max.
func (w *World) WaitStable(ctx context.Context, max time.Duration) error {
	return w.w.waitStable(ctx, max)
}

// HTTPLoad is the scenario's HTTP load through the ingress (target, Host,
// requests, timeout, measured service), at rate for duration; the caller
// may set the rest (Meter, MaxWorkers).
func (w *World) HTTPLoad(rate float64, duration time.Duration) (loadgen.HTTPConfig, error) {
	sc := w.w.sc
	reqs, err := httpRequests(sc.Load)
	if err != nil {
		return loadgen.HTTPConfig{}, err
	}
	return loadgen.HTTPConfig{
		Target: w.ld.target, Host: w.ld.host, Method: http.MethodGet, Requests: reqs,
		Rate: rate, Duration: duration, Timeout: sc.Load.Timeout, MeasuredService: sc.Load.Measure,
	}, nil
}

// Close deletes the world through the AWS APIs (scaling every service to
// zero first), within 30 seconds.
func (w *World) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.w.teardown(ctx); err != nil {
		return err
	}
	return nil
}

// DeploymentConfiguration returns the ECS service's minimumHealthyPercent
// and maximumPercent, as DescribeServices reports them.
func (w *World) DeploymentConfiguration(ctx context.Context, ecsService string) (minHealthy, maxPercent int, err error) {
	out, err := w.w.aws.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(w.Cluster()), Services: []string{ecsService}})
	if err != nil {
		return 0, 0, fmt.Errorf("ecs DescribeServices %s: %w", ecsService, err)
	}
	if len(out.Services) == 0 || out.Services[0].DeploymentConfiguration == nil {
		return 0, 0, fmt.Errorf("ecs DescribeServices %s: no deployment configuration", ecsService)
	}
	dc := out.Services[0].DeploymentConfiguration
	return int(aws.ToInt32(dc.MinimumHealthyPercent)), int(aws.ToInt32(dc.MaximumPercent)), nil
}
