// Package status holds what the engine reports as a run goes, as plain
// values: the dashboard and the plain progress lines import it without
// the engine and its dependencies.
package status

import "time"

// The phases of a run.
const (
	PhaseSetup      = "setup"
	PhaseRollout    = "rollout"
	PhaseDeployment = "deployment"
	PhaseTeardown   = "teardown"
	PhaseDone       = "done"
)

// Status is what the engine is doing, with the current step's live counts.
type Status struct {
	// Phase is one of the Phase constants.
	Phase   string
	Message string
	// Step is the current step index (rollout phase), of Steps (0 when
	// the steps are not known in advance: deployment phases).
	Step, Steps int
	StepName    string
	// Weights is the current step's configured weights, in version order.
	Weights     []VersionWeight
	StepElapsed time.Duration
	StepBake    time.Duration
	// Requests and Failed count the current step's requests so far
	// (requests the run abandoned when it stopped are left out); Versions
	// counts the requests each version of the measured service answered.
	// They come from the aggregator the reports use (loadgen/metrics), so
	// a step's last status shows the report's counts.
	Requests, Failed int64
	Versions         map[string]int64
	// Totals, in the done phase, are every step's final counts, taken once
	// the load stopped and every request came back: they equal the
	// report's.
	Totals []StepTotal

	// Plan is the run's timeline: the steps so far and those to come
	// (route steps are known in advance; ECS deployment phases appear as
	// ECS reports them, and the deployments still to run are listed).
	Plan []PlanStep
	// Deployment, for an ECS deployment phase: which deployment of how
	// many (from 1), its name, and the lifecycle stage ECS reports with
	// its place among the stages (from 1; 0 when none).
	Deployment, Deployments int
	DeploymentName          string
	Stage                   string
	StageIndex, Stages      int
	// Left is the time the run's planned holds still take (the current
	// step's remaining bake and the bakes of the steps to come); 0 when
	// not known (ECS decides how long its phases last).
	Left time.Duration
	// Control is what the user asked of the run through its controls.
	Control Control
	// Live is what the run looks like now, per version and as a whole;
	// nil outside the rollout.
	Live *Live
}

// PlanStep is one step of the run's timeline.
type PlanStep struct {
	Name string
	// Bake is how long the step is held, 0 when ECS decides.
	Bake time.Duration
	// State is StateDone, StateCurrent or StatePending.
	State string
}

// States of a PlanStep.
const (
	StateDone    = "done"
	StateCurrent = "current"
	StatePending = "pending"
)

// Control is the state of the run's controls.
type Control struct {
	// Paused: the run holds at the end of the current step until resumed;
	// Holding: it has reached that boundary and holds now.
	Paused, Holding bool
	// RollingBack: a rollback was asked for; Aborting: an abort.
	RollingBack, Aborting bool
}

// Live is the run now: per version of the measured service, the streams,
// the tasks and the instrument's own health.
type Live struct {
	Versions []VersionLive
	Streams  Streams
	// Tasks are the ECS tasks by service and version, with their last
	// lifecycle state, sorted.
	Tasks []Task
	// Instrument is meshsim's own health, from its latest samples.
	Instrument Instrument
}

// VersionLive is one version's figures in the current step, and its
// history over the last minute (one entry a second, oldest first).
type VersionLive struct {
	Version string
	// Weight is the configured weight (percent), -1 when none is.
	Weight int
	// Share is the observed share of the step's answered requests (0..1).
	Share float64
	// Rate is the requests per second it answered in the last second.
	Rate float64
	// Requests and Failed count the step's requests it answered.
	Requests, Failed int64
	// Errors counts its step's failures by class (refused, reset, …).
	Errors map[string]int64
	// P50 and P99 are its step's latency quantiles.
	P50, P99 time.Duration
	// History is the last minute, a second an entry: rate, share of the
	// second's answered requests, failures and p99.
	History []Second
}

// Second is one second of a version's history.
type Second struct {
	Rate   float64
	Share  float64
	Failed int64
	P99    time.Duration
}

// Streams is the state of the long-lived gRPC streams.
type Streams struct {
	// Open are delivering; Broken await a resume (resuming); Ended were
	// closed by the generator.
	Open, Broken, Ended   int
	Breaks, Resumes, Gaps int
}

// Task is one ECS task.
type Task struct {
	Service, Version, ID string
	// State is its last lifecycle status (PROVISIONING … STOPPED).
	State string
}

// Instrument is the load generator's and the host's latest figures.
type Instrument struct {
	// Lag is how far behind its schedule the load generator is; MaxLag
	// the most it was in the last second.
	Lag, MaxLag time.Duration
	// CPU is the CPUs meshsim used in the last second (1.0 = one core) of
	// CPUs; SchedP99 its goroutines' p99 wait for a CPU.
	CPU      float64
	CPUs     int
	SchedP99 time.Duration
	Load1    float64
}

// Event is one thing that happened in the world or the engine, for the
// dashboard's log: an AWS call, a task change, an xDS push, a gate
// decision, a failure.
type Event struct {
	Time         time.Time
	Source, Type string
	Resource     string
	Detail       map[string]string
}

// StepTotal is one step's final counts.
type StepTotal struct {
	Step             int
	Name             string
	Requests, Failed int64
	// Versions counts the requests each version answered.
	Versions map[string]int64
}

// VersionWeight is one version's configured weight.
type VersionWeight struct {
	Version string
	Weight  int
}
