package rundir

import (
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// FormatVersion is the version of the run directory format written by this
// package. Readers refuse a run with a higher major version.
const FormatVersion = 1

// Kinds of Observation.
const (
	// KindHTTP is one HTTP request.
	KindHTTP = "http"
	// KindGRPCUnary is one unary gRPC call.
	KindGRPCUnary = "grpc-unary"
	// KindStreamOpen: a long-lived stream delivered its first message.
	KindStreamOpen = "stream-open"
	// KindStreamBreak: a stream that was delivering ended with an error.
	KindStreamBreak = "stream-break"
	// KindStreamResume: a broken stream delivered again, on a new call.
	KindStreamResume = "stream-resume"
	// KindStreamGap: a stream's sequence numbers showed messages lost,
	// duplicated or out of order.
	KindStreamGap = "stream-message-gap"
	// KindStreamEnd: the generator closed a stream at the end of the run;
	// it carries the stream's totals.
	KindStreamEnd = "stream-end"
)

// Observation is the outcome of one request, or one event of a long-lived
// stream, sent by loadgen: one line of observations.jsonl.
type Observation struct {
	// Kind is one of the Kind constants: "http", "grpc-unary", or a stream
	// event ("stream-open", "stream-break", "stream-resume",
	// "stream-message-gap", "stream-end").
	Kind string `json:"kind"`
	// Seq numbers the records of one generator from 1.
	Seq uint64 `json:"seq"`
	// Scheduled is when the pacer meant the request to go out; Sent is when it
	// went out. Latency is measured from Scheduled (no coordinated omission);
	// ServiceTime from Sent. For a stream event, Scheduled and Sent are when
	// the event happened, and Latency and ServiceTime are 0.
	Scheduled   time.Time     `json:"scheduled"`
	Sent        time.Time     `json:"sent"`
	Latency     time.Duration `json:"latencyNs"`
	ServiceTime time.Duration `json:"serviceTimeNs"`
	// Step is the index of the scenario step in force when the request was
	// scheduled, or when the stream event happened.
	Step int `json:"step"`
	// Status is the HTTP status code, 0 when no response came back (and for
	// gRPC records).
	Status int `json:"status"`
	// GRPCCode is the gRPC status code name ("OK", "UNAVAILABLE") of a
	// unary call or of the call that ended a stream (stream-break); empty
	// for HTTP.
	GRPCCode string `json:"grpcCode,omitempty"`
	// Error is the transport or protocol error text, empty on success.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies a failure: "refused", "reset", "eof", "timeout",
	// "no-healthy-upstream", "proxy-5xx", "app-5xx", "4xx", "other"; or
	// "canceled" for a request the generator itself abandoned when the run
	// was stopped, which is not a failure of the system under test. gRPC
	// records add "goaway", "rst-stream", "drained", "app-error" and
	// "proxy-error"; see docs/run-format.md.
	ErrorKind string `json:"errorKind,omitempty"`
	// Version and Task name what served the request for the measured
	// service (from x-meshsim-version / x-meshsim-task or the chain header,
	// or else from the endpoint the proxy forwarded to; see
	// loadgen.HTTPConfig.Attribute).
	// For a stream event, they name what served the stream's current call:
	// the call that broke, the call it resumed on, the call that delivered
	// the out-of-sequence message.
	Version string `json:"version,omitempty"`
	Task    string `json:"task,omitempty"`
	// Cluster and Endpoint are what the ingress proxy reported it forwarded
	// the request to: its cluster (the virtual node, or Service Connect
	// revision) and the endpoint, host:port of a task. They attribute a
	// request when the application names no version itself.
	Cluster  string `json:"cluster,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Chain is the whole path of services that answered, as reported by the
	// sample services ("home/v1/task-id,movie/v2/task-id").
	Chain string `json:"chain,omitempty"`
	// Stream describes a stream event; nil for requests.
	Stream *StreamEvent `json:"stream,omitempty"`
}

// StreamEvent is what a stream observation says about its stream. Counts
// that do not apply to an event are zero.
type StreamEvent struct {
	// ID names the stream for the whole run, across its calls.
	ID string `json:"id"`
	// Method is the RPC: "subscribe" (server streaming) or "chat"
	// (bidirectional).
	Method string `json:"method"`
	// Call numbers the stream's calls from 1: a resumed stream runs on a new
	// call.
	Call int `json:"call"`
	// LastSeq is the highest sequence number received, in order, before
	// the event.
	LastSeq uint64 `json:"lastSeq"`
	// Received counts the messages the call received (stream-break), or the
	// stream received in all (stream-end).
	Received uint64 `json:"received,omitempty"`

	// Reconnect (stream-resume) runs from the break to the first message of
	// the new call; Retries counts the calls that failed before it (for
	// stream-open and stream-end: the calls that failed to deliver before
	// the first message, or since the last break). FromVersion and FromTask
	// name what served the call that broke (on stream-resume, and on a
	// stream-message-gap found in the first message of a resumed call).
	Reconnect   time.Duration `json:"reconnectNs,omitempty"`
	Retries     int           `json:"retries,omitempty"`
	FromVersion string        `json:"fromVersion,omitempty"`
	FromTask    string        `json:"fromTask,omitempty"`
	// ResumeSeq (stream-resume) is the sequence number the new call asked
	// to start from.
	ResumeSeq uint64 `json:"resumeSeq,omitempty"`

	// Lost counts sequence numbers skipped over (the stream went on past
	// them); Duplicated, messages whose sequence number had been received
	// already; OutOfOrder, messages that arrived after a higher sequence
	// number. An out-of-order message had been counted in the Lost of an
	// earlier gap: the messages a stream really lost are ΣLost − ΣOutOfOrder
	// of its gap events, which is the Lost of its stream-end. GapFrom and
	// GapTo (stream-message-gap) are the first and last sequence numbers of
	// a run of lost messages.
	Lost       uint64 `json:"lost,omitempty"`
	Duplicated uint64 `json:"duplicated,omitempty"`
	OutOfOrder uint64 `json:"outOfOrder,omitempty"`
	GapFrom    uint64 `json:"gapFrom,omitempty"`
	GapTo      uint64 `json:"gapTo,omitempty"`
	// InFlight (chat stream-break) counts messages sent on the broken call
	// and not echoed; they are sent again on the next call.
	InFlight uint64 `json:"inFlight,omitempty"`

	// Breaks and Resumes (stream-end) count the stream's breaks and
	// resumptions over the run; Connected says whether it was delivering
	// when the run ended.
	Breaks    int  `json:"breaks,omitempty"`
	Resumes   int  `json:"resumes,omitempty"`
	Connected bool `json:"connected,omitempty"`
}

// IsRequest reports whether o is the outcome of one request or unary call
// (kinds "http" and "grpc-unary"; a record without a kind is an HTTP
// request of an early writer).
func (o Observation) IsRequest() bool {
	return o.Kind == KindHTTP || o.Kind == KindGRPCUnary || o.Kind == ""
}

// IsStream reports whether o is a stream event.
func (o Observation) IsStream() bool { return o.Stream != nil || strings.HasPrefix(o.Kind, "stream-") }

// OK reports whether the request succeeded: for HTTP, no error and a
// status from 200 to 399; for a gRPC call, no error and status OK. A stream
// event is OK unless it is a break or a gap.
func (o Observation) OK() bool {
	switch {
	case o.Kind == KindGRPCUnary:
		return o.Error == "" && o.GRPCCode == "OK"
	case o.IsStream():
		return o.Kind != KindStreamBreak && o.Kind != KindStreamGap
	}
	return o.Error == "" && o.Status >= 200 && o.Status < 400
}

// Event is one world event: one line of events.jsonl, in the versioned
// run directory format (docs/run-format.md). Its JSON shape is the line
// format of the fakes' event stream (GET /_meshsim/events), which the
// engine decodes into it; it is a type of its own so that the in-memory
// event bus (sim/events) may change without changing the format. The
// engine adds its own events (source contract.SourceEngine:
// contract.EventStepStart, EventStepEnd, EventAWSCall, EventRunEnd).
type Event struct {
	// Seq numbers the events of the fakes' stream from 1; 0 for the
	// engine's own events.
	Seq uint64 `json:"seq"`
	// Time is when the event happened.
	Time time.Time `json:"time"`
	// Source is the part of the world that emitted it.
	Source contract.Source `json:"source"`
	// Type names what happened, dotted.
	Type contract.EventType `json:"type"`
	// Resource is the ARN or node id the event is about.
	Resource string `json:"resource,omitempty"`
	// Detail holds type-specific string fields (keys: contract.Detail*).
	Detail map[string]string `json:"detail,omitempty"`
}

// Meta describes a run: run.json, written at the start and rewritten at the
// end.
type Meta struct {
	FormatVersion int    `json:"formatVersion"`
	RunID         string `json:"runId"`
	Scenario      string `json:"scenario"`
	// ScenarioSource is the file the scenario came from, or "builtin:NAME".
	ScenarioSource string    `json:"scenarioSource"`
	Runtime        string    `json:"runtime"`
	Started        time.Time `json:"started"`
	// Ended is zero while the run is going or when it was cut off.
	Ended time.Time `json:"ended,omitempty"`
	// Partial is true when the run did not reach its end (Ctrl-C, crash,
	// failed setup); Reason says why.
	Partial bool   `json:"partial"`
	Reason  string `json:"reason,omitempty"`
	// MeasuredService is the service whose versions the split is judged on.
	MeasuredService string `json:"measuredService"`
	// TimeScale is how much faster than real AWS time the world ran: at
	// 60, an ECS minute (bake times, health-check intervals, stop
	// timeouts) lasted a second. 1 when not scaled.
	TimeScale float64 `json:"timeScale,omitempty"`
	// Deployments are the ECS deployments the run made, in order, with
	// their outcome (empty for route-step rollouts).
	Deployments []Deployment `json:"deployments,omitempty"`
	Steps       []Step       `json:"steps"`
	// Assertions are the scenario's assertions, judged by reports.
	Assertions []Assertion `json:"assertions"`
	// Load describes the offered load.
	Load Load `json:"load"`
	// Instrument is the limits within which the instrument (the load
	// generator) is trusted; nil for the defaults of package reports.
	Instrument *InstrumentLimits `json:"instrument,omitempty"`
	// DNS describes the Route 53 weighted records and the clients that
	// resolved them, when the rollout moved traffic by DNS (routing
	// route53); nil otherwise.
	DNS *DNS `json:"dns,omitempty"`
}

// DNS is how a run's clients reached the rolled service by DNS: the
// record, its TTL and the client population (AWS durations).
type DNS struct {
	// Record is the fully qualified name the clients resolved.
	Record string        `json:"record"`
	TTL    time.Duration `json:"ttlNs"`
	// Clients is the population's size; Cache "ttl", "forever" or "none".
	Clients   int    `json:"clients"`
	Cache     string `json:"cache"`
	KeepAlive bool   `json:"keepAlive"`
	// ConnectionLifetime is how long a client kept a connection (0: until
	// the server closed it).
	ConnectionLifetime time.Duration `json:"connectionLifetimeNs,omitempty"`
}

// InstrumentLimits are the limits of a conclusive step: a step whose load
// generator fell further behind its schedule (p99 of sent − scheduled)
// than MaxLag, or sent less than MinAchieved of the offered rate, or whose
// goroutines waited longer than MaxCPUWait for a CPU (p99 over a second),
// measured the machine rather than the rollout and is inconclusive. Zero
// fields take the defaults.
type InstrumentLimits struct {
	MaxLag      time.Duration `json:"maxLagNs,omitempty"`
	MinAchieved float64       `json:"minAchieved,omitempty"`
	MaxCPUWait  time.Duration `json:"maxCPUWaitNs,omitempty"`
}

// Step is one scenario step as planned, and when it really ran.
type Step struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	// Weights is the configured share per version, in percent.
	Weights map[string]float64 `json:"weights"`
	Bake    time.Duration      `json:"bakeNs"`
	// Start and End are filled in as the step runs (zero if never reached).
	Start time.Time `json:"start,omitempty"`
	End   time.Time `json:"end,omitempty"`
}

// Assertion is one check that decides the exit code.
type Assertion struct {
	// Kind is "no-failed-requests", "max-error-rate", "weight-within",
	// "weight-binomial", "latency-p99-below", "no-message-lost",
	// "streams-resumed-within".
	Kind string `json:"kind"`
	// Value is the threshold: percentage points for weight-within, z for
	// weight-binomial, a fraction for max-error-rate, a duration in ns for
	// latency-p99-below and streams-resumed-within; none for
	// no-message-lost.
	Value float64 `json:"value,omitempty"`
	// Source is where the assertion was written (file:line:col).
	Source string `json:"source,omitempty"`
}

// Load is the offered load.
type Load struct {
	Rate     float64       `json:"rate"`
	Target   string        `json:"target"`
	Timeout  time.Duration `json:"timeoutNs"`
	Duration time.Duration `json:"durationNs"`
	// Streams is the number of long-lived gRPC streams held open during
	// the run, 0 when none.
	Streams int `json:"streams,omitempty"`
}
