package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"gopkg.in/yaml.v3"
)

// validator checks a decoded scenario, one section at a time, after its
// defaults are filled in.
type validator struct {
	d    *decoder
	sc   *Scenario
	root Pos
	// services holds the names of the scenario's services, byName the
	// first service of each name.
	services map[string]bool
	byName   map[string]*Service
	// rolled is the service the rollout changes, if it exists.
	rolled *Service
}

// validate fills in the defaults of a decoded scenario, then checks each
// section and the references between them.
func (d *decoder) validate(sc *Scenario, root *yaml.Node) {
	v := &validator{d: d, sc: sc, root: d.pos(root), services: map[string]bool{}, byName: map[string]*Service{}}
	v.defaults()
	v.world()
	v.serviceList()
	v.backends()
	v.ingress()
	v.resourceNames()
	v.load()
	v.rollout()
	v.migration()
	v.loadBalancer()
	v.dns()
	v.steps()
	for i := range sc.Rollout.Deployments {
		v.deployment(i)
	}
	for i := range sc.Faults {
		v.fault(i)
	}
	v.assertions()
	v.capacity()
	v.length()
	v.tasks()
}

// tasks checks that the ECS fake will run all the tasks the scenario
// asks for (their desired counts, with the ingress's).
func (v *validator) tasks() {
	sc := v.sc
	total, ingresses := 0, 1
	for _, s := range sc.Services {
		switch {
		case len(s.Versions) == 0:
		case sc.Routing == RoutingMigration:
			total += 2 * s.Versions[0].Count
		case len(sc.Rollout.Deployments) > 0:
			total += s.Versions[0].Count
		default:
			for _, ver := range s.Versions {
				total += ver.Count
			}
		}
	}
	if sc.Routing == RoutingMigration {
		ingresses = 2
	}
	if total+ingresses > contract.DefaultMaxTasks {
		v.at(v.fieldPos("services"), "the scenario asks for %d tasks (with the ingress): meshsim's ECS runs at most %d", total+ingresses, contract.DefaultMaxTasks)
	}
}

// fieldPos returns the place of a top-level field, or the root's when the
// field is not given.
func (v *validator) fieldPos(field string) Pos {
	if k := v.d.topKeys[field]; k != nil {
		return v.d.pos(k)
	}
	return v.root
}

// at records a problem at p (the scenario's root when p is unknown).
func (v *validator) at(p Pos, format string, args ...any) {
	if p.Line == 0 {
		p = v.root
	}
	v.d.add(p, format, args...)
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
	v.loadBalancerDefaults()
	if sc.Routing == RoutingRoute53 {
		// The clients call the rolled service by its DNS name.
		setDefault(&sc.Ingress.Service, sc.Rollout.Service)
		setDefault(&sc.DNS.Zone, strings.ToLower(sc.Name)+".test")
		setDefault(&sc.DNS.Record, sc.Rollout.Service)
	}
	if sc.DNS.TTL < 0 {
		sc.DNS.TTL = DefaultDNSTTL
	}
	setDefault(&sc.DNS.Clients, DefaultDNSClients)
	setDefault(&sc.DNS.Cache, "ttl")
	if gw := sc.Ingress.VirtualGateway; gw != nil {
		if gw.Port == 0 {
			gw.Port = DefaultGatewayPort
		}
		if len(gw.Routes) == 0 {
			gw.Routes = []GatewayRoute{{Pos: gw.Pos}}
		}
		for i := range gw.Routes {
			r := &gw.Routes[i]
			setDefault(&r.Name, fmt.Sprintf("route-%d", i+1))
			setDefault(&r.Service, sc.Ingress.Service)
		}
	}
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
	if sc.Instrument.MaxCPUWait < 0 {
		sc.Instrument.MaxCPUWait = DefaultMaxCPUWait
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
	for j := range dep.Alarms {
		alarmDefaults(&dep.Alarms[j])
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
	if err := checkNamespace(v.sc.Namespace); err != nil {
		if v.d.topKeys["namespace"] == nil { // the default, MESH.local
			v.at(v.fieldPos("mesh"), "namespace %q (the default, MESH.local): %v: give namespace", v.sc.Namespace, err)
		} else {
			v.at(v.fieldPos("namespace"), "namespace %q: %v", v.sc.Namespace, err)
		}
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
		} else {
			v.byName[s.Name] = s
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
	tasks := 0
	seen := map[string]bool{}
	for _, ver := range s.Versions {
		tasks += ver.Count
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
	switch {
	case len(s.Versions) == 0:
	case v.sc.Routing == RoutingMigration || len(v.sc.Rollout.Deployments) > 0:
		// One ECS service per service, started with its first version.
		if s.Versions[0].Count == 0 {
			v.at(s.Versions[0].Pos, "service %q: version %q has count 0: the service starts with no task (its first version's count is its desired count)", s.Name, s.Versions[0].Name)
		}
	case tasks == 0:
		v.at(s.Pos, "service %q: every version has count 0: no task of it would ever run", s.Name)
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
	v.cycles()
}

// cycles reports each loop of calls between services (a → b → a): every
// request would go round it until it timed out.
func (v *validator) cycles() {
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(s *Service)
	visit = func(s *Service) {
		state[s.Name] = onPath
		path = append(path, s.Name)
		for _, b := range s.Backends {
			next, ok := v.service(b)
			if !ok || b == s.Name {
				continue // reported by backends
			}
			switch state[b] {
			case onPath:
				loop := append(slices.Clone(path[slices.Index(path, b):]), b)
				v.at(s.Pos, "services call each other in a loop: %s (each request would go round it until it timed out)", strings.Join(loop, " → "))
			case unvisited:
				visit(next)
			}
		}
		path = path[:len(path)-1]
		state[s.Name] = done
	}
	for i := range v.sc.Services {
		if s := &v.sc.Services[i]; state[s.Name] == unvisited {
			visit(s)
		}
	}
}

// reaches reports whether requests entering at service from reach service
// to through the services' backends.
func (v *validator) reaches(from, to string) bool {
	seen := map[string]bool{}
	queue := []string{from}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if name == to {
			return true
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if s, ok := v.service(name); ok {
			queue = append(queue, s.Backends...)
		}
	}
	return false
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
	if in.VirtualGateway != nil {
		v.virtualGateway(in.VirtualGateway)
	}
}

// DefaultGatewayPort is the listener port of an ingress virtual gateway
// that sets none.
const DefaultGatewayPort = 8088

// virtualGateway checks an ingress virtual gateway: App Mesh routing, an
// HTTP ingress service, a port of its own, and gateway routes that App
// Mesh would accept, each to a service of the scenario.
func (v *validator) virtualGateway(gw *VirtualGateway) {
	sc := v.sc
	if sc.Routing != RoutingAppMesh {
		v.at(gw.Pos, "ingress.virtualGateway is an App Mesh ingress: it needs routing %s, not %s", RoutingAppMesh, sc.Routing)
	}
	switch gw.Port {
	case contract.IngressPort, contract.EgressPort, contract.AdminPort:
		v.at(gw.Pos, "ingress.virtualGateway.port %d is taken by the proxy's own listeners (%d, %d, %d)", gw.Port, contract.IngressPort, contract.EgressPort, contract.AdminPort)
	}
	names := map[string]bool{}
	for i := range gw.Routes {
		r := &gw.Routes[i]
		if names[r.Name] {
			v.at(r.Pos, "ingress.virtualGateway.routes[%d].name %q is used by another route", i, r.Name)
		}
		names[r.Name] = true
		v.gatewayRoute(i, r)
	}
}

func (v *validator) gatewayRoute(i int, r *GatewayRoute) {
	at := func(format string, args ...any) {
		v.at(r.Pos, "ingress.virtualGateway.routes[%d] (%s): %s", i, r.Name, fmt.Sprintf(format, args...))
	}
	if s, ok := v.service(r.Service); !ok {
		at("service %q is not a service of this scenario", r.Service)
	} else if s.Protocol == ProtocolGRPC {
		at("service %q speaks grpc; an ingress virtual gateway carries HTTP load", r.Service)
	}
	switch {
	case r.Prefix != "" && r.Path != "":
		at("give prefix or path, not both")
	case r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/"), r.Path != "" && !strings.HasPrefix(r.Path, "/"):
		at("prefix and path start with \"/\"")
	case r.RewritePrefix != "" && r.Prefix == "":
		at("rewritePrefix needs a prefix")
	case r.RewritePath != "" && r.Path == "":
		at("rewritePath needs a path")
	case r.RewritePrefix != "" && r.RewritePrefix != "disabled" && !strings.HasPrefix(r.RewritePrefix, "/"):
		at("rewritePrefix is a path starting with \"/\", or \"disabled\", not %q", r.RewritePrefix)
	case r.RewritePath != "" && !strings.HasPrefix(r.RewritePath, "/"):
		at("rewritePath starts with \"/\", not %q", r.RewritePath)
	}
}

// load checks the load against the protocol of the service it enters.
func (v *validator) load() {
	sc := v.sc
	l := &sc.Load
	if l.Measure != "" && !v.services[l.Measure] {
		v.at(l.Pos, "load.measure %q is not a service of this scenario", l.Measure)
	}
	if in := sc.Ingress.Service; v.services[in] && v.services[l.Measure] && !v.reaches(in, l.Measure) {
		v.at(l.Pos, "load.measure %q: the load enters at %q and never reaches it through the services' backends", l.Measure, in)
	}
	in, ok := v.service(sc.Ingress.Service)
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
	svc, ok := v.service(r.Service)
	switch {
	case r.Service == "":
		v.at(r.Pos, "rollout.service is required")
	case !ok:
		v.at(r.Pos, "rollout.service %q is not a service of this scenario", r.Service)
	default:
		v.rolled = svc
		if in := sc.Ingress.Service; v.services[in] && !v.reaches(in, svc.Name) {
			v.at(r.Pos, "rollout.service %q: the load enters at %q and never reaches it through the services' backends, so the rollout would be rehearsed without traffic", svc.Name, in)
		}
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

// dns checks routing route53 and its dns section.
func (v *validator) dns() {
	sc := v.sc
	d := &sc.DNS
	if sc.Routing != RoutingRoute53 {
		if k := v.d.topKeys["dns"]; k != nil {
			v.at(v.d.pos(k), "dns configures Route 53 weighted records: it needs routing: %s", RoutingRoute53)
		}
		return
	}
	pos := d.Pos
	if pos.Line == 0 {
		pos = v.fieldPos("routing")
	}
	r := sc.Rollout
	switch {
	case len(r.Deployments) > 0:
		v.at(r.Pos, "routing %s shifts traffic with rollout.steps (the weights of Route 53 records), not deployments", RoutingRoute53)
	case sc.Ingress.Service != r.Service:
		v.at(sc.Ingress.Pos, "routing %s: the clients resolve the rolled service's name and call its tasks: ingress.service must be %q (or left out)", RoutingRoute53, r.Service)
	case v.rolled != nil && v.rolled.Protocol != ProtocolHTTP:
		v.at(v.rolled.Pos, "routing %s: service %q must speak http (the clients send HTTP requests)", RoutingRoute53, v.rolled.Name)
	}
	if d.TTL%time.Second != 0 || d.TTL > 2147483647*time.Second {
		v.at(pos, "dns.ttl %s: Route 53 takes a TTL of whole seconds, up to 2147483647", d.TTL)
	}
	for _, n := range []struct{ field, name string }{{"dns.zone", d.Zone}, {"dns.record", d.Record + "." + d.Zone}} {
		if err := checkDNSName(n.name); err != nil {
			v.at(pos, "%s %q: %v", n.field, n.name, err)
		}
	}
}

// checkDNSName checks a domain name as Route 53 takes it: labels of 1 to
// 63 letters, digits, '-' or '_', at most 253 characters.
func checkDNSName(name string) error {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("a domain name has 1 to 253 characters")
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || strings.Trim(strings.ToLower(l), "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return fmt.Errorf("label %q: use 1-63 letters, digits, '-' and '_'", l)
		}
	}
	return nil
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
	names := map[string]int{}
	for i := range r.Steps {
		st := &r.Steps[i]
		if j, dup := names[st.Name]; dup {
			v.at(st.Pos, "rollout.steps[%d].name %q is also the name of step %d: faults and reports find a step by its name", i, st.Name, j)
		}
		names[st.Name] = i
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
	if dep.Strategy != StrategyRolling && sc.Routing != RoutingServiceConnect && sc.Routing != RoutingALB {
		v.at(dep.Pos, "%s: strategy %s shifts traffic through Service Connect or a load balancer's listener rules: set routing: serviceconnect or alb", where, dep.Strategy)
	}
	for j := range i {
		if sc.Rollout.Deployments[j].Name == dep.Name {
			v.at(dep.Pos, "%s.name %q is also the name of deployments[%d]: faults and reports find a phase by its deployment's name", where, dep.Name, j)
			break
		}
	}
	if dep.Strategy == StrategyRolling && len(dep.Hooks) > 0 {
		v.at(dep.Hooks[0].Pos, "%s.hooks: ECS runs lifecycle hooks in BLUE_GREEN, LINEAR and CANARY deployments, not ROLLING: these would never be asked", where)
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
	v.alarms(where, dep, map[string]string{})
	for j, h := range dep.Hooks {
		if len(h.Stages) == 0 {
			v.at(h.Pos, "%s.hooks[%d].stages: name at least one lifecycle stage", where, j)
		}
		if h.MaxErrorRate < 0 && h.MaxP99 == 0 && h.Analysis == nil {
			v.at(h.Pos, "%s.hooks[%d]: give maxErrorRate, maxP99, analysis or several (the gate's criteria)", where, j)
		}
	}
}

// fault checks fault i.
func (v *validator) fault(i int) {
	sc := v.sc
	f := sc.Faults[i]
	fs, ok := v.service(f.Service)
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
	v.faultTime(i)
	if ok && f.Version != "" && len(sc.Rollout.Deployments) == 0 && sc.Routing != RoutingMigration {
		if ver := fs.Versions[slices.Index(fs.VersionNames(), f.Version)]; ver.Count == 0 && f.Action != "" {
			v.at(f.Pos, "faults[%d]: version %q of service %q has count 0: the fault would find no task", i, f.Version, f.Service)
		}
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

// faultTime checks that fault i fires during the rollout: its step exists,
// and (with route steps, whose length is known) it comes before the last
// step ends.
func (v *validator) faultTime(i int) {
	f := v.sc.Faults[i]
	steps := v.sc.Rollout.Steps
	var rest time.Duration // of the rollout, from where the fault counts
	for _, st := range steps {
		rest += st.Bake
	}
	from := "the load starts"
	if f.Step != "" {
		first := slices.IndexFunc(steps, func(st Step) bool { return strings.HasPrefix(st.Name, f.Step) })
		switch {
		case len(v.sc.Rollout.Deployments) > 0:
			v.faultPhase(i)
			return
		case first < 0:
			v.at(f.Pos, "faults[%d].step %q names no step (steps: %s): the fault would never fire", i, f.Step, strings.Join(stepNames(steps), ", "))
			return
		}
		rest, from = 0, fmt.Sprintf("step %q begins", steps[first].Name)
		for _, st := range steps[first:] {
			rest += st.Bake
		}
	}
	if when := max(f.At, f.After); len(steps) > 0 && when >= rest {
		v.at(f.Pos, "faults[%d] fires %s after %s, but the steps end %s after it: the fault would never fire", i, when, from, rest)
	}
}

func stepNames(steps []Step) []string {
	names := make([]string, len(steps))
	for i, st := range steps {
		names[i] = strconv.Quote(st.Name)
	}
	return names
}

// deploymentStatuses are the ECS service deployment statuses; a phase of
// a deployment with no lifecycle stage is named for its status, in lower
// case.
var deploymentStatuses = []string{"PENDING", "IN_PROGRESS", "SUCCESSFUL", "STOP_REQUESTED", "STOPPED",
	"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}

// faultPhase checks that the step of fault i names a phase of a
// deployment: phases are named "DEPLOYMENT: STAGE", "DEPLOYMENT: rollback
// STAGE" or "DEPLOYMENT: status".
func (v *validator) faultPhase(i int) {
	f := v.sc.Faults[i]
	var phases []string
	for _, st := range LifecycleStages {
		phases = append(phases, st, "rollback "+st)
	}
	for _, st := range deploymentStatuses {
		phases = append(phases, strings.ToLower(st))
	}
	var deps []string
	for _, dep := range v.sc.Rollout.Deployments {
		deps = append(deps, strconv.Quote(dep.Name))
		for _, ph := range phases {
			if strings.HasPrefix(dep.Name+": "+ph, f.Step) {
				return
			}
		}
	}
	v.at(f.Pos, "faults[%d].step %q names no phase of a deployment (phases are named \"DEPLOYMENT: STAGE\"; deployments: %s): the fault would never fire",
		i, f.Step, strings.Join(deps, ", "))
}

// resourceNames checks the names meshsim gives the AWS resources of each
// service: every ECS service (and App Mesh virtual node and Cloud Map
// service) is named for a service and, with route steps, a version
// (SERVICE-VERSION, '.' as '-'); with Service Connect the names are
// discovery names, in lower case.
func (v *validator) resourceNames() {
	sc := v.sc
	owner := map[string]string{} // ECS service name → what it is for
	claim := func(p Pos, name, what string) {
		if other, dup := owner[name]; dup {
			v.at(p, "%s and %s would both be the ECS service %q: rename one", what, other, name)
			return
		}
		owner[name] = what
		switch {
		case len(name) > 63:
			v.at(p, "%s would be the ECS service and Cloud Map service %q, %d characters long: Cloud Map takes at most 63 (shorten the names)", what, name, len(name))
		case sc.Routing != RoutingAppMesh && strings.ToLower(name) != name:
			v.at(p, "%s would be the Service Connect discovery name %q: Service Connect takes lower case letters, digits, '-' and '_'", what, name)
		}
	}
	for _, s := range sc.Services {
		if s.Name == "" {
			continue
		}
		if vs := s.Name + "." + sc.Namespace; len(vs) > 253 {
			v.at(s.Pos, "service %q: its virtual service name %q is %d characters long: a DNS name has at most 253", s.Name, vs, len(vs))
		}
		switch {
		case sc.Routing == RoutingMigration:
			claim(s.Pos, s.Name, fmt.Sprintf("service %q", s.Name))
			claim(s.Pos, s.Name+"-sc", fmt.Sprintf("the Service Connect twin of service %q", s.Name))
		case len(sc.Rollout.Deployments) > 0:
			claim(s.Pos, s.Name, fmt.Sprintf("service %q", s.Name))
		default:
			for _, ver := range s.Versions {
				if ver.Name != "" {
					claim(ver.Pos, s.Name+"-"+strings.ReplaceAll(ver.Name, ".", "-"), fmt.Sprintf("version %q of service %q", ver.Name, s.Name))
				}
			}
		}
	}
	claim(sc.Ingress.Pos, sc.Ingress.Name, "the ingress")
	if sc.Routing == RoutingMigration {
		claim(sc.Ingress.Pos, sc.Ingress.Name+"-sc", "the Service Connect ingress")
	}
}

// assertions checks that each assertion has something to judge.
func (v *validator) assertions() {
	for _, a := range v.sc.Asserts {
		switch a.Kind {
		case "deployments-as-expected":
			if len(v.sc.Rollout.Deployments) == 0 {
				v.at(a.Pos, "assertion %s judges ECS deployments: this rollout has none", a.Kind)
			}
		case "no-message-lost", "streams-resumed-within":
			if v.sc.Load.Streams == 0 {
				v.at(a.Pos, "assertion %s judges gRPC streams: give load.streams", a.Kind)
			}
		}
	}
}

// length checks that the rollout ends within MaxRollout of wall time.
func (v *validator) length() {
	var total time.Duration
	add := func(d time.Duration) {
		total = min(total+min(d, MaxRollout+1), MaxRollout+1) // no overflow
	}
	for _, st := range v.sc.Rollout.Steps {
		add(st.Bake)
	}
	for _, dep := range v.sc.Rollout.Deployments {
		one := Scenario{TimeScale: v.sc.TimeScale, Rollout: Rollout{Deployments: []Deployment{dep}}}
		add(one.Duration())
	}
	if total > MaxRollout {
		v.at(v.sc.Rollout.Pos, "the rollout would last more than %s of wall time, the most meshsim rehearses (use timeScale to shorten ECS's bake times)", MaxRollout)
	}
}

// service returns the service named name.
func (v *validator) service(name string) (*Service, bool) {
	s, ok := v.byName[name]
	return s, ok
}
