package scenarios

import (
	"errors"
	"fmt"
	"os"
	"regexp"
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

// LoadFile reads and parses the scenario file at path.
func LoadFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a scenario from data; file names it in errors. The error, if
// any, is an Errors listing every problem with its file:line:col.
func Parse(file string, data []byte) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{yamlError(file, err)}
	}
	d := &decoder{file: file}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, Errors{{Pos: Pos{File: file, Line: 1, Column: 1}, Msg: "empty scenario file"}}
	}
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
		return nil, d.errs
	}
	return sc, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml syntax error into an Error with the line it names.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Pos: Pos{File: file, Line: line, Column: 1}, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{Pos: Pos{File: file, Line: 1, Column: 1}, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type decoder struct {
	file string
	errs Errors
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Column: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling the handler of each known key with
// its value node; unknown and repeated keys are errors.
func (d *decoder) fields(n *yaml.Node, what string, handlers map[string]func(v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			d.errorf(k, "unknown field %q in %s (known: %s)", k.Value, what, knownKeys(handlers))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "field %q appears twice in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		h(v)
	}
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
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	if !contains(allowed, s) {
		d.errorf(n, "%s must be one of %s, not %q", field, strings.Join(allowed, ", "), s)
		return
	}
	*dst = s
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
	*dst = v
}

func (d *decoder) list(n *yaml.Node, field string, each func(item *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, not %s", field, kindName(n))
		return
	}
	for _, item := range n.Content {
		each(item)
	}
}

func (d *decoder) scenario(n *yaml.Node) *Scenario {
	sc := &Scenario{}
	d.fields(n, "the scenario", map[string]func(*yaml.Node){
		"name":        func(v *yaml.Node) { d.name(v, "name", &sc.Name) },
		"description": func(v *yaml.Node) { d.str(v, "description", &sc.Description) },
		"region":      func(v *yaml.Node) { d.str(v, "region", &sc.Region) },
		"cluster":     func(v *yaml.Node) { d.name(v, "cluster", &sc.Cluster) },
		"mesh":        func(v *yaml.Node) { d.name(v, "mesh", &sc.Mesh) },
		"namespace":   func(v *yaml.Node) { d.str(v, "namespace", &sc.Namespace) },
		"routing": func(v *yaml.Node) {
			d.oneOf(v, "routing", []string{"appmesh", "serviceconnect", RoutingMigration}, &sc.Routing)
		},
		"timeScale": func(v *yaml.Node) { d.float(v, "timeScale", 1, 100000, &sc.TimeScale) },
		"services": func(v *yaml.Node) {
			d.list(v, "services", func(item *yaml.Node) { sc.Services = append(sc.Services, d.service(item)) })
		},
		"ingress": func(v *yaml.Node) { sc.Ingress = d.ingress(v) },
		"load":    func(v *yaml.Node) { sc.Load = d.load(v) },
		"rollout": func(v *yaml.Node) { sc.Rollout = d.rollout(v) },
		"faults": func(v *yaml.Node) {
			d.list(v, "faults", func(item *yaml.Node) { sc.Faults = append(sc.Faults, d.fault(item)) })
		},
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
		"healthCheckPath": func(v *yaml.Node) { d.str(v, "services[].healthCheckPath", &s.HealthCheckPath) },
		"protocol":        func(v *yaml.Node) { d.oneOf(v, "services[].protocol", []string{"http", "grpc"}, &s.Protocol) },
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
	d.fields(n, "a version", map[string]func(*yaml.Node){
		"name":       func(x *yaml.Node) { d.versionName(x, &v.Name) },
		"count":      func(x *yaml.Node) { d.integer(x, "versions[].count", 0, 50, &v.Count) },
		"latency":    func(x *yaml.Node) { d.duration(x, "versions[].latency", &v.Latency) },
		"errorRate":  func(x *yaml.Node) { d.float(x, "versions[].errorRate", 0, 1, &v.ErrorRate) },
		"startDelay": func(x *yaml.Node) { d.duration(x, "versions[].startDelay", &v.StartDelay) },
		"shutdown":   func(x *yaml.Node) { d.oneOf(x, "versions[].shutdown", []string{"graceful", "abrupt"}, &v.Shutdown) },
		"drain":      func(x *yaml.Node) { d.duration(x, "versions[].drain", &v.Drain) },
		"crashAfter": func(x *yaml.Node) { d.duration(x, "versions[].crashAfter", &v.CrashAfter) },
		"health": func(x *yaml.Node) {
			var h string
			d.oneOf(x, "versions[].health", []string{"ok", "fail"}, &h)
			v.FailHealth = h == "fail"
		},
	})
	return v
}

func (d *decoder) ingress(n *yaml.Node) Ingress {
	in := Ingress{Pos: d.pos(n)}
	d.fields(n, "ingress", map[string]func(*yaml.Node){
		"name":    func(v *yaml.Node) { d.name(v, "ingress.name", &in.Name) },
		"service": func(v *yaml.Node) { d.name(v, "ingress.service", &in.Service) },
	})
	return in
}

func (d *decoder) load(n *yaml.Node) Load {
	l := Load{Pos: d.pos(n)}
	d.fields(n, "load", map[string]func(*yaml.Node){
		"rate":    func(v *yaml.Node) { d.float(v, "load.rate", 0.1, 20000, &l.Rate) },
		"timeout": func(v *yaml.Node) { d.duration(v, "load.timeout", &l.Timeout) },
		"path":    func(v *yaml.Node) { d.str(v, "load.path", &l.Path) },
		"measure": func(v *yaml.Node) { d.name(v, "load.measure", &l.Measure) },
		"streams": func(v *yaml.Node) { d.integer(v, "load.streams", 0, 20000, &l.Streams) },
		"streamKind": func(v *yaml.Node) {
			d.oneOf(v, "load.streamKind", []string{"subscribe", "chat", "both"}, &l.StreamKind)
		},
		"client":      func(v *yaml.Node) { d.oneOf(v, "load.client", []string{"sidecar", "proxyless"}, &l.Client) },
		"connections": func(v *yaml.Node) { d.integer(v, "load.connections", 1, 1000, &l.Connections) },
	})
	return l
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
	dep := Deployment{Pos: d.pos(n), MinimumHealthyPercent: -1, MaximumPercent: -1}
	d.fields(n, "a deployment", map[string]func(*yaml.Node){
		"name":     func(v *yaml.Node) { d.str(v, "deployments[].name", &dep.Name) },
		"to":       func(v *yaml.Node) { d.name(v, "deployments[].to", &dep.To) },
		"strategy": func(v *yaml.Node) { d.oneOf(v, "deployments[].strategy", Strategies, &dep.Strategy) },
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
		"expect": func(v *yaml.Node) {
			d.oneOf(v, "deployments[].expect", []string{"SUCCESSFUL", "ROLLBACK_SUCCESSFUL"}, &dep.Expect)
		},
		"hold": func(v *yaml.Node) { d.duration(v, "deployments[].hold", &dep.Hold) },
	})
	return dep
}

func (d *decoder) fault(n *yaml.Node) Fault {
	f := Fault{Pos: d.pos(n), Count: 1}
	d.fields(n, "a fault", map[string]func(*yaml.Node){
		"action":  func(v *yaml.Node) { d.oneOf(v, "faults[].action", FaultActions, &f.Action) },
		"service": func(v *yaml.Node) { d.name(v, "faults[].service", &f.Service) },
		"version": func(v *yaml.Node) { d.versionName(v, &f.Version) },
		"count":   func(v *yaml.Node) { d.integer(v, "faults[].count", 1, 100, &f.Count) },
		"step":    func(v *yaml.Node) { d.str(v, "faults[].step", &f.Step) },
		"after":   func(v *yaml.Node) { d.duration(v, "faults[].after", &f.After) },
		"at":      func(v *yaml.Node) { d.duration(v, "faults[].at", &f.At) },
		"delay":   func(v *yaml.Node) { d.duration(v, "faults[].delay", &f.Delay) },
		"percent": func(v *yaml.Node) { d.float(v, "faults[].percent", 0, 100, &f.Percent) },
	})
	return f
}

func (d *decoder) hook(n *yaml.Node) Hook {
	h := Hook{Pos: d.pos(n), MaxErrorRate: -1}
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
	})
	return h
}

func (d *decoder) step(n *yaml.Node) Step {
	s := Step{Pos: d.pos(n), Weights: map[string]int{}}
	d.fields(n, "a step", map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { d.str(v, "steps[].name", &s.Name) },
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

// validate checks the references between parts of a decoded scenario and
// fills in defaults.
func (d *decoder) validate(sc *Scenario, root *yaml.Node) {
	rootPos := d.pos(root)
	at := func(p Pos, format string, args ...any) {
		if p.Line == 0 {
			p = rootPos
		}
		d.errs = append(d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	if sc.Name == "" {
		at(rootPos, "name is required")
	}
	if sc.Region == "" {
		sc.Region = "us-east-1"
	}
	if sc.Cluster == "" {
		sc.Cluster = sc.Name
	}
	if sc.Mesh == "" {
		sc.Mesh = sc.Name
	}
	if sc.Namespace == "" {
		sc.Namespace = sc.Mesh + ".local"
	}
	if len(sc.Services) == 0 {
		at(rootPos, "services: at least one service is required")
	}
	seen := map[string]bool{}
	for i := range sc.Services {
		s := &sc.Services[i]
		if s.Name == "" {
			at(s.Pos, "services[].name is required")
			continue
		}
		if seen[s.Name] {
			at(s.Pos, "service %q is defined twice", s.Name)
		}
		seen[s.Name] = true
		if s.Port == 0 {
			s.Port = 8080
		}
		if s.HealthCheckPath == "" {
			s.HealthCheckPath = "/health"
		}
		if len(s.Versions) == 0 {
			at(s.Pos, "service %q: versions: at least one version is required", s.Name)
		}
		vseen := map[string]bool{}
		for _, v := range s.Versions {
			if v.Name == "" {
				at(v.Pos, "service %q: versions[].name is required", s.Name)
			}
			if vseen[v.Name] {
				at(v.Pos, "service %q: version %q is defined twice", s.Name, v.Name)
			}
			vseen[v.Name] = true
		}
	}
	for _, s := range sc.Services {
		if s.Retries != nil && sc.Routing == "serviceconnect" {
			at(s.Pos, "service %q: retries sets an App Mesh route retry policy; Service Connect has none", s.Name)
		}
		for _, b := range s.Backends {
			if !seen[b] {
				at(s.Pos, "service %q: backend %q is not a service of this scenario", s.Name, b)
			}
			if b == s.Name {
				at(s.Pos, "service %q calls itself", s.Name)
			}
		}
	}
	if sc.Ingress.Name == "" {
		sc.Ingress.Name = "ingress"
	}
	if seen[sc.Ingress.Name] {
		at(sc.Ingress.Pos, "ingress.name %q is also the name of a service", sc.Ingress.Name)
	}
	if sc.Ingress.Service == "" {
		at(sc.Ingress.Pos, "ingress.service is required: the service load enters through")
	} else if !seen[sc.Ingress.Service] {
		at(sc.Ingress.Pos, "ingress.service %q is not a service of this scenario", sc.Ingress.Service)
	}

	if sc.Load.Rate == 0 {
		sc.Load.Rate = 200
	}
	for i := range sc.Services {
		if sc.Services[i].Protocol == "" {
			sc.Services[i].Protocol = "http"
		}
	}
	if in, ok := sc.Service(sc.Ingress.Service); ok {
		grpc := in.Protocol == "grpc"
		switch {
		case !grpc && (sc.Load.Streams > 0 || sc.Load.Client != ""):
			at(sc.Load.Pos, "load.streams and load.client apply to a gRPC ingress service; %q speaks http", in.Name)
		case grpc && sc.Load.Client == "proxyless" && sc.Routing != "appmesh":
			at(sc.Load.Pos, "load.client proxyless takes App Mesh's xDS configuration: it needs routing: appmesh")
		}
		if sc.Load.StreamKind == "" {
			sc.Load.StreamKind = "subscribe"
		}
		if sc.Load.Client == "" {
			sc.Load.Client = "sidecar"
		}
		if sc.Load.Connections == 0 {
			sc.Load.Connections = 4
		}
	}
	for _, s := range sc.Services {
		if s.Protocol == "grpc" && len(s.Backends) > 0 {
			at(s.Pos, "service %q: the sample gRPC service calls no backends (an http service can call it)", s.Name)
		}
	}
	if sc.Load.Timeout == 0 {
		sc.Load.Timeout = 2 * time.Second
	}
	if sc.Load.Path == "" {
		sc.Load.Path = "/"
	}
	if !strings.HasPrefix(sc.Load.Path, "/") {
		at(sc.Load.Pos, "load.path must start with /, not %q", sc.Load.Path)
	}

	r := &sc.Rollout
	migration := sc.Routing == RoutingMigration
	if migration && r.Service == "" {
		r.Service = sc.Ingress.Service // the split is judged where load enters
	}
	svc, ok := sc.Service(r.Service)
	switch {
	case r.Service == "":
		at(r.Pos, "rollout.service is required")
	case !ok:
		at(r.Pos, "rollout.service %q is not a service of this scenario", r.Service)
	}
	if sc.Load.Measure == "" {
		sc.Load.Measure = r.Service
	} else if !seen[sc.Load.Measure] {
		at(sc.Load.Pos, "load.measure %q is not a service of this scenario", sc.Load.Measure)
	}
	if sc.Routing == "" {
		sc.Routing = "appmesh"
	}
	if sc.TimeScale == 0 {
		sc.TimeScale = 1
	}
	switch {
	case len(r.Steps) == 0 && len(r.Deployments) == 0:
		at(r.Pos, "rollout: give steps (App Mesh route weights) or deployments (ECS UpdateService)")
	case len(r.Steps) > 0 && len(r.Deployments) > 0:
		at(r.Pos, "rollout: give steps or deployments, not both")
	case migration && len(r.Deployments) > 0:
		at(r.Pos, "routing %s weighs the load between the two stacks with rollout.steps, not deployments", RoutingMigration)
	case len(r.Steps) > 0 && sc.Routing == "serviceconnect":
		at(r.Pos, "rollout.steps shift App Mesh route weights: they need routing: appmesh (use deployments with strategy LINEAR or CANARY for Service Connect)")
	}
	for i := range r.Deployments {
		d.validateDeployment(sc, svc, i, at)
	}
	if migration {
		for _, s := range sc.Services {
			if len(s.Versions) != 1 {
				at(s.Pos, "service %q: a migration runs one version of each service on both stacks, not %d", s.Name, len(s.Versions))
			}
			if s.Protocol == "grpc" && s.Name == sc.Ingress.Service {
				at(s.Pos, "service %q: a migration's load is HTTP: the ingress service must speak http", s.Name)
			}
		}
	}
	for i, f := range sc.Faults {
		fs, ok := sc.Service(f.Service)
		switch {
		case f.Action == "":
			at(f.Pos, "faults[%d].action is required (%s)", i, strings.Join(FaultActions, ", "))
		case f.Service == "":
			at(f.Pos, "faults[%d].service is required", i)
		case !ok:
			at(f.Pos, "faults[%d].service %q is not a service of this scenario", i, f.Service)
		case f.Version != "" && !contains(fs.VersionNames(), f.Version):
			at(f.Pos, "faults[%d].version %q is not a version of service %q", i, f.Version, f.Service)
		}
		if (f.Step == "") == (f.At == 0) {
			at(f.Pos, "faults[%d]: give either step (with after) or at", i)
		}
		if f.Step == "" && f.After > 0 {
			at(f.Pos, "faults[%d].after counts from the start of step: give step too", i)
		}
		switch {
		case f.Action == "delay" && f.Delay <= 0:
			at(f.Pos, "faults[%d]: action delay needs delay (the latency to add, e.g. 200ms)", i)
		case f.Action != "delay" && f.Delay != 0:
			at(f.Pos, "faults[%d].delay is for action delay", i)
		}
		switch {
		case f.Action == "drop" && f.Percent <= 0:
			at(f.Pos, "faults[%d]: action drop needs percent (the share of requests to drop, 1-100)", i)
		case f.Action != "drop" && f.Percent != 0:
			at(f.Pos, "faults[%d].percent is for action drop", i)
		}
	}
	for i := range r.Steps {
		st := &r.Steps[i]
		if st.Name == "" {
			st.Name = fmt.Sprintf("step %d", i+1)
		}
		if st.Bake <= 0 {
			at(st.Pos, "rollout.steps[%d].bake is required (how long the step holds, e.g. 10s)", i)
		}
		if len(st.Weights) == 0 {
			at(st.Pos, "rollout.steps[%d].weights is required", i)
			continue
		}
		sum := 0
		var targets []string
		if svc != nil {
			targets = svc.VersionNames()
		}
		what := "a version of service " + strconv.Quote(r.Service)
		if migration {
			targets, what = []string{StackAppMesh, StackServiceConnect}, "a stack of the migration"
		}
		for _, v := range st.Order {
			sum += st.Weights[v]
			if migration && !contains(targets, v) {
				at(st.Pos, "rollout.steps[%d].weights: %q is not %s (%s)", i, v, what, strings.Join(targets, ", "))
				continue
			}
			if !migration && svc != nil && !contains(svc.VersionNames(), v) {
				at(st.Pos, "rollout.steps[%d].weights: %q is not a version of service %q (versions: %s)",
					i, v, svc.Name, strings.Join(svc.VersionNames(), ", "))
			}
		}
		if svc != nil {
			for _, v := range targets {
				if _, ok := st.Weights[v]; !ok {
					st.Weights[v] = 0
					st.Order = append(st.Order, v)
				}
			}
		}
		if sum != 100 {
			at(st.Pos, "rollout.steps[%d].weights add up to %d, not 100", i, sum)
		}
	}
}

// validateDeployment checks deployment i and fills in ECS's defaults.
func (d *decoder) validateDeployment(sc *Scenario, svc *Service, i int, at func(Pos, string, ...any)) {
	dep := &sc.Rollout.Deployments[i]
	where := fmt.Sprintf("rollout.deployments[%d]", i)
	if dep.Name == "" {
		dep.Name = fmt.Sprintf("deployment %d", i+1)
	}
	if dep.Strategy == "" {
		dep.Strategy = "ROLLING"
	}
	if dep.MinimumHealthyPercent < 0 {
		dep.MinimumHealthyPercent = 100
	}
	if dep.MaximumPercent < 0 {
		dep.MaximumPercent = 200
	}
	if dep.Expect == "" {
		dep.Expect = "SUCCESSFUL"
	}
	if dep.Hold == 0 {
		dep.Hold = 5 * time.Second
	}
	switch {
	case dep.To == "":
		at(dep.Pos, "%s.to is required: the version to deploy", where)
	case svc != nil && !contains(svc.VersionNames(), dep.To):
		at(dep.Pos, "%s.to: %q is not a version of service %q (versions: %s)", where, dep.To, svc.Name, strings.Join(svc.VersionNames(), ", "))
	}
	if dep.Strategy != "ROLLING" && sc.Routing != "serviceconnect" {
		at(dep.Pos, "%s: strategy %s shifts traffic through Service Connect (as ECS does without a load balancer): set routing: serviceconnect", where, dep.Strategy)
	}
	switch dep.Strategy {
	case "BLUE_GREEN":
		if dep.Bake == 0 {
			at(dep.Pos, "%s.bake is required for BLUE_GREEN (ECS bakeTimeInMinutes)", where)
		}
	case "CANARY":
		if dep.CanaryPercent == 0 {
			dep.CanaryPercent = 5
		}
		if dep.CanaryBake == 0 {
			dep.CanaryBake = 10 * time.Minute
		}
	case "LINEAR":
		if dep.LinearPercent == 0 {
			dep.LinearPercent = 10
		}
		if dep.LinearBake == 0 {
			dep.LinearBake = 6 * time.Minute
		}
	}
	for name, v := range map[string]time.Duration{"bake": dep.Bake, "canary.bake": dep.CanaryBake, "linear.bake": dep.LinearBake} {
		if v%time.Minute != 0 || v > 1440*time.Minute {
			at(dep.Pos, "%s.%s is %s: ECS takes whole minutes up to 1440 (use timeScale to rehearse faster)", where, name, v)
		}
	}
	for j, h := range dep.Hooks {
		if len(h.Stages) == 0 {
			at(h.Pos, "%s.hooks[%d].stages: name at least one lifecycle stage", where, j)
		}
		if h.MaxErrorRate < 0 && h.MaxP99 == 0 {
			at(h.Pos, "%s.hooks[%d]: give maxErrorRate, maxP99 or both (the gate's criteria)", where, j)
		}
		if h.Window == 0 {
			dep.Hooks[j].Window = 5 * time.Second
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func itoa(i int) string { return strconv.Itoa(i) }

// IsParseError reports whether err is a problem with a scenario's content
// (as opposed to, say, a file that cannot be read).
func IsParseError(err error) bool {
	var es Errors
	return errors.As(err, &es)
}
