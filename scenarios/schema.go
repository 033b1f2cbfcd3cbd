// Package scenarios defines meshsim's scenario files: the YAML schema, a
// parser whose errors name file:line:col, the validator, and the built-in
// library of scenarios embedded in the binary. The engine that runs a
// scenario lives in scenarios/engine.
package scenarios

import (
	"encoding/json"
	"math"
	"path/filepath"
	"time"
)

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
	// Routing is how services find each other: RoutingAppMesh (the
	// default), RoutingServiceConnect, or RoutingMigration (both, to
	// rehearse moving from one to the other).
	Routing Routing
	// TimeScale shrinks every AWS-side duration (bake times, health-check
	// intervals, deregistration delay, stop timeout) by this factor: at 60,
	// an ECS minute lasts one second. Default 1.
	TimeScale float64

	Services []Service
	Ingress  Ingress
	// LoadBalancer configures the ALB of routing alb.
	LoadBalancer LoadBalancer
	Load         Load
	Rollout      Rollout
	Faults       []Fault
	Asserts      []Assertion
	// Compare holds the thresholds of `meshsim compare` for runs of this
	// scenario (the compare section); nil for the command's defaults.
	Compare *Compare
	// DNS configures routing route53: the hosted zone, the weighted
	// record and the clients that resolve it.
	DNS DNS
	// Instrument holds the limits on meshsim's own measurement beyond
	// which a step's verdict is INCONCLUSIVE.
	Instrument Instrument
	// Capacity configures `meshsim capacity` (see Capacity).
	Capacity Capacity
}

// DNS is the Route 53 side of routing route53 (RoutingRoute53).
type DNS struct {
	// Zone is the hosted zone's name (default NAME.test).
	Zone string
	// Record is the name the clients resolve, relative to Zone (default
	// the rolled service's name): one weighted record set per version.
	Record string
	// TTL is the records' TTL (AWS time, whole seconds; default 60s). The
	// clients keep an answer for TTL at the time scale.
	TTL time.Duration
	// Clients is the size of the client population the load comes from
	// (default 100); each client has its own DNS cache and connections.
	Clients int
	// Cache is how the clients cache answers: "ttl" (the default),
	// "forever" (the JVM's default under a security manager) or "none".
	Cache string
	// KeepAlive makes the clients reuse their connections (default true),
	// so a client keeps sending to the address it connected to.
	KeepAlive bool
	// ConnectionLifetime is how long a client keeps using a connection
	// before it closes it (AWS time); 0 keeps it until the server does.
	ConnectionLifetime time.Duration
	// HealthChecks gives each version's record set a Route 53 health check
	// (HTTP, the service's health check path, on the version's first
	// task), so Route 53 stops answering with a version whose check fails.
	HealthChecks bool
	Pos          Pos
}

// DefaultDNSTTL and DefaultDNSClients are DNS's defaults.
const (
	DefaultDNSTTL     = 60 * time.Second
	DefaultDNSClients = 100
)

// Instrument is how far meshsim's measurement may fall short before a
// step's verdict is INCONCLUSIVE rather than PASS or FAIL.
type Instrument struct {
	// MaxLag is the p99 of how far behind its schedule the load generator
	// may fall in a step (default 500ms).
	MaxLag time.Duration
	// MinAchieved is the smallest achieved/offered request rate of a step
	// (a fraction 0..1, default 0.9).
	MinAchieved float64
	// MaxCPUWait is the p99 of how long meshsim's goroutines may wait for
	// a CPU once runnable, in any second of a step (default 100ms). The
	// sidecars and the in-process tasks run on those goroutines, so a
	// request pays that wait at every hop even when the load generator
	// keeps its schedule.
	MaxCPUWait time.Duration
	Pos        Pos
}

// DefaultMaxLag, DefaultMinAchieved and DefaultMaxCPUWait are Instrument's
// defaults.
const (
	DefaultMaxLag      = 500 * time.Millisecond
	DefaultMinAchieved = 0.9
	DefaultMaxCPUWait  = 100 * time.Millisecond
)

// Fault breaks tasks of a service at a moment of the rollout: After into
// the first step whose name is Step or begins with it (deployment phases
// are named "DEPLOYMENT: STAGE"), or At after the load started.
type Fault struct {
	// Action is FaultStopTask (ECS StopTask: SIGTERM, then SIGKILL after the
	// stop timeout, on any runtime), or, with the docker runtime, "kill"
	// (SIGKILL, ECS is not told), "pause", "unpause", "disconnect" (from
	// the network) or "reconnect". On every runtime, the task's sidecar
	// can be told to "delay" the requests it forwards (by Delay), to
	// "drop" Percent of them (connection or stream reset), or to "heal"
	// (clear its delay and drops); a sidecar fault stays until a heal
	// (give the heal the same service, version and count). Callers reach
	// a task's application directly, so a sidecar fault hits the task's
	// own calls to its backends: delay home to slow home → movie.
	Action FaultAction
	// Service and Version choose the tasks; Count how many (default 1).
	Service, Version string
	Count            int
	Step             string
	After, At        time.Duration
	// Delay is the latency a "delay" fault adds; Percent the share
	// (0-100) of requests a "drop" fault drops.
	Delay   time.Duration
	Percent float64
	Pos     Pos
}

// Service is a microservice with one or more versions. Each version is an
// ECS service (one task definition family), an App Mesh virtual node and a
// Cloud Map service named SERVICE-VERSION; the service itself is an App Mesh
// virtual service SERVICE.NAMESPACE, provided by a virtual router when it
// has several versions or is rolled out.
type Service struct {
	Name string
	Port uint32
	// Protocol is ProtocolHTTP (the default) or ProtocolGRPC.
	Protocol Protocol
	// Backends are the names of the services this one calls on each request.
	Backends []string
	Versions []Version
	// HealthCheckPath is the container health check's path.
	HealthCheckPath string
	// Retries, when set, gives the service's App Mesh route a retry policy
	// with that many retries (on server errors, gateway errors and
	// connection errors); unset, App Mesh's default policy applies (2
	// retries on 503, connect failures and resets), which hides some
	// failures from callers.
	Retries *int
	// PortEnv and HostEnv name the environment variables through which a
	// user's process (Version.Command) is given the port to listen on and
	// its task's address (defaults PORT and HOST).
	PortEnv, HostEnv string
	// ServiceFile is the absolute path of a JSON document as given to `aws
	// ecs create-service --cli-input-json`.
	ServiceFile string
	Pos         Pos
}

// DefaultPortEnv and DefaultHostEnv are Service.PortEnv's and
// Service.HostEnv's defaults.
const (
	DefaultPortEnv = "PORT"
	DefaultHostEnv = "HOST"
)

// Version is one version of a service: either meshsim's sample service,
// shaped by the sample knobs (Latency, ErrorRate, StartDelay, Shutdown,
// Drain, CrashAfter, FailHealth), or the user's software (Image, Command or
// TaskDefinitionFile; see UserSoftware).
type Version struct {
	Name  string
	Count int
	// Image is a local Docker image of the user's (never pulled).
	Image string
	// Command runs the user's software as a local process per task (the
	// inproc runtime).
	Command []string
	// Env is the environment given to the version's tasks.
	Env map[string]string
	// TaskDefinitionFile is the absolute path of a JSON document as given
	// to `aws ecs register-task-definition --cli-input-json`.
	TaskDefinitionFile string
	// StopTimeout is ECS's containerDefinitions.stopTimeout: how long a
	// stopping task has between SIGTERM and SIGKILL (2s-120s; 0 means the
	// engine's default).
	StopTimeout time.Duration
	// Latency is added by the sample service to every response: exactly,
	// or as the mean of LatencyDist.
	Latency time.Duration
	// LatencyDist is the distribution of the sample service's latency:
	// fixed (the default), exponential, uniform or lognormal.
	LatencyDist string
	// CPU is the CPU work the sample service does per request.
	CPU time.Duration
	// Concurrency is how many requests one task of the sample service
	// serves at once (0: no limit); the others wait their turn.
	Concurrency int
	// ErrorRate is the share of requests the sample service fails with 500.
	ErrorRate float64
	// StartDelay delays the health check passing after start.
	StartDelay time.Duration
	// Shutdown is "graceful" (drain on SIGTERM, the default) or "abrupt"
	// (exit at once, cutting requests in flight).
	Shutdown string
	// Drain is how long a stopping task keeps serving with its health check
	// failing before it stops accepting connections.
	Drain time.Duration
	// CrashAfter makes every task of this version exit by itself that long
	// after it starts.
	CrashAfter time.Duration
	// FailHealth makes the version's tasks fail their container health
	// check.
	FailHealth bool
	Pos        Pos
}

// UserSoftware reports whether v runs the user's software (an image, a
// command or a task definition file) rather than meshsim's sample service.
func (v Version) UserSoftware() bool {
	return v.Image != "" || len(v.Command) > 0 || v.TaskDefinitionFile != ""
}

// Ingress is where load enters the mesh: an App Mesh virtual node run as
// its own ECS service (a sidecar-only task), whose backend is Service.
type Ingress struct {
	Name    string
	Service string
	// VirtualGateway, when set, makes the ingress an App Mesh virtual
	// gateway named Name (routing appmesh): a standalone proxy whose
	// gateway routes send the load to virtual services, as the App Mesh
	// walkthroughs do (gateway → virtual service → router → weighted
	// nodes). Unset, the ingress is a virtual node's proxy whose egress
	// listener the load is sent to.
	VirtualGateway *VirtualGateway
	Pos            Pos
}

// VirtualGateway is the App Mesh virtual gateway an ingress runs as.
type VirtualGateway struct {
	// Port is the gateway's listener port (default 8088).
	Port int
	// Routes are its gateway routes, highest priority first. Default: one
	// route, prefix "/", to the ingress service.
	Routes []GatewayRoute
	Pos    Pos
}

// GatewayRoute is one http gateway route of an ingress virtual gateway.
type GatewayRoute struct {
	// Name names the gateway route (default: route-N, N its place).
	Name string
	// Prefix or Path (an exact path) is what the route matches; neither
	// matches every path (prefix "/").
	Prefix, Path string
	// Service is the scenario service the route sends to (its virtual
	// service); default the ingress service.
	Service string
	// RewritePrefix replaces a matched Prefix before the request is sent
	// on: App Mesh's default "/" when empty, "disabled" to keep it, or a
	// path that takes its place.
	RewritePrefix string
	// RewritePath replaces a matched Path.
	RewritePath string
	// KeepHostname keeps the Host the client sent, instead of App Mesh's
	// default rewrite to the virtual service's name.
	KeepHostname bool
	Pos          Pos
}

// LoadBalancer is the Application Load Balancer in front of the ingress
// service with routing alb: a production listener on Port whose rule
// forwards to the service's target groups (blue and green), a test
// listener on TestPort for the BLUE_GREEN, LINEAR and CANARY strategies,
// and the target groups' settings. Durations are AWS time (scaled).
type LoadBalancer struct {
	// Port and TestPort are the listeners' ports (default 8000 and 8001).
	Port, TestPort uint32
	// DeregistrationDelay is the target groups'
	// deregistration_delay.timeout_seconds (default 300s, AWS's).
	DeregistrationDelay time.Duration
	// SlowStart is slow_start.duration_seconds (default 0: off).
	SlowStart time.Duration
	// HealthCheckInterval (default 5s), HealthyThreshold and
	// UnhealthyThreshold (default 2 each) are the target groups' health
	// checks, on the service's HealthCheckPath.
	HealthCheckInterval                  time.Duration
	HealthyThreshold, UnhealthyThreshold int
	Pos                                  Pos
}

// Load is the traffic driven through the ingress while the rollout runs.
type Load struct {
	// Rate is requests per second, at a constant pace.
	Rate    float64
	Timeout time.Duration
	// Path is the request path of every HTTP request (default /). Exactly
	// one of Path, TargetsFile and Requests is set for an HTTP ingress.
	Path string
	// TargetsFile is the absolute path of a vegeta HTTP targets file
	// (vegeta's own format).
	TargetsFile string
	// Requests are HTTP requests sent in proportion to their weights.
	Requests []Request
	// GRPCMethod is the full method called on a gRPC ingress service
	// ("package.Service/Method").
	GRPCMethod string
	// GRPCRequest is the request message as JSON (protojson), a JSON object.
	GRPCRequest json.RawMessage
	// Protoset is the absolute path of a FileDescriptorSet describing
	// GRPCMethod; without it, the server's reflection service is asked.
	Protoset string
	// Measure names the service whose versions the split is judged on.
	Measure string
	// Streams is the number of long-lived gRPC streams held open for the
	// whole run (gRPC ingress services only), of StreamKind: "subscribe"
	// (server streaming, the default), "chat" (bidirectional) or "both"
	// (half each).
	Streams    int
	StreamKind string
	// Client is how the load generator reaches a gRPC ingress service:
	// "sidecar" (through the ingress proxy, the default) or "proxyless"
	// (a grpc-go client that takes the ingress node's xDS configuration
	// itself, xds:///).
	Client string
	// Connections is the number of client connections the load is spread
	// over (gRPC; default 4).
	Connections int
	Pos         Pos
}

// Request is one kind of HTTP request of the load.
type Request struct {
	// Method is the HTTP method (default GET).
	Method string
	// Path is the request path and query, starting with /.
	Path    string
	Headers map[string]string
	Body    string
	// Weight is the request's share of the load relative to the others'
	// (default 1).
	Weight int
	Pos    Pos
}

// Rollout changes Service, in one of two ways: Steps shift traffic between
// its versions (each its own ECS service) through the App Mesh virtual
// router's route, one step at a time; Deployments update its one ECS service
// to a new task definition revision after another, and ECS runs each
// deployment with its strategy. Exactly one of the two is set.
type Rollout struct {
	Service     string
	Steps       []Step
	Deployments []Deployment
	Pos         Pos
}

// Deployment is one ECS UpdateService to the task definition of version To,
// run by ECS with the given deployment configuration.
type Deployment struct {
	Name string
	// To names the version deployed.
	To string
	// Strategy is one of Strategies (default StrategyRolling).
	Strategy Strategy
	// MinimumHealthyPercent and MaximumPercent bound a rolling update
	// (defaults 100 and 200, as ECS).
	MinimumHealthyPercent, MaximumPercent int
	// CircuitBreaker enables the deployment circuit breaker; Rollback rolls a
	// tripped deployment back.
	CircuitBreaker, Rollback bool
	// Bake is ECS's bakeTimeInMinutes: how long both revisions run after
	// production traffic has moved (whole minutes, AWS time).
	Bake time.Duration
	// CanaryPercent and CanaryBake configure CANARY; LinearPercent and
	// LinearBake configure LINEAR (AWS time).
	CanaryPercent, LinearPercent float64
	CanaryBake, LinearBake       time.Duration
	// Hooks are lifecycle hooks: gates judged by meshsim's measurements.
	Hooks []Hook
	// Alarms are CloudWatch alarms the deployment watches
	// (deploymentConfiguration.alarms); AlarmRollback (default true) rolls
	// the deployment back when one goes into ALARM.
	Alarms        []Alarm
	AlarmRollback bool
	// Expect is the deployment's expected outcome: SUCCESSFUL (default) or
	// ROLLBACK_SUCCESSFUL.
	Expect string
	// ExpectReason is a substring the rollback's reason must contain (only
	// with Expect ROLLBACK_SUCCESSFUL).
	ExpectReason string
	// Hold is how long load keeps running after the deployment settles.
	Hold time.Duration
	Pos  Pos
}

// Hook is a lifecycle hook at one or more stages of an ECS deployment,
// answered by meshsim as a Lambda hook would be: SUCCEEDED when the gate
// holds over the last Window of requests, FAILED (and ECS rolls back)
// otherwise.
type Hook struct {
	Stages []string
	// MaxErrorRate is the largest share of failed requests allowed; a
	// negative value means no limit.
	MaxErrorRate float64
	// MaxP99 is the p99 latency the requests must stay under; 0 means no
	// limit.
	MaxP99 time.Duration
	// Window is how far back the gate looks (wall time, default 5s).
	Window time.Duration
	// MinRequests is the fewest requests in the window the gate judges
	// (default 20); fewer is "no data".
	MinRequests int
	// NoDataWait is how long the gate waits for data (wall time, default
	// 30s) before answering as OnNoData says.
	NoDataWait time.Duration
	// OnNoData is the answer when the data never came (default
	// OnNoDataRollback).
	OnNoData OnNoData
	// Analysis, when set, makes the gate a Kayenta-style canary analysis:
	// the new version against the one deployed from, measured in the same
	// window (package reports/canary); its verdict must be Pass.
	Analysis *Analysis
	Pos      Pos
}

// Analysis configures a canary analysis gate (hooks[].analysis). Zero
// fields take reports/canary's defaults (pass 95, marginal 75, confidence
// 0.98, one-second intervals, Flagger threshold 5, Argo failureLimit 0).
type Analysis struct {
	// Pass and Marginal are Kayenta's score thresholds (0..100).
	Pass, Marginal float64
	// ConfLevel is the confidence level of the tests.
	ConfLevel float64
	// Interval, Threshold and FailureLimit set the intervals, Flagger's
	// threshold of failed checks and Argo Rollouts' failureLimit of the
	// verdicts shown beside the analysis.
	Interval     time.Duration
	Threshold    int
	FailureLimit int
	Pos          Pos
}

// Compare is a scenario's thresholds for `meshsim compare` (the compare
// section); a negative number or duration keeps the command's default.
type Compare struct {
	// Alpha is the significance level of each test.
	Alpha float64
	// ErrorRatePP is the smallest error rate increase that counts, in
	// percentage points; WeightErrorPP the smallest growth of a step's
	// weight error.
	ErrorRatePP, WeightErrorPP float64
	// LatencyTolerance is the smallest latency shift that counts, as a
	// fraction of the baseline's median; MinLatencyShift its floor.
	LatencyTolerance float64
	MinLatencyShift  time.Duration
	// Gate lists the metric families that decide the verdict.
	Gate []string
	Pos  Pos
}

// The defaults of a Hook.
const (
	DefaultHookWindow      = 5 * time.Second
	DefaultHookMinRequests = 20
	DefaultHookNoDataWait  = 30 * time.Second
)

// The two stacks of a migration: the weights' keys, and the version the
// sample services report.
const (
	StackAppMesh        = "appmesh"
	StackServiceConnect = "serviceconnect"
)

// LifecycleStages are the stages an ECS lifecycle hook can name.
var LifecycleStages = []string{"RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
	"POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"}

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
	"no-failed-requests":      "no request failed (no value)",
	"max-error-rate":          "failed requests / requests is at most VALUE (a fraction, e.g. 0.01)",
	"weight-within":           "in every step, every version's observed share is within VALUE percentage points of its weight",
	"weight-binomial":         "in every step, every version's observed share is within VALUE standard errors of its weight (binomial)",
	"latency-p99-below":       "in every step, p99 latency is below VALUE (a duration, e.g. 250ms)",
	"deployments-as-expected": "every ECS deployment ended as its expect field says (SUCCESSFUL unless told otherwise) (no value)",
	"no-message-lost":         "no gRPC stream lost a message (no value)",
	"streams-resumed-within":  "every broken gRPC stream resumed within VALUE (a duration, e.g. 2s)",
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

// Duration is the planned length of the rollout in wall time: the sum of
// the steps' bake times, or for deployments an estimate from their bake
// times and holds, at the scenario's time scale.
func (sc *Scenario) Duration() time.Duration {
	var d time.Duration
	for _, s := range sc.Rollout.Steps {
		d += s.Bake
	}
	for _, dep := range sc.Rollout.Deployments {
		aws := dep.Bake
		switch dep.Strategy {
		case StrategyCanary:
			aws += dep.CanaryBake
		case StrategyLinear:
			if dep.LinearPercent > 0 {
				aws += time.Duration(math.Ceil(100/dep.LinearPercent)-1) * dep.LinearBake
			}
		}
		d += sc.Scaled(aws) + dep.Hold
	}
	return d
}

// Dir is the directory the scenario's relative paths are taken from (and
// its commands run in): its file's, as an absolute path, or "" (the
// working directory) for a built-in scenario.
func (sc *Scenario) Dir() string {
	dir := baseDir(sc.Source)
	if dir == "" {
		return ""
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// Scaled turns an AWS-side duration into wall time at the scenario's time
// scale.
func (sc *Scenario) Scaled(d time.Duration) time.Duration {
	if sc.TimeScale <= 0 {
		return d
	}
	return time.Duration(float64(d) / sc.TimeScale)
}
