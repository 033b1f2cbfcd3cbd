package inproc

import (
	"context"

	"github.com/meshsim/meshsim/sim/ecs"
)

// Probe is a task definition's container health check understood as what
// it does: an HTTP GET with curl or wget, optionally piped through grep.
// Other runtimes (package docker) run health checks with it, so that every
// runtime accepts the same commands and judges them the same way.
type Probe struct {
	p *probe
}

// ParseProbe interprets a Docker health check command (["CMD-SHELL",
// "..."] or ["CMD", args...]) as a probe of the task at taskIP: a URL on
// localhost names the task's own address.
func ParseProbe(command []string, taskIP string) (*Probe, error) {
	p, err := parseHealthCheck(command, taskIP)
	if err != nil {
		return nil, err
	}
	return &Probe{p: p}, nil
}

// Run checks health as Docker does until ctx is done: every interval one
// probe of at most timeout; after retries consecutive failures the
// container is UNHEALTHY, after a success HEALTHY; failures during the
// start period do not count until the first success. Each change is
// reported.
func (p *Probe) Run(ctx context.Context, hc ecs.HealthCheck, report func(ecs.HealthStatus)) {
	runHealthCheck(ctx, p.p, hc, report)
}
