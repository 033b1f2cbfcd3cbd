package rundir

import (
	"time"

	"github.com/meshsim/meshsim/sim/events"
)

// FormatVersion is the version of the run directory format written by this
// package. Readers refuse a run with a higher major version.
const FormatVersion = 1

// Observation is the outcome of one request (or, later, one stream event)
// sent by loadgen: one line of observations.jsonl.
type Observation struct {
	// Kind is "http" for an HTTP request.
	Kind string `json:"kind"`
	// Seq numbers the requests of one generator from 1.
	Seq uint64 `json:"seq"`
	// Scheduled is when the pacer meant the request to go out; Sent is when it
	// went out. Latency is measured from Scheduled (no coordinated omission);
	// ServiceTime from Sent.
	Scheduled   time.Time     `json:"scheduled"`
	Sent        time.Time     `json:"sent"`
	Latency     time.Duration `json:"latencyNs"`
	ServiceTime time.Duration `json:"serviceTimeNs"`
	// Step is the index of the scenario step in force when the request was
	// scheduled.
	Step int `json:"step"`
	// Status is the HTTP status code, 0 when no response came back.
	Status int `json:"status"`
	// Error is the transport or protocol error text, empty on success.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies a failure: "refused", "reset", "eof", "timeout",
	// "no-healthy-upstream", "proxy-5xx", "app-5xx", "4xx", "other"; or
	// "canceled" for a request the generator itself abandoned when the run
	// was stopped, which is not a failure of the system under test.
	ErrorKind string `json:"errorKind,omitempty"`
	// Version and Task name what served the request for the measured
	// service (from x-meshsim-version / x-meshsim-task or the chain header).
	Version string `json:"version,omitempty"`
	Task    string `json:"task,omitempty"`
	// Chain is the whole path of services that answered, as reported by the
	// sample services ("home/v1/task-id,movie/v2/task-id").
	Chain string `json:"chain,omitempty"`
}

// OK reports whether the request succeeded.
func (o Observation) OK() bool { return o.Error == "" && o.Status >= 200 && o.Status < 400 }

// Event is one world event: one line of events.jsonl. It has the JSON shape
// of the fakes' event stream; the engine adds its own events (source
// "engine", types "step.start", "step.end", "aws.call", "run.end").
type Event = events.Event

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
	Steps           []Step `json:"steps"`
	// Assertions are the scenario's assertions, judged by reports.
	Assertions []Assertion `json:"assertions"`
	// Load describes the offered load.
	Load Load `json:"load"`
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
	// "weight-binomial", "latency-p99-below".
	Kind string `json:"kind"`
	// Value is the threshold: percentage points for weight-within, z for
	// weight-binomial, a fraction for max-error-rate, a duration in ns for
	// latency-p99-below.
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
}
