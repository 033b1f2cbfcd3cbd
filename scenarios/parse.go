package scenarios

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a scenario file, at a place.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors is every problem found in a scenario file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Parse parses a scenario from data; file names it in errors. The error, if
// any, is an Errors listing every problem with its file:line:col.
func Parse(file string, data []byte) (*Scenario, error) {
	root, perr := document(file, data)
	if perr != nil {
		return nil, Errors{perr}
	}
	d := &decoder{file: file, dir: baseDir(file)}
	d.end.Line, d.end.Column = runePos(data, len(data))
	sc := d.scenario(root.Content[0])
	sc.Source = file
	if len(d.errs) == 0 {
		d.validate(sc, root.Content[0])
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i].Pos, d.errs[j].Pos
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		if n := len(d.errs) + d.more; n > maxShownErrors {
			d.errs = append(d.errs[:maxShownErrors], &Error{Pos: d.errs[maxShownErrors].Pos, Msg: fmt.Sprintf("and %d more problems from here on", n-maxShownErrors)})
		}
		return nil, d.errs
	}
	return sc, nil
}

type decoder struct {
	file string
	// dir is the directory relative paths in the scenario are resolved
	// against ("" for the working directory).
	dir  string
	errs Errors
	// more counts the problems found beyond maxKeptErrors.
	more int
	// end is the place just after the file's last character.
	end Pos
	// topKeys and loadKeys are the key nodes of the fields given at the
	// top level and in the load section.
	topKeys, loadKeys map[string]*yaml.Node
}

// pos returns the place of n. yaml.v3 places an empty value at the end of
// a file on the line after it; that is the file's end.
func (d *decoder) pos(n *yaml.Node) Pos {
	if n.Line > d.end.Line || (n.Line == d.end.Line && n.Column > d.end.Column) {
		return Pos{File: d.file, Line: d.end.Line, Column: d.end.Column}
	}
	return Pos{File: d.file, Line: n.Line, Column: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.add(d.pos(n), format, args...)
}

// add records a problem at p; beyond maxKeptErrors it only counts it.
func (d *decoder) add(p Pos, format string, args ...any) {
	if len(d.errs) >= maxKeptErrors {
		d.more++
		return
	}
	d.errs = append(d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// maxKeptErrors and maxShownErrors bound the problems a parse keeps and
// reports: a file of a million bad lines gets a short answer.
const (
	maxKeptErrors  = 1000
	maxShownErrors = 50
)

// fields walks a mapping node, calling the handler of each known key with
// its value node; unknown and repeated keys are errors. It returns the key
// nodes of the fields given.
func (d *decoder) fields(n *yaml.Node, what string, handlers map[string]func(v *yaml.Node)) map[string]*yaml.Node {
	seen := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			d.errorf(k, "unknown field %q in %s (known: %s)", k.Value, what, knownKeys(handlers))
			continue
		}
		if seen[k.Value] != nil {
			d.errorf(k, "field %q appears twice in %s", k.Value, what)
			continue
		}
		seen[k.Value] = k
		h(v)
	}
	return seen
}

func knownKeys(m map[string]func(*yaml.Node)) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "empty"
}

func (d *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, not %s", field, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, field string, dst *string) {
	if s, ok := d.scalar(n, field); ok {
		*dst = s
	}
}

func (d *decoder) name(n *yaml.Node, field string, dst *string) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	if !validName.MatchString(s) {
		d.errorf(n, "%s %q: use 1-48 letters, digits and '-', starting with a letter", field, s)
		return
	}
	*dst = s
}

var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,47}$`)

// validVersion allows version numbers such as 0.9 or 1.2.3 too.
var validVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,31}$`)

func (d *decoder) versionName(n *yaml.Node, dst *string) {
	s, ok := d.scalar(n, "versions[].name")
	if !ok {
		return
	}
	if !validVersion.MatchString(s) {
		d.errorf(n, "versions[].name %q: use 1-32 letters, digits, '.' and '-'", s)
		return
	}
	*dst = s
}

func (d *decoder) integer(n *yaml.Node, field string, min, max int, dst *int) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		d.errorf(n, "%s must be a whole number, not %q", field, s)
		return
	}
	if v < min || v > max {
		d.errorf(n, "%s must be between %d and %d, not %d", field, min, max, v)
		return
	}
	*dst = v
}

func (d *decoder) float(n *yaml.Node, field string, min, max float64, dst *float64) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d.errorf(n, "%s must be a number, not %q", field, s)
		return
	}
	if v < min || v > max {
		d.errorf(n, "%s must be between %g and %g, not %g", field, min, max, v)
		return
	}
	*dst = v
}

func (d *decoder) oneOf(n *yaml.Node, field string, allowed []string, dst *string) {
	enum(d, n, field, allowed, dst)
}

// enum decodes a value that must be one of allowed.
func enum[T ~string](d *decoder, n *yaml.Node, field string, allowed []T, dst *T) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	if !slices.Contains(allowed, T(s)) {
		d.errorf(n, "%s must be one of %s, not %q", field, joinValues(allowed), s)
		return
	}
	*dst = T(s)
}

func joinValues[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func (d *decoder) boolean(n *yaml.Node, field string, dst *bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	switch s {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		d.errorf(n, "%s must be true or false, not %q", field, s)
	}
}

func (d *decoder) duration(n *yaml.Node, field string, dst *time.Duration) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.errorf(n, "%s must be a duration such as 500ms, 10s or 2m, not %q", field, s)
		return
	}
	if v > MaxDuration {
		d.errorf(n, "%s is %s: meshsim takes durations up to %s", field, s, MaxDuration)
		return
	}
	*dst = v
}

func (d *decoder) list(n *yaml.Node, field string, each func(item *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, not %s", field, kindName(n))
		return
	}
	items := n.Content
	if limit, ok := maxItems[field]; ok && len(items) > limit {
		d.errorf(items[limit], "%s: at most %d, not %d (meshsim's limit)", field, limit, len(items))
		items = items[:limit]
	}
	for _, item := range items {
		each(item)
	}
}

// maxItems bounds the lists of a scenario: beyond them a rehearsal would
// not run on one machine, or AWS would refuse it (ECS takes at most 10
// lifecycle hooks).
var maxItems = map[string]int{
	"services": 100, "services[].backends": 100, "services[].versions": 50,
	"load.requests": 10000, "rollout.steps": 1000, "rollout.deployments": 100,
	"deployments[].hooks": 10, "hooks[].stages": len(LifecycleStages), "deployments[].alarms": 10,
	"faults": 1000, "assertions": 100, "compare.gate": 7, "ingress.virtualGateway.routes": 50,
}

// CompareFamilies are the metric families `meshsim compare` can gate on
// (reports.Families).
var CompareFamilies = []string{"errors", "weights", "latency", "latency-tail", "streams", "propagation", "deployments"}

func (d *decoder) scenario(n *yaml.Node) *Scenario {
	sc := &Scenario{Instrument: Instrument{MaxLag: -1, MinAchieved: -1, MaxCPUWait: -1}, Capacity: Capacity{ErrorBudget: -1}, DNS: DNS{TTL: -1, KeepAlive: true}}
	d.topKeys = d.fields(n, "the scenario", map[string]func(*yaml.Node){
		"name":        func(v *yaml.Node) { d.name(v, "name", &sc.Name) },
		"description": func(v *yaml.Node) { d.label(v, "description", 1000, &sc.Description) },
		"region":      func(v *yaml.Node) { d.pattern(v, "region", regionName, &sc.Region) },
		"cluster":     func(v *yaml.Node) { d.pattern(v, "cluster", clusterName, &sc.Cluster) },
		"mesh":        func(v *yaml.Node) { d.pattern(v, "mesh", meshName, &sc.Mesh) },
		"namespace":   func(v *yaml.Node) { d.str(v, "namespace", &sc.Namespace) },
		"routing":     func(v *yaml.Node) { enum(d, v, "routing", Routings, &sc.Routing) },
		"timeScale":   func(v *yaml.Node) { d.float(v, "timeScale", 1, 100000, &sc.TimeScale) },
		"services": func(v *yaml.Node) {
			d.list(v, "services", func(item *yaml.Node) { sc.Services = append(sc.Services, d.service(item)) })
		},
		"ingress":      func(v *yaml.Node) { sc.Ingress = d.ingress(v) },
		"loadBalancer": func(v *yaml.Node) { sc.LoadBalancer = d.loadBalancer(v) },
		"load":         func(v *yaml.Node) { sc.Load = d.load(v) },
		"rollout":      func(v *yaml.Node) { sc.Rollout = d.rollout(v) },
		"faults": func(v *yaml.Node) {
			d.list(v, "faults", func(item *yaml.Node) { sc.Faults = append(sc.Faults, d.fault(item)) })
		},
		"instrument": func(v *yaml.Node) { sc.Instrument = d.instrument(v) },
		"capacity":   func(v *yaml.Node) { sc.Capacity = d.capacity(v) },
		"compare":    func(v *yaml.Node) { sc.Compare = d.compare(v) },
		"dns":        func(v *yaml.Node) { sc.DNS = d.dns(v) },
		"assertions": func(v *yaml.Node) {
			d.list(v, "assertions", func(item *yaml.Node) {
				if a, ok := d.assertion(item); ok {
					sc.Asserts = append(sc.Asserts, a)
				}
			})
		},
	})
	return sc
}

func (d *decoder) dns(n *yaml.Node) DNS {
	dns := DNS{TTL: -1, KeepAlive: true, Pos: d.pos(n)}
	d.fields(n, "dns", map[string]func(*yaml.Node){
		"zone":               func(v *yaml.Node) { d.str(v, "dns.zone", &dns.Zone) },
		"record":             func(v *yaml.Node) { d.str(v, "dns.record", &dns.Record) },
		"ttl":                func(v *yaml.Node) { d.duration(v, "dns.ttl", &dns.TTL) },
		"clients":            func(v *yaml.Node) { d.integer(v, "dns.clients", 1, 10000, &dns.Clients) },
		"cache":              func(v *yaml.Node) { d.oneOf(v, "dns.cache", []string{"ttl", "forever", "none"}, &dns.Cache) },
		"keepAlive":          func(v *yaml.Node) { d.boolean(v, "dns.keepAlive", &dns.KeepAlive) },
		"connectionLifetime": func(v *yaml.Node) { d.duration(v, "dns.connectionLifetime", &dns.ConnectionLifetime) },
		"healthChecks":       func(v *yaml.Node) { d.boolean(v, "dns.healthChecks", &dns.HealthChecks) },
	})
	return dns
}

func (d *decoder) service(n *yaml.Node) Service {
	s := Service{Pos: d.pos(n)}
	d.fields(n, "a service", map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { d.name(v, "services[].name", &s.Name) },
		"port": func(v *yaml.Node) {
			var p int
			d.integer(v, "services[].port", 1, 65535, &p)
			s.Port = uint32(p)
		},
		"backends": func(v *yaml.Node) {
			d.list(v, "services[].backends", func(item *yaml.Node) {
				var b string
				d.name(item, "services[].backends[]", &b)
				s.Backends = append(s.Backends, b)
			})
		},
		"healthCheckPath": func(v *yaml.Node) { d.healthCheckPath(v, &s.HealthCheckPath) },
		"protocol":        func(v *yaml.Node) { enum(d, v, "services[].protocol", Protocols, &s.Protocol) },
		"portEnv":         func(v *yaml.Node) { d.envName(v, "services[].portEnv", &s.PortEnv) },
		"hostEnv":         func(v *yaml.Node) { d.envName(v, "services[].hostEnv", &s.HostEnv) },
		"serviceFile":     func(v *yaml.Node) { d.jsonFile(v, "services[].serviceFile", &s.ServiceFile) },
		"retries": func(v *yaml.Node) {
			var n int
			d.integer(v, "services[].retries", 0, 25, &n)
			s.Retries = &n
		},
		"versions": func(v *yaml.Node) {
			d.list(v, "services[].versions", func(item *yaml.Node) { s.Versions = append(s.Versions, d.version(item)) })
		},
	})
	return s
}

func (d *decoder) version(n *yaml.Node) Version {
	v := Version{Count: 1, Pos: d.pos(n)}
	keys := d.fields(n, "a version", map[string]func(*yaml.Node){
		"name":    func(x *yaml.Node) { d.versionName(x, &v.Name) },
		"count":   func(x *yaml.Node) { d.integer(x, "versions[].count", 0, 50, &v.Count) },
		"latency": func(x *yaml.Node) { d.duration(x, "versions[].latency", &v.Latency) },
		"latencyDistribution": func(x *yaml.Node) {
			d.oneOf(x, "versions[].latencyDistribution", []string{"fixed", "exponential", "uniform", "lognormal"}, &v.LatencyDist)
		},
		"cpu":         func(x *yaml.Node) { d.duration(x, "versions[].cpu", &v.CPU) },
		"concurrency": func(x *yaml.Node) { d.integer(x, "versions[].concurrency", 0, 100000, &v.Concurrency) },
		"errorRate":   func(x *yaml.Node) { d.float(x, "versions[].errorRate", 0, 1, &v.ErrorRate) },
		"startDelay":  func(x *yaml.Node) { d.duration(x, "versions[].startDelay", &v.StartDelay) },
		"shutdown":    func(x *yaml.Node) { d.oneOf(x, "versions[].shutdown", []string{"graceful", "abrupt"}, &v.Shutdown) },
		"drain":       func(x *yaml.Node) { d.duration(x, "versions[].drain", &v.Drain) },
		"crashAfter":  func(x *yaml.Node) { d.duration(x, "versions[].crashAfter", &v.CrashAfter) },
		"health": func(x *yaml.Node) {
			var h string
			d.oneOf(x, "versions[].health", []string{"ok", "fail"}, &h)
			v.FailHealth = h == "fail"
		},
		"image":              func(x *yaml.Node) { d.image(x, &v.Image) },
		"command":            func(x *yaml.Node) { d.command(x, &v.Command) },
		"env":                func(x *yaml.Node) { v.Env = d.env(x, "versions[].env") },
		"taskDefinitionFile": func(x *yaml.Node) { d.jsonFile(x, "versions[].taskDefinitionFile", &v.TaskDefinitionFile) },
		"stopTimeout":        func(x *yaml.Node) { d.stopTimeout(x, &v.StopTimeout) },
	})
	d.checkSoftware(v, keys)
	return v
}

// sampleKnobs are the fields that shape meshsim's sample service.
var sampleKnobs = []string{"latency", "latencyDistribution", "cpu", "concurrency", "errorRate", "startDelay", "shutdown", "drain", "crashAfter", "health"}

// checkSoftware checks that a version is either a sample or the user's
// software, and names one way to run the latter.
func (d *decoder) checkSoftware(v Version, keys map[string]*yaml.Node) {
	if !v.UserSoftware() {
		return
	}
	for _, k := range sampleKnobs {
		if n := keys[k]; n != nil {
			d.errorf(n, "versions[].%s shapes meshsim's sample service; version %q runs your software (image, command or taskDefinitionFile): remove it", k, v.Name)
		}
	}
	if v.Image != "" && len(v.Command) > 0 {
		d.errorf(keys["command"], "versions[]: give image (run with --runtime docker) or command (a local process, the inproc runtime), not both")
	}
}

func (d *decoder) ingress(n *yaml.Node) Ingress {
	in := Ingress{Pos: d.pos(n)}
	d.fields(n, "ingress", map[string]func(*yaml.Node){
		"name":    func(v *yaml.Node) { d.name(v, "ingress.name", &in.Name) },
		"service": func(v *yaml.Node) { d.name(v, "ingress.service", &in.Service) },
		"virtualGateway": func(v *yaml.Node) {
			gw := d.virtualGateway(v)
			in.VirtualGateway = &gw
		},
	})
	return in
}

func (d *decoder) loadBalancer(n *yaml.Node) LoadBalancer {
	lb := LoadBalancer{Pos: d.pos(n)}
	port := func(field string, dst *uint32) func(*yaml.Node) {
		return func(v *yaml.Node) {
			var p int
			d.integer(v, field, 1, 65535, &p)
			*dst = uint32(p)
		}
	}
	d.fields(n, "loadBalancer", map[string]func(*yaml.Node){
		"port":                port("loadBalancer.port", &lb.Port),
		"testPort":            port("loadBalancer.testPort", &lb.TestPort),
		"deregistrationDelay": func(v *yaml.Node) { d.duration(v, "loadBalancer.deregistrationDelay", &lb.DeregistrationDelay) },
		"slowStart":           func(v *yaml.Node) { d.duration(v, "loadBalancer.slowStart", &lb.SlowStart) },
		"healthCheckInterval": func(v *yaml.Node) { d.duration(v, "loadBalancer.healthCheckInterval", &lb.HealthCheckInterval) },
		"healthyThreshold":    func(v *yaml.Node) { d.integer(v, "loadBalancer.healthyThreshold", 2, 10, &lb.HealthyThreshold) },
		"unhealthyThreshold":  func(v *yaml.Node) { d.integer(v, "loadBalancer.unhealthyThreshold", 2, 10, &lb.UnhealthyThreshold) },
	})
	return lb
}

func (d *decoder) virtualGateway(n *yaml.Node) VirtualGateway {
	gw := VirtualGateway{Pos: d.pos(n)}
	d.fields(n, "ingress.virtualGateway", map[string]func(*yaml.Node){
		"port": func(v *yaml.Node) { d.integer(v, "ingress.virtualGateway.port", 1, 65535, &gw.Port) },
		"routes": func(v *yaml.Node) {
			d.list(v, "ingress.virtualGateway.routes", func(item *yaml.Node) { gw.Routes = append(gw.Routes, d.gatewayRoute(item)) })
		},
	})
	return gw
}

func (d *decoder) gatewayRoute(n *yaml.Node) GatewayRoute {
	r := GatewayRoute{Pos: d.pos(n)}
	const f = "ingress.virtualGateway.routes[]."
	d.fields(n, "ingress.virtualGateway.routes[]", map[string]func(*yaml.Node){
		"name":          func(v *yaml.Node) { d.name(v, f+"name", &r.Name) },
		"prefix":        func(v *yaml.Node) { d.str(v, f+"prefix", &r.Prefix) },
		"path":          func(v *yaml.Node) { d.str(v, f+"path", &r.Path) },
		"service":       func(v *yaml.Node) { d.name(v, f+"service", &r.Service) },
		"rewritePrefix": func(v *yaml.Node) { d.str(v, f+"rewritePrefix", &r.RewritePrefix) },
		"rewritePath":   func(v *yaml.Node) { d.str(v, f+"rewritePath", &r.RewritePath) },
		"keepHostname":  func(v *yaml.Node) { d.boolean(v, f+"keepHostname", &r.KeepHostname) },
	})
	return r
}

func (d *decoder) load(n *yaml.Node) Load {
	l := Load{Pos: d.pos(n)}
	keys := d.fields(n, "load", map[string]func(*yaml.Node){
		"rate":    func(v *yaml.Node) { d.float(v, "load.rate", 0.1, 20000, &l.Rate) },
		"timeout": func(v *yaml.Node) { d.duration(v, "load.timeout", &l.Timeout) },
		"path":    func(v *yaml.Node) { d.requestPath(v, "load.path", &l.Path) },
		"measure": func(v *yaml.Node) { d.name(v, "load.measure", &l.Measure) },
		"streams": func(v *yaml.Node) { d.integer(v, "load.streams", 0, 20000, &l.Streams) },
		"streamKind": func(v *yaml.Node) {
			d.oneOf(v, "load.streamKind", []string{"subscribe", "chat", "both"}, &l.StreamKind)
		},
		"client":      func(v *yaml.Node) { d.oneOf(v, "load.client", []string{"sidecar", "proxyless"}, &l.Client) },
		"connections": func(v *yaml.Node) { d.integer(v, "load.connections", 1, 1000, &l.Connections) },
		"targetsFile": func(v *yaml.Node) { d.targetsFile(v, &l.TargetsFile) },
		"requests": func(v *yaml.Node) {
			d.list(v, "load.requests", func(item *yaml.Node) { l.Requests = append(l.Requests, d.request(item)) })
			if len(v.Content) == 0 && v.Kind == yaml.SequenceNode {
				d.errorf(v, "load.requests is empty: give at least one request, or leave it out")
			}
		},
		"grpcMethod":  func(v *yaml.Node) { d.grpcMethod(v, &l.GRPCMethod) },
		"grpcRequest": func(v *yaml.Node) { l.GRPCRequest = d.jsonObject(v, "load.grpcRequest") },
		"protoset":    func(v *yaml.Node) { d.protoset(v, &l.Protoset) },
	})
	d.loadKeys = keys
	var given []string
	for _, k := range []string{"path", "targetsFile", "requests"} {
		if keys[k] != nil {
			given = append(given, k)
		}
	}
	if len(given) > 1 {
		d.errorf(keys[given[1]], "load: give one of path, targetsFile and requests, not %s", strings.Join(given, " and "))
	}
	if keys["protoset"] != nil && l.Protoset != "" && l.GRPCMethod != "" {
		d.checkProtosetMethod(keys["protoset"], l.Protoset, l.GRPCMethod)
	}
	return l
}

// request decodes one of load.requests.
func (d *decoder) request(n *yaml.Node) Request {
	r := Request{Method: "GET", Weight: 1, Pos: d.pos(n)}
	keys := d.fields(n, "a request", map[string]func(*yaml.Node){
		"method":  func(v *yaml.Node) { d.method(v, &r.Method) },
		"path":    func(v *yaml.Node) { d.requestPath(v, "requests[].path", &r.Path) },
		"headers": func(v *yaml.Node) { r.Headers = d.headers(v) },
		"body":    func(v *yaml.Node) { d.str(v, "requests[].body", &r.Body) },
		"weight":  func(v *yaml.Node) { d.integer(v, "requests[].weight", 1, 1000000, &r.Weight) },
	})
	if keys["path"] == nil && n.Kind == yaml.MappingNode {
		d.errorf(n, "requests[].path is required (the request path, starting with /)")
	}
	return r
}

// instrument decodes the instrument section.
func (d *decoder) instrument(n *yaml.Node) Instrument {
	in := Instrument{MaxLag: -1, MinAchieved: -1, MaxCPUWait: -1, Pos: d.pos(n)}
	d.fields(n, "instrument", map[string]func(*yaml.Node){
		"maxLag":      func(v *yaml.Node) { d.duration(v, "instrument.maxLag", &in.MaxLag) },
		"minAchieved": func(v *yaml.Node) { d.float(v, "instrument.minAchieved", 0, 1, &in.MinAchieved) },
		"maxCPUWait":  func(v *yaml.Node) { d.duration(v, "instrument.maxCPUWait", &in.MaxCPUWait) },
	})
	return in
}

func (d *decoder) rollout(n *yaml.Node) Rollout {
	r := Rollout{Pos: d.pos(n)}
	d.fields(n, "rollout", map[string]func(*yaml.Node){
		"service": func(v *yaml.Node) { d.name(v, "rollout.service", &r.Service) },
		"steps": func(v *yaml.Node) {
			d.list(v, "rollout.steps", func(item *yaml.Node) { r.Steps = append(r.Steps, d.step(item)) })
		},
		"deployments": func(v *yaml.Node) {
			d.list(v, "rollout.deployments", func(item *yaml.Node) { r.Deployments = append(r.Deployments, d.deployment(item)) })
		},
	})
	return r
}

func (d *decoder) deployment(n *yaml.Node) Deployment {
	dep := Deployment{Pos: d.pos(n), MinimumHealthyPercent: -1, MaximumPercent: -1, AlarmRollback: true}
	keys := d.fields(n, "a deployment", map[string]func(*yaml.Node){
		"name":     func(v *yaml.Node) { d.label(v, "deployments[].name", 128, &dep.Name) },
		"to":       func(v *yaml.Node) { d.name(v, "deployments[].to", &dep.To) },
		"strategy": func(v *yaml.Node) { enum(d, v, "deployments[].strategy", Strategies, &dep.Strategy) },
		"minimumHealthyPercent": func(v *yaml.Node) {
			d.integer(v, "deployments[].minimumHealthyPercent", 0, 100, &dep.MinimumHealthyPercent)
		},
		"maximumPercent": func(v *yaml.Node) { d.integer(v, "deployments[].maximumPercent", 100, 200, &dep.MaximumPercent) },
		"circuitBreaker": func(v *yaml.Node) {
			d.fields(v, "deployments[].circuitBreaker", map[string]func(*yaml.Node){
				"enable":   func(x *yaml.Node) { d.boolean(x, "circuitBreaker.enable", &dep.CircuitBreaker) },
				"rollback": func(x *yaml.Node) { d.boolean(x, "circuitBreaker.rollback", &dep.Rollback) },
			})
		},
		"bake": func(v *yaml.Node) { d.duration(v, "deployments[].bake", &dep.Bake) },
		"canary": func(v *yaml.Node) {
			d.fields(v, "deployments[].canary", map[string]func(*yaml.Node){
				"percent": func(x *yaml.Node) { d.float(x, "canary.percent", 0.1, 100, &dep.CanaryPercent) },
				"bake":    func(x *yaml.Node) { d.duration(x, "canary.bake", &dep.CanaryBake) },
			})
		},
		"linear": func(v *yaml.Node) {
			d.fields(v, "deployments[].linear", map[string]func(*yaml.Node){
				"percent": func(x *yaml.Node) { d.float(x, "linear.percent", 3, 100, &dep.LinearPercent) },
				"bake":    func(x *yaml.Node) { d.duration(x, "linear.bake", &dep.LinearBake) },
			})
		},
		"hooks": func(v *yaml.Node) {
			d.list(v, "deployments[].hooks", func(item *yaml.Node) { dep.Hooks = append(dep.Hooks, d.hook(item)) })
		},
		"alarms": func(v *yaml.Node) {
			d.list(v, "deployments[].alarms", func(item *yaml.Node) { dep.Alarms = append(dep.Alarms, d.alarm(item)) })
		},
		"alarmRollback": func(v *yaml.Node) { d.boolean(v, "deployments[].alarmRollback", &dep.AlarmRollback) },
		"expect": func(v *yaml.Node) {
			d.oneOf(v, "deployments[].expect", []string{"SUCCESSFUL", "ROLLBACK_SUCCESSFUL"}, &dep.Expect)
		},
		"hold":         func(v *yaml.Node) { d.duration(v, "deployments[].hold", &dep.Hold) },
		"expectReason": func(v *yaml.Node) { d.label(v, "deployments[].expectReason", 1000, &dep.ExpectReason) },
	})
	if k := keys["expectReason"]; k != nil && dep.Expect != "ROLLBACK_SUCCESSFUL" {
		d.errorf(k, "deployments[].expectReason is the reason of a rollback: it needs expect: ROLLBACK_SUCCESSFUL")
	}
	d.checkStrategyFields(dep, keys)
	return dep
}

// checkStrategyFields reports the fields of a deployment that its
// strategy would ignore.
func (d *decoder) checkStrategyFields(dep Deployment, keys map[string]*yaml.Node) {
	strategy := cmp.Or(dep.Strategy, StrategyRolling)
	for field, owner := range map[string]Strategy{"canary": StrategyCanary, "linear": StrategyLinear} {
		if k := keys[field]; k != nil && strategy != owner {
			d.errorf(k, "deployments[].%s configures strategy %s: this deployment's strategy is %s, which would ignore it", field, owner, strategy)
		}
	}
	if k := keys["bake"]; k != nil && strategy == StrategyRolling {
		d.errorf(k, "deployments[].bake is ECS's bakeTimeInMinutes, which BLUE_GREEN, LINEAR and CANARY deployments hold: a ROLLING deployment would ignore it")
	}
}

func (d *decoder) fault(n *yaml.Node) Fault {
	f := Fault{Pos: d.pos(n), Count: 1}
	d.fields(n, "a fault", map[string]func(*yaml.Node){
		"action":  func(v *yaml.Node) { enum(d, v, "faults[].action", FaultActions, &f.Action) },
		"service": func(v *yaml.Node) { d.name(v, "faults[].service", &f.Service) },
		"version": func(v *yaml.Node) { d.versionName(v, &f.Version) },
		"count":   func(v *yaml.Node) { d.integer(v, "faults[].count", 1, 100, &f.Count) },
		"step":    func(v *yaml.Node) { d.label(v, "faults[].step", 128, &f.Step) },
		"after":   func(v *yaml.Node) { d.duration(v, "faults[].after", &f.After) },
		"at":      func(v *yaml.Node) { d.duration(v, "faults[].at", &f.At) },
		"delay":   func(v *yaml.Node) { d.duration(v, "faults[].delay", &f.Delay) },
		"percent": func(v *yaml.Node) { d.float(v, "faults[].percent", 0, 100, &f.Percent) },
	})
	return f
}

func (d *decoder) hook(n *yaml.Node) Hook {
	h := Hook{Pos: d.pos(n), MaxErrorRate: -1, MinRequests: -1, NoDataWait: -1}
	d.fields(n, "a hook", map[string]func(*yaml.Node){
		"stages": func(v *yaml.Node) {
			d.list(v, "hooks[].stages", func(item *yaml.Node) {
				var st string
				d.oneOf(item, "hooks[].stages[]", LifecycleStages, &st)
				h.Stages = append(h.Stages, st)
			})
		},
		"maxErrorRate": func(v *yaml.Node) { d.float(v, "hooks[].maxErrorRate", 0, 1, &h.MaxErrorRate) },
		"maxP99":       func(v *yaml.Node) { d.duration(v, "hooks[].maxP99", &h.MaxP99) },
		"window":       func(v *yaml.Node) { d.duration(v, "hooks[].window", &h.Window) },
		"minRequests":  func(v *yaml.Node) { d.integer(v, "hooks[].minRequests", 1, 1000000, &h.MinRequests) },
		"noDataWait":   func(v *yaml.Node) { d.duration(v, "hooks[].noDataWait", &h.NoDataWait) },
		"onNoData":     func(v *yaml.Node) { enum(d, v, "hooks[].onNoData", OnNoDatas, &h.OnNoData) },
		"analysis":     func(v *yaml.Node) { h.Analysis = d.analysis(v) },
	})
	return h
}

// analysis decodes a hook's canary analysis.
func (d *decoder) analysis(n *yaml.Node) *Analysis {
	a := &Analysis{Pos: d.pos(n)}
	keys := d.fields(n, "hooks[].analysis", map[string]func(*yaml.Node){
		"pass":         func(v *yaml.Node) { d.float(v, "hooks[].analysis.pass", 0, 100, &a.Pass) },
		"marginal":     func(v *yaml.Node) { d.float(v, "hooks[].analysis.marginal", 0, 100, &a.Marginal) },
		"confLevel":    func(v *yaml.Node) { d.float(v, "hooks[].analysis.confLevel", 0.5, 0.9999, &a.ConfLevel) },
		"interval":     func(v *yaml.Node) { d.duration(v, "hooks[].analysis.interval", &a.Interval) },
		"threshold":    func(v *yaml.Node) { d.integer(v, "hooks[].analysis.threshold", 1, 1000, &a.Threshold) },
		"failureLimit": func(v *yaml.Node) { d.integer(v, "hooks[].analysis.failureLimit", 0, 1000, &a.FailureLimit) },
	})
	if k := keys["marginal"]; k != nil && keys["pass"] != nil && a.Marginal > a.Pass {
		d.errorf(k, "hooks[].analysis.marginal %g is above pass %g: a marginal score lies between them", a.Marginal, a.Pass)
	}
	return a
}

// compare decodes the compare section.
func (d *decoder) compare(n *yaml.Node) *Compare {
	c := &Compare{Alpha: -1, ErrorRatePP: -1, WeightErrorPP: -1, LatencyTolerance: -1, MinLatencyShift: -1, Pos: d.pos(n)}
	d.fields(n, "compare", map[string]func(*yaml.Node){
		"alpha":            func(v *yaml.Node) { d.float(v, "compare.alpha", 1e-9, 0.5, &c.Alpha) },
		"errorRatePp":      func(v *yaml.Node) { d.float(v, "compare.errorRatePp", 0, 100, &c.ErrorRatePP) },
		"weightErrorPp":    func(v *yaml.Node) { d.float(v, "compare.weightErrorPp", 0, 100, &c.WeightErrorPP) },
		"latencyTolerance": func(v *yaml.Node) { d.float(v, "compare.latencyTolerance", 0, 100, &c.LatencyTolerance) },
		"minLatencyShift":  func(v *yaml.Node) { d.duration(v, "compare.minLatencyShift", &c.MinLatencyShift) },
		"gate": func(v *yaml.Node) {
			d.list(v, "compare.gate", func(item *yaml.Node) {
				var g string
				d.oneOf(item, "compare.gate[]", CompareFamilies, &g)
				c.Gate = append(c.Gate, g)
			})
		},
	})
	return c
}

func (d *decoder) step(n *yaml.Node) Step {
	s := Step{Pos: d.pos(n), Weights: map[string]int{}}
	d.fields(n, "a step", map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { d.label(v, "steps[].name", 128, &s.Name) },
		"bake": func(v *yaml.Node) { d.duration(v, "steps[].bake", &s.Bake) },
		"weights": func(v *yaml.Node) {
			if v.Kind != yaml.MappingNode {
				d.errorf(v, "steps[].weights must be a mapping of version to percent, such as {v1: 75, v2: 25}")
				return
			}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, w := v.Content[i], v.Content[i+1]
				if _, dup := s.Weights[k.Value]; dup {
					d.errorf(k, "version %q appears twice in steps[].weights", k.Value)
					continue
				}
				var pct int
				d.integer(w, "steps[].weights."+k.Value, 0, 100, &pct)
				s.Weights[k.Value] = pct
				s.Order = append(s.Order, k.Value)
			}
		},
	})
	return s
}

// assertion reads "- no-failed-requests" or "- weight-within: 3".
func (d *decoder) assertion(n *yaml.Node) (Assertion, bool) {
	a := Assertion{Pos: d.pos(n)}
	var valNode *yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode:
		a.Kind = n.Value
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		a.Kind = n.Content[0].Value
		valNode = n.Content[1]
	default:
		d.errorf(n, "an assertion is a name (no-failed-requests) or one name: value pair (weight-within: 3)")
		return a, false
	}
	if _, ok := AssertionKinds[a.Kind]; !ok {
		d.errorf(n, "unknown assertion %q (known: %s)", a.Kind, assertionKinds())
		return a, false
	}
	needsValue := a.Kind != "no-failed-requests" && a.Kind != "deployments-as-expected" && a.Kind != "no-message-lost"
	switch {
	case needsValue && valNode == nil:
		d.errorf(n, "assertion %s needs a value: %s", a.Kind, AssertionKinds[a.Kind])
		return a, false
	case !needsValue && valNode != nil:
		d.errorf(valNode, "assertion %s takes no value", a.Kind)
		return a, false
	case !needsValue:
		return a, true
	}
	before := len(d.errs)
	switch a.Kind {
	case "latency-p99-below", "streams-resumed-within":
		var dur time.Duration
		d.duration(valNode, a.Kind, &dur)
		a.Value = float64(dur)
	case "max-error-rate":
		d.float(valNode, a.Kind, 0, 1, &a.Value)
	case "weight-within":
		d.float(valNode, a.Kind, 0, 100, &a.Value)
	case "weight-binomial":
		d.float(valNode, a.Kind, 0.5, 10, &a.Value)
	}
	return a, len(d.errs) == before
}

func assertionKinds() string {
	kinds := make([]string, 0, len(AssertionKinds))
	for k := range AssertionKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ", ")
}

func itoa(i int) string { return strconv.Itoa(i) }

// IsParseError reports whether err is a problem with a scenario's content
// (as opposed to, say, a file that cannot be read).
func IsParseError(err error) bool {
	var es Errors
	return errors.As(err, &es)
}
