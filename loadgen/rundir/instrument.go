package rundir

import "time"

// InstrumentFile holds the run's measurements of itself: one
// InstrumentSample per line.
const InstrumentFile = "instrument.jsonl"

// Kinds of InstrumentSample.
const (
	// SampleHost: meshsim's own CPU use and the host's load over an
	// interval.
	SampleHost = "host"
	// SampleLoadgen: one load generator's sends against its schedule.
	SampleLoadgen = "loadgen"
	// SampleSidecar: one sidecar's queueing figures.
	SampleSidecar = "sidecar"
)

// Generators named by InstrumentSample.Generator.
const (
	GeneratorHTTP      = "http"
	GeneratorGRPCUnary = "grpc-unary"
	GeneratorChat      = "chat"
)

// InstrumentSample is one measurement the run took of itself while it ran:
// one line of instrument.jsonl. The run samples every second; Kind says
// which fields a line carries. A figure that could not be read is left out
// and its reason given in Unreadable, never written as zero.
type InstrumentSample struct {
	// Kind is SampleHost, SampleLoadgen or SampleSidecar.
	Kind string `json:"kind"`
	// Time is when the sample was taken; Interval the time since the
	// previous sample of the same source, which the interval figures
	// (ProcessCPU, StealShare, MaxLag, the sidecar peaks) cover.
	Time     time.Time     `json:"time"`
	Interval time.Duration `json:"intervalNs"`
	// Step is the index of the step in force at Time.
	Step int `json:"step"`

	// Host: CPUs is the host's CPU count; ProcessCPU the CPU time meshsim
	// used in the interval (user and system, all its threads); Load1 the
	// host's one-minute load average at Time; StealShare the share of the
	// host's CPU time its hypervisor stole in the interval; SchedP99 below.
	CPUs       int            `json:"cpus,omitempty"`
	ProcessCPU *time.Duration `json:"processCpuNs,omitempty"`
	Load1      *float64       `json:"load1,omitempty"`
	StealShare *float64       `json:"stealShare,omitempty"`
	// SchedP99 is the 99th percentile of how long meshsim's goroutines
	// waited for a CPU once runnable, in the interval (from the Go
	// runtime's scheduler): the delay meshsim itself added to everything it
	// runs because it was short of CPU.
	SchedP99 *time.Duration `json:"schedP99Ns,omitempty"`
	// Unreadable gives, for each figure that could not be read, why, as
	// "CPU steal not readable: …".
	Unreadable []string `json:"unreadable,omitempty"`

	// Loadgen: Generator is GeneratorHTTP, GeneratorGRPCUnary or
	// GeneratorChat. Sent counts the sends since the generator started;
	// for a generator on a schedule (HTTP, unary gRPC) Due counts the
	// sends whose scheduled time had come by Time, and Lag is how overdue
	// the next send was at Time. MaxLag is the longest a send went out
	// after its scheduled time during the interval.
	Generator string        `json:"generator,omitempty"`
	Due       uint64        `json:"due,omitempty"`
	Sent      uint64        `json:"sent,omitempty"`
	Lag       time.Duration `json:"lagNs,omitempty"`
	MaxLag    time.Duration `json:"maxLagNs,omitempty"`

	// Sidecar: Task names the task (its ECS task id) and Node its virtual
	// node or ECS service. InFlight and Waiting are the requests in the
	// proxy and those of them waiting for the upstream's response headers
	// at Time; PeakInFlight and PeakWaiting their largest values during
	// the interval; Requests the requests the proxy received since it
	// started. Error says why the sidecar could not be read; the figures
	// are then absent.
	Task         string `json:"task,omitempty"`
	Node         string `json:"node,omitempty"`
	InFlight     int64  `json:"inFlight,omitempty"`
	Waiting      int64  `json:"waiting,omitempty"`
	PeakInFlight int64  `json:"peakInFlight,omitempty"`
	PeakWaiting  int64  `json:"peakWaiting,omitempty"`
	Requests     uint64 `json:"requests,omitempty"`
	Error        string `json:"error,omitempty"`
}
