// Package scenarios defines meshsim's scenario files: the YAML schema, a
// parser whose errors name file:line:col, the validator, and the built-in
// library of scenarios embedded in the binary. The engine that runs a
// scenario lives in scenarios/engine.
package scenarios

import "time"

// Scenario is one rehearsal: the world to stand up, the load to drive
// through it, the rollout steps and the assertions that decide the exit
// code.
type Scenario struct {
	// Name identifies the scenario (`meshsim run NAME`).
	Name        string
	Description string
	// Source is where the scenario came from: a file path or "builtin:NAME".
	Source string

	Region    string
	Cluster   string
	Mesh      string
	Namespace string

	Services []Service
	Ingress  Ingress
	Load     Load
	Rollout  Rollout
	Asserts  []Assertion
}

// Service is a microservice with one or more versions. Each version is an
// ECS service (one task definition family), an App Mesh virtual node and a
// Cloud Map service named SERVICE-VERSION; the service itself is an App Mesh
// virtual service SERVICE.NAMESPACE, provided by a virtual router when it
// has several versions or is rolled out.
type Service struct {
	Name string
	Port uint32
	// Backends are the names of the services this one calls on each request.
	Backends []string
	Versions []Version
	// HealthCheckPath is the container health check's path.
	HealthCheckPath string
	Pos             Pos
}

// Version is one version of a service.
type Version struct {
	Name  string
	Count int
	// Latency is added by the sample service to every response.
	Latency time.Duration
	// ErrorRate is the share of requests the sample service fails with 500.
	ErrorRate float64
	// StartDelay delays the health check passing after start.
	StartDelay time.Duration
	Pos        Pos
}

// Ingress is where load enters the mesh: an App Mesh virtual node run as
// its own ECS service (a sidecar-only task), whose backend is Service.
type Ingress struct {
	Name    string
	Service string
	Pos     Pos
}

// Load is the traffic driven through the ingress while the rollout runs.
type Load struct {
	// Rate is requests per second, at a constant pace.
	Rate    float64
	Timeout time.Duration
	// Path is the request path.
	Path string
	// Measure names the service whose versions the split is judged on.
	Measure string
	Pos     Pos
}

// Rollout shifts traffic of Service between its versions through the
// virtual router's route, one step at a time.
type Rollout struct {
	Service string
	Steps   []Step
	Pos     Pos
}

// Step is one weight setting held for its bake time.
type Step struct {
	Name string
	// Weights per version name, in percent; they sum to 100.
	Weights map[string]int
	// Order lists the versions in the order they were written.
	Order []string
	Bake  time.Duration
	Pos   Pos
}

// Assertion is a check on the results that sets the exit code.
type Assertion struct {
	// Kind is one of AssertionKinds.
	Kind string
	// Value is the kind's threshold (see AssertionKinds).
	Value float64
	Pos   Pos
}

// AssertionKinds documents the assertion kinds and the meaning of Value.
var AssertionKinds = map[string]string{
	"no-failed-requests": "no request failed (no value)",
	"max-error-rate":     "failed requests / requests is at most VALUE (a fraction, e.g. 0.01)",
	"weight-within":      "in every step, every version's observed share is within VALUE percentage points of its weight",
	"weight-binomial":    "in every step, every version's observed share is within VALUE standard errors of its weight (binomial)",
	"latency-p99-below":  "in every step, p99 latency is below VALUE (a duration, e.g. 250ms)",
}

// Pos is a place in a scenario file.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + itoa(p.Line) + ":" + itoa(p.Column)
}

// VersionNames returns the names of s's versions in order.
func (s Service) VersionNames() []string {
	names := make([]string, len(s.Versions))
	for i, v := range s.Versions {
		names[i] = v.Name
	}
	return names
}

// Service returns the service named name.
func (sc *Scenario) Service(name string) (*Service, bool) {
	for i := range sc.Services {
		if sc.Services[i].Name == name {
			return &sc.Services[i], true
		}
	}
	return nil, false
}

// Duration is the sum of the steps' bake times.
func (sc *Scenario) Duration() time.Duration {
	var d time.Duration
	for _, s := range sc.Rollout.Steps {
		d += s.Bake
	}
	return d
}
