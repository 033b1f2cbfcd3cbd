// Package capacity runs capacity sweeps: it stands a scenario's world up
// (scenarios/engine.StandUp) with the sized service reached straight from
// the ingress, scales the service to 1, 2, 4… tasks through ECS
// UpdateService's desiredCount (as a user would), and at each task count
// offers stepped constant request rates (vegeta's constant pacer, an open
// model) through the ingress sidecar until the latency objective or the
// error budget is broken or throughput stops following the offered load,
// refining around the break. Every point records meshsim's own lag, CPU and
// the host's load, so that a point where meshsim, not the service,
// saturated is marked (reports/capacity leaves it out of the fits). The
// sweep ends by itself: at the task limit, the time limit, when adding
// tasks stops adding throughput, or when meshsim saturates.
package capacity

import (
	"fmt"
	"sort"

	"github.com/meshsim/meshsim/scenarios"
)

// Prepare returns the world a sweep of version ver of service svc needs:
// a copy of sc with that service (one task of the version, "" for its
// first) and the services it calls (their first versions), load entering straight at it through
// the ingress, and no rollout, faults or assertions.
func Prepare(sc *scenarios.Scenario, svc, ver string) (*scenarios.Scenario, scenarios.Version, error) {
	s, ok := sc.Service(svc)
	if !ok {
		var names []string
		for _, x := range sc.Services {
			names = append(names, x.Name)
		}
		return nil, scenarios.Version{}, fmt.Errorf("--service %q is not a service of scenario %s (services: %v)", svc, sc.Name, names)
	}
	if s.Protocol == scenarios.ProtocolGRPC {
		return nil, scenarios.Version{}, fmt.Errorf("--service %q speaks gRPC: capacity sweeps drive HTTP load only", svc)
	}
	v := s.Versions[0]
	if ver != "" {
		found := false
		for _, x := range s.Versions {
			if x.Name == ver {
				v, found = x, true
			}
		}
		if !found {
			return nil, scenarios.Version{}, fmt.Errorf("--version %q is not a version of service %s (versions: %v)", ver, svc, s.VersionNames())
		}
	}
	out := *sc
	out.Rollout = scenarios.Rollout{}
	out.Faults, out.Asserts = nil, nil
	if out.Routing == scenarios.RoutingMigration {
		out.Routing = scenarios.RoutingAppMesh
	}
	out.Ingress.Service = svc
	out.Load.Measure = svc
	keep := reachable(sc, svc)
	out.Services = nil
	for _, x := range sc.Services {
		if !keep[x.Name] {
			continue
		}
		// One version per service: the sized one, and each backend's
		// first (a backend with several would need a route's weights).
		one := x.Versions[0]
		if x.Name == svc {
			one = v
			one.Count = 1
		}
		x.Versions = []scenarios.Version{one}
		out.Services = append(out.Services, x)
	}
	return &out, v, nil
}

// reachable is svc and every service it calls, directly or not.
func reachable(sc *scenarios.Scenario, svc string) map[string]bool {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if s, ok := sc.Service(name); ok {
			b := append([]string(nil), s.Backends...)
			sort.Strings(b)
			for _, x := range b {
				visit(x)
			}
		}
	}
	visit(svc)
	return seen
}
