package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// validator checks a decoded scenario, one section at a time, after its
// defaults are filled in.
type validator struct {
	d    *decoder
	sc   *Scenario
	root Pos
	// services holds the names of the scenario's services.
	services map[string]bool
	// rolled is the service the rollout changes, if it exists.
	rolled *Service
}

// validate fills in the defaults of a decoded scenario, then checks each
// section and the references between them.
func (d *decoder) validate(sc *Scenario, root *yaml.Node) {
	v := &validator{d: d, sc: sc, root: d.pos(root), services: map[string]bool{}}
	v.defaults()
	v.world()
	v.serviceList()
	v.backends()
	v.ingress()
	v.load()
	v.rollout()
	v.migration()
	v.steps()
	for i := range sc.Rollout.Deployments {
		v.deployment(i)
	}
	for i := range sc.Faults {
		v.fault(i)
	}
}

// at records a problem at p (the scenario's root when p is unknown).
func (v *validator) at(p Pos, format string, args ...any) {
	if p.Line == 0 {
		p = v.root
	}
	v.d.errs = append(v.d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// defaults fills in every field left out that has a default.
func (v *validator) defaults() {
	sc := v.sc
	setDefault(&sc.Region, "us-east-1")
	setDefault(&sc.Cluster, sc.Name)
	setDefault(&sc.Mesh, sc.Name)
	setDefault(&sc.Namespace, sc.Mesh+".local")
	setDefault(&sc.Routing, RoutingAppMesh)
	setDefault(&sc.TimeScale, 1)
	for i := range sc.Services {
		s := &sc.Services[i]
		setDefault(&s.Port, 8080)
		setDefault(&s.HealthCheckPath, "/health")
		setDefault(&s.Protocol, ProtocolHTTP)
		setDefault(&s.PortEnv, DefaultPortEnv)
		setDefault(&s.HostEnv, DefaultHostEnv)
	}
	setDefault(&sc.Ingress.Name, "ingress")
	v.loadDefaults()
	r := &sc.Rollout
	if sc.Routing == RoutingMigration {
		setDefault(&r.Service, sc.Ingress.Service) // the split is judged where load enters
	}
	setDefault(&sc.Load.Measure, r.Service)
	for i := range r.Steps {
		setDefault(&r.Steps[i].Name, fmt.Sprintf("step %d", i+1))
	}
	for i := range r.Deployments {
		deploymentDefaults(&r.Deployments[i], i)
	}
	if sc.Instrument.MaxLag < 0 {
		sc.Instrument.MaxLag = DefaultMaxLag
	}
	if sc.Instrument.MinAchieved < 0 {
		sc.Instrument.MinAchieved = DefaultMinAchieved
	}
}

func (v *validator) loadDefaults() {
	l := &v.sc.Load
	setDefault(&l.Rate, 200)
	setDefault(&l.Timeout, 2*time.Second)
	if l.TargetsFile == "" && len(l.Requests) == 0 {
		setDefault(&l.Path, "/")
	}
	setDefault(&l.StreamKind, "subscribe")
	setDefault(&l.Client, "sidecar")
	setDefault(&l.Connections, 4)
}

// deploymentDefaults fills in ECS's defaults of deployment i and meshsim's
// of its hooks.
func deploymentDefaults(dep *Deployment, i int) {
	setDefault(&dep.Name, fmt.Sprintf("deployment %d", i+1))
	setDefault(&dep.Strategy, StrategyRolling)
	if dep.MinimumHealthyPercent < 0 {
		dep.MinimumHealthyPercent = 100
	}
	if dep.MaximumPercent < 0 {
		dep.MaximumPercent = 200
	}
	setDefault(&dep.Expect, "SUCCESSFUL")
	setDefault(&dep.Hold, 5*time.Second)
	switch dep.Strategy {
	case StrategyCanary:
		setDefault(&dep.CanaryPercent, 5)
		setDefault(&dep.CanaryBake, 10*time.Minute)
	case StrategyLinear:
		setDefault(&dep.LinearPercent, 10)
		setDefault(&dep.LinearBake, 6*time.Minute)
	}
	for j := range dep.Hooks {
		h := &dep.Hooks[j]
		setDefault(&h.Window, DefaultHookWindow)
		if h.MinRequests < 0 {
			h.MinRequests = DefaultHookMinRequests
		}
		if h.NoDataWait < 0 {
			h.NoDataWait = DefaultHookNoDataWait
		}
		setDefault(&h.OnNoData, OnNoDataRollback)
	}
}

// setDefault sets *dst to def when it is the zero value.
func setDefault[T comparable](dst *T, def T) {
	var zero T
	if *dst == zero {
		*dst = def
	}
}

// world checks the top-level names.
func (v *validator) world() {
	if v.sc.Name == "" {
		v.at(v.root, "name is required")
	}
}

// serviceList checks the services and their versions.
func (v *validator) serviceList() {
	sc := v.sc
	if len(sc.Services) == 0 {
		v.at(v.root, "services: at least one service is required")
	}
	for i := range sc.Services {
		s := &sc.Services[i]
		if s.Name == "" {
			v.at(s.Pos, "services[].name is required")
			continue
		}
		if v.services[s.Name] {
			v.at(s.Pos, "service %q is defined twice", s.Name)
		}
		v.services[s.Name] = true
		v.versions(s)
	}
}

// versions checks the versions of service s.
func (v *validator) versions(s *Service) {
	if len(s.Versions) == 0 {
		v.at(s.Pos, "service %q: versions: at least one version is required", s.Name)
	}
	seen := map[string]bool{}
	for _, ver := range s.Versions {
		if ver.Name == "" {
			v.at(ver.Pos, "service %q: versions[].name is required", s.Name)
		}
		if seen[ver.Name] {
			v.at(ver.Pos, "service %q: version %q is defined twice", s.Name, ver.Name)
		}
		seen[ver.Name] = true
		for _, name := range []string{s.PortEnv, s.HostEnv} {
			if _, ok := ver.Env[name]; ok && ver.UserSoftware() {
				v.at(ver.Pos, "service %q: version %q: env.%s is set by meshsim (the service's portEnv/hostEnv): rename the variable or set portEnv/hostEnv", s.Name, ver.Name, name)
			}
		}
	}
}

// backends checks the calls between services.
func (v *validator) backends() {
	for _, s := range v.sc.Services {
		if s.Retries != nil && v.sc.Routing == RoutingServiceConnect {
			v.at(s.Pos, "service %q: retries sets an App Mesh route retry policy; Service Connect has none", s.Name)
		}
		for _, b := range s.Backends {
			if !v.services[b] {
				v.at(s.Pos, "service %q: backend %q is not a service of this scenario", s.Name, b)
			}
			if b == s.Name {
				v.at(s.Pos, "service %q calls itself", s.Name)
			}
		}
		if s.Protocol == ProtocolGRPC && len(s.Backends) > 0 {
			v.at(s.Pos, "service %q: the sample gRPC service calls no backends (an http service can call it)", s.Name)
		}
	}
}

// ingress checks where the load enters.
func (v *validator) ingress() {
	in := v.sc.Ingress
	if v.services[in.Name] {
		v.at(in.Pos, "ingress.name %q is also the name of a service", in.Name)
	}
	if in.Service == "" {
		v.at(in.Pos, "ingress.service is required: the service load enters through")
	} else if !v.services[in.Service] {
		v.at(in.Pos, "ingress.service %q is not a service of this scenario", in.Service)
	}
}

// load checks the load against the protocol of the service it enters.
func (v *validator) load() {
	sc := v.sc
	l := &sc.Load
	if l.Measure != "" && !v.services[l.Measure] {
		v.at(l.Pos, "load.measure %q is not a service of this scenario", l.Measure)
	}
	in, ok := sc.Service(sc.Ingress.Service)
	if !ok {
		return
	}
	given := func(field string) bool { return v.d.loadKeys[field] != nil }
	if in.Protocol == ProtocolGRPC {
		if l.Client == "proxyless" && sc.Routing != RoutingAppMesh {
			v.at(l.Pos, "load.client proxyless takes App Mesh's xDS configuration: it needs routing: appmesh")
		}
		for _, f := range []string{"targetsFile", "requests"} {
			if given(f) {
				v.at(l.Pos, "load.%s is HTTP load; ingress service %q speaks grpc (use grpcMethod and grpcRequest)", f, in.Name)
			}
		}
		if len(l.GRPCRequest) > 0 && l.GRPCMethod == "" {
			v.at(l.Pos, "load.grpcRequest is the request of load.grpcMethod: give grpcMethod too")
		}
		if l.Protoset != "" && l.GRPCMethod == "" {
			v.at(l.Pos, "load.protoset describes load.grpcMethod: give grpcMethod too")
		}
		return
	}
	if given("streams") || given("client") {
		v.at(l.Pos, "load.streams and load.client apply to a gRPC ingress service; %q speaks http", in.Name)
	}
	for _, f := range []string{"grpcMethod", "grpcRequest", "protoset"} {
		if given(f) {
			v.at(l.Pos, "load.%s applies to a gRPC ingress service; %q speaks http", f, in.Name)
		}
	}
}

// rollout checks the shape of the rollout and the service it changes.
func (v *validator) rollout() {
	sc := v.sc
	r := &sc.Rollout
	svc, ok := sc.Service(r.Service)
	switch {
	case r.Service == "":
		v.at(r.Pos, "rollout.service is required")
	case !ok:
		v.at(r.Pos, "rollout.service %q is not a service of this scenario", r.Service)
	default:
		v.rolled = svc
	}
	switch {
	case len(r.Steps) == 0 && len(r.Deployments) == 0:
		v.at(r.Pos, "rollout: give steps (App Mesh route weights) or deployments (ECS UpdateService)")
	case len(r.Steps) > 0 && len(r.Deployments) > 0:
		v.at(r.Pos, "rollout: give steps or deployments, not both")
	case sc.Routing == RoutingMigration && len(r.Deployments) > 0:
		v.at(r.Pos, "routing %s weighs the load between the two stacks with rollout.steps, not deployments", RoutingMigration)
	case len(r.Steps) > 0 && sc.Routing == RoutingServiceConnect:
		v.at(r.Pos, "rollout.steps shift App Mesh route weights: they need routing: appmesh (use deployments with strategy LINEAR or CANARY for Service Connect)")
	}
}

// migration checks what a migration from App Mesh to Service Connect
// needs of the services.
func (v *validator) migration() {
	sc := v.sc
	if sc.Routing != RoutingMigration {
		return
	}
	for _, s := range sc.Services {
		if len(s.Versions) != 1 {
			v.at(s.Pos, "service %q: a migration runs one version of each service on both stacks, not %d", s.Name, len(s.Versions))
		}
		if s.Protocol == ProtocolGRPC && s.Name == sc.Ingress.Service {
			v.at(s.Pos, "service %q: a migration's load is HTTP: the ingress service must speak http", s.Name)
		}
	}
}

// steps checks the route weight steps and fills in the weight 0 of every
// version (or stack) a step leaves out.
func (v *validator) steps() {
	r := &v.sc.Rollout
	svc := v.rolled
	migration := v.sc.Routing == RoutingMigration
	var targets []string
	if svc != nil {
		targets = svc.VersionNames()
	}
	if migration {
		targets = []string{StackAppMesh, StackServiceConnect}
	}
	for i := range r.Steps {
		st := &r.Steps[i]
		if st.Bake <= 0 {
			v.at(st.Pos, "rollout.steps[%d].bake is required (how long the step holds, e.g. 10s)", i)
		}
		if len(st.Weights) == 0 {
			v.at(st.Pos, "rollout.steps[%d].weights is required", i)
			continue
		}
		sum := 0
		for _, name := range st.Order {
			sum += st.Weights[name]
			switch {
			case migration && !slices.Contains(targets, name):
				v.at(st.Pos, "rollout.steps[%d].weights: %q is not a stack of the migration (%s)", i, name, strings.Join(targets, ", "))
			case !migration && svc != nil && !slices.Contains(targets, name):
				v.at(st.Pos, "rollout.steps[%d].weights: %q is not a version of service %q (versions: %s)",
					i, name, svc.Name, strings.Join(targets, ", "))
			}
		}
		if svc != nil {
			for _, name := range targets {
				if _, ok := st.Weights[name]; !ok {
					st.Weights[name] = 0
					st.Order = append(st.Order, name)
				}
			}
		}
		if sum != 100 {
			v.at(st.Pos, "rollout.steps[%d].weights add up to %d, not 100", i, sum)
		}
	}
}

// deployment checks deployment i and its hooks.
func (v *validator) deployment(i int) {
	sc := v.sc
	dep := &sc.Rollout.Deployments[i]
	where := fmt.Sprintf("rollout.deployments[%d]", i)
	svc := v.rolled
	switch {
	case dep.To == "":
		v.at(dep.Pos, "%s.to is required: the version to deploy", where)
	case svc != nil && !slices.Contains(svc.VersionNames(), dep.To):
		v.at(dep.Pos, "%s.to: %q is not a version of service %q (versions: %s)", where, dep.To, svc.Name, strings.Join(svc.VersionNames(), ", "))
	}
	if dep.Strategy != StrategyRolling && sc.Routing != RoutingServiceConnect {
		v.at(dep.Pos, "%s: strategy %s shifts traffic through Service Connect (as ECS does without a load balancer): set routing: serviceconnect", where, dep.Strategy)
	}
	if dep.Strategy == StrategyBlueGreen && dep.Bake == 0 {
		v.at(dep.Pos, "%s.bake is required for BLUE_GREEN (ECS bakeTimeInMinutes)", where)
	}
	for _, b := range []struct {
		name string
		d    time.Duration
	}{{"bake", dep.Bake}, {"canary.bake", dep.CanaryBake}, {"linear.bake", dep.LinearBake}} {
		if b.d%time.Minute != 0 || b.d > 1440*time.Minute {
			v.at(dep.Pos, "%s.%s is %s: ECS takes whole minutes up to 1440 (use timeScale to rehearse faster)", where, b.name, b.d)
		}
	}
	for j, h := range dep.Hooks {
		if len(h.Stages) == 0 {
			v.at(h.Pos, "%s.hooks[%d].stages: name at least one lifecycle stage", where, j)
		}
		if h.MaxErrorRate < 0 && h.MaxP99 == 0 {
			v.at(h.Pos, "%s.hooks[%d]: give maxErrorRate, maxP99 or both (the gate's criteria)", where, j)
		}
	}
}

// fault checks fault i.
func (v *validator) fault(i int) {
	sc := v.sc
	f := sc.Faults[i]
	fs, ok := sc.Service(f.Service)
	switch {
	case f.Action == "":
		v.at(f.Pos, "faults[%d].action is required (%s)", i, joinValues(FaultActions))
	case f.Service == "":
		v.at(f.Pos, "faults[%d].service is required", i)
	case !ok:
		v.at(f.Pos, "faults[%d].service %q is not a service of this scenario", i, f.Service)
	case f.Version != "" && !slices.Contains(fs.VersionNames(), f.Version):
		v.at(f.Pos, "faults[%d].version %q is not a version of service %q", i, f.Version, f.Service)
	}
	if (f.Step == "") == (f.At == 0) {
		v.at(f.Pos, "faults[%d]: give either step (with after) or at", i)
	}
	if f.Step == "" && f.After > 0 {
		v.at(f.Pos, "faults[%d].after counts from the start of step: give step too", i)
	}
	switch {
	case f.Action == FaultDelay && f.Delay <= 0:
		v.at(f.Pos, "faults[%d]: action delay needs delay (the latency to add, e.g. 200ms)", i)
	case f.Action != FaultDelay && f.Delay != 0:
		v.at(f.Pos, "faults[%d].delay is for action delay", i)
	}
	switch {
	case f.Action == FaultDrop && f.Percent <= 0:
		v.at(f.Pos, "faults[%d]: action drop needs percent (the share of requests to drop, 1-100)", i)
	case f.Action != FaultDrop && f.Percent != 0:
		v.at(f.Pos, "faults[%d].percent is for action drop", i)
	}
}
