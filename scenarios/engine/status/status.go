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
