// Package reports turns a run directory into a verdict: it analyses the
// observations and events of one rehearsal (traffic split against the
// configured weights, errors, latency, convergence after each weight change),
// judges the scenario's assertions, and renders the result as report.json
// (for CI), report.junit.xml (for CI systems' test views), report.md and
// report.html (for people, with SVG charts) and a terminal summary.
//
// Analyze is a pure function of a rundir.Run; the writers only render what it
// computed. The exit code of a run is the verdict of its assertions.
package reports

import (
	"time"

	"github.com/meshsim/meshsim/reports/canary"
)

// ReportVersion is the version of the report.json format written by this
// package. It changes when a field changes meaning or goes away; adding
// fields keeps it.
const ReportVersion = 1

// Report is everything reports concludes about one run. Its JSON form is
// report.json, a CI artefact: consumers should check ReportVersion.
type Report struct {
	// ReportVersion is ReportVersion at the time of writing.
	ReportVersion int `json:"reportVersion"`
	// Verdict is the run's verdict: VerdictPass, VerdictFail,
	// VerdictInconclusive or VerdictError (see Verdict's constants);
	// VerdictReason says why it is not a pass. Run.Partial says whether
	// the run reached its end; a partial run is never a pass.
	Verdict       string  `json:"verdict"`
	VerdictReason string  `json:"verdictReason,omitempty"`
	Run           RunInfo `json:"run"`
	// Instrument is what meshsim measured of itself: the load generator's
	// lag and rate, the host, and the limits within which a step is
	// conclusive.
	Instrument *Instrument `json:"instrument,omitempty"`
	// Steps are the scenario's steps in order, including those the run never
	// reached (Reached is false for them).
	Steps []StepReport `json:"steps"`
	// Assertions are the scenario's assertions with their results, in the
	// order the scenario lists them.
	Assertions []AssertionResult `json:"assertions"`
	// Deployments are the ECS deployments the run made (none for route
	// steps).
	Deployments []DeploymentReport `json:"deployments,omitempty"`
	// TaskStops are the tasks of the deployed service that stopped during
	// the run, each with the failed requests that ended while it was
	// stopping; UnexplainedFailures counts the failures no stopping task
	// explains (deployments only).
	TaskStops           []TaskStop `json:"taskStops,omitempty"`
	UnexplainedFailures int        `json:"unexplainedFailures,omitempty"`
	// Faults are the faults the scenario injected, in order.
	Faults []Fault `json:"faults,omitempty"`
	// Alarms are the CloudWatch alarms that changed state during the run,
	// each with its changes and the datapoints that breached.
	Alarms []AlarmReport `json:"alarms,omitempty"`
	// Comparison is this run compared with a baseline (meshsim run
	// --baseline); nil without one.
	Comparison *Comparison `json:"comparison,omitempty"`
	// Timeline is the run second by second (or in wider buckets for a
	// long run), with the world events that explain it: report.html's
	// charts.
	Timeline *Timeline `json:"timeline,omitempty"`
	// DNS is how a DNS-weighted rollout (routing route53) reached its
	// clients: each weight change's observed lag against the TTL.
	DNS *DNSReport `json:"dns,omitempty"`
}

// RunInfo describes the run as a whole.
type RunInfo struct {
	Scenario       string `json:"scenario"`
	ScenarioSource string `json:"scenarioSource,omitempty"`
	// ScenarioCopy is the copy of the scenario the run directory holds
	// (rundir.ScenarioFile), relative to it; "" when it holds none.
	ScenarioCopy string    `json:"scenarioCopy,omitempty"`
	RunID        string    `json:"runId"`
	Runtime      string    `json:"runtime"`
	Started      time.Time `json:"started"`
	// Ended is when the run ended; zero when it was cut off.
	Ended time.Time `json:"ended,omitzero"`
	// WallTime runs from Started to Ended or, for a run that was cut off, to
	// the last thing it recorded.
	WallTime time.Duration `json:"wallTimeNs"`
	// Partial is true when the run did not reach its end, or when run.json
	// has no end time; Reason says why. The assertions judge what exists.
	Partial bool   `json:"partial"`
	Reason  string `json:"reason,omitempty"`
	// TornLines counts the lines of the run's JSONL files that were cut off
	// mid-write and skipped.
	TornLines int `json:"tornLines,omitempty"`
	// MeasuredService is the service whose versions the split is judged on.
	MeasuredService string `json:"measuredService"`
	// TimeScale is how much faster than AWS time the world ran (1 = real
	// time); AWS-side durations are wall time × TimeScale.
	TimeScale float64  `json:"timeScale,omitempty"`
	Load      LoadInfo `json:"load"`
	Totals    Totals   `json:"totals"`
	// Streams is the continuity of the run's long-lived gRPC streams; nil
	// when the run held none.
	Streams *StreamTotals `json:"streams,omitempty"`
}

// LoadInfo is the load offered and the load achieved.
type LoadInfo struct {
	Target string `json:"target,omitempty"`
	// OfferedRate is the configured rate in requests per second.
	OfferedRate float64 `json:"offeredRate"`
	// AchievedRate is the requests scheduled within the steps divided by the
	// time the steps ran, in requests per second.
	AchievedRate float64       `json:"achievedRate"`
	Duration     time.Duration `json:"durationNs,omitempty"`
}

// Totals counts the requests (HTTP requests and unary gRPC calls) of the
// whole run.
type Totals struct {
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// ErrorRate is Failed/Requests, a fraction (0 when there were none).
	ErrorRate float64 `json:"errorRate"`
	// OutsideSteps counts requests whose step index names no step of the
	// scenario; they are in the totals but in no step.
	OutsideSteps int `json:"outsideSteps,omitempty"`
	// Canceled counts requests the generator abandoned when the run was
	// stopped (error kind "canceled"). They are not outcomes of the system
	// under test and are left out of every other number.
	Canceled int `json:"canceled,omitempty"`
}

// StepReport is the analysis of one scenario step.
type StepReport struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	// Verdict is the step's verdict: VerdictPass, VerdictFail (an
	// assertion failed in it), VerdictInconclusive (the instrument
	// saturated) or VerdictNotJudged (not reached, or no requests);
	// VerdictReason says why when it is not a pass.
	Verdict       string `json:"verdict"`
	VerdictReason string `json:"verdictReason,omitempty"`
	// Instrument is what the load generator achieved in the step; nil for
	// a step without requests.
	Instrument *StepInstrument `json:"instrument,omitempty"`
	// Reached is false for a step the run never got to.
	Reached bool      `json:"reached"`
	Start   time.Time `json:"start,omitzero"`
	End     time.Time `json:"end,omitzero"`
	// Duration is End-Start or, for a step that was cut off, the time from
	// Start to the last request scheduled in it.
	Duration time.Duration `json:"durationNs"`

	// Weighted is true when the step configures weights; when false the
	// share fields below report observed shares only and no error.
	Weighted bool `json:"weighted"`
	// Versions holds one entry per version that was configured or served a
	// request in the step, sorted by name.
	Versions []VersionShare `json:"versions"`
	// MaxErrorPP is the largest ErrorPP of Versions.
	MaxErrorPP float64 `json:"maxErrorPp"`
	// ChiSquare is Pearson's goodness-of-fit test of the counted requests
	// against the configured weights; nil when fewer than two versions have
	// a weight above zero or no request was counted.
	ChiSquare *ChiSquareTest `json:"chiSquare,omitempty"`
	// ShareRequests is the number of requests the shares are computed from:
	// those scheduled once the step's weights were in force whose serving
	// version is known.
	ShareRequests int `json:"shareRequests"`
	// Unattributed counts requests scheduled after convergence whose serving
	// version is unknown (they failed before reaching a version).
	Unattributed int `json:"unattributed"`

	// Requests counts every request scheduled in the step except those the
	// generator canceled; Successes those that succeeded and Failed the rest.
	Requests  int `json:"requests"`
	Successes int `json:"successes"`
	Failed    int `json:"failed"`
	// ErrorRate is Failed/Requests, a fraction.
	ErrorRate float64 `json:"errorRate"`
	// ErrorsByKind counts failed requests by rundir error kind ("refused",
	// "reset", "eof", "timeout", "no-healthy-upstream", "proxy-5xx",
	// "app-5xx", "4xx", "other").
	ErrorsByKind map[string]int `json:"errorsByKind,omitempty"`
	// Canceled counts the step's requests the generator abandoned when the
	// run was stopped; they are in no other number.
	Canceled int `json:"canceled,omitempty"`
	// Latency covers every request of the step, failed ones included.
	Latency Latency `json:"latency"`
	// AchievedRate is Requests/Duration in requests per second.
	AchievedRate float64     `json:"achievedRate"`
	Convergence  Convergence `json:"convergence"`
	// Tasks is how many tasks of the deployed service ran during the step
	// (deployments only).
	Tasks *Capacity `json:"tasks,omitempty"`
	// Streams is the continuity of the long-lived gRPC streams during the
	// step; nil when the run held none or the step was not reached.
	Streams *StepStreams `json:"streams,omitempty"`
	// Canary holds, for a step where the baseline version and a canary
	// both had weight, the Kayenta-style analysis of each canary against
	// the baseline measured in the step (package canary).
	Canary []canary.Result `json:"canary,omitempty"`
}

// VersionShare is the share of one version in one step.
type VersionShare struct {
	Version string `json:"version"`
	// ConfiguredPct is the configured weight as a percentage of the step's
	// weights (weights are normalised to sum to 100).
	ConfiguredPct float64 `json:"configuredPct"`
	// ObservedPct is the version's share of the step's ShareRequests, in
	// percent.
	ObservedPct float64 `json:"observedPct"`
	// ErrorPP is |ObservedPct-ConfiguredPct| in percentage points. For a
	// version with weight 0 every request it got is an error.
	ErrorPP float64 `json:"errorPp"`
	// TolerancePP is the binomial 3-sigma tolerance 100·3·√(p(1−p)/n) in
	// percentage points, p being the configured share and n ShareRequests.
	TolerancePP float64 `json:"tolerancePp"`
	// Requests is the number of counted requests the version served.
	Requests int `json:"requests"`
	// Latency covers every request of the step the version served,
	// including those before convergence.
	Latency Latency `json:"latency"`
}

// ChiSquareTest is Pearson's χ² goodness-of-fit test of observed counts
// against the counts the configured weights predict.
type ChiSquareTest struct {
	Statistic float64 `json:"statistic"`
	// DF is the degrees of freedom: the versions with a weight above zero,
	// minus one.
	DF int `json:"df"`
	// PValue is the probability of a statistic at least this large if the
	// requests really were split by the configured weights.
	PValue float64 `json:"pValue"`
}

// Latency holds quantiles from an HDR histogram recorded in microseconds with
// 3 significant figures, measured from each request's scheduled send time.
type Latency struct {
	Count int64         `json:"count"`
	P50   time.Duration `json:"p50Ns"`
	P90   time.Duration `json:"p90Ns"`
	P99   time.Duration `json:"p99Ns"`
	Max   time.Duration `json:"maxNs"`
}

// How a step's convergence time was found.
const (
	// ConvergedOnAck: the last xDS ACK of a version pushed during the step.
	ConvergedOnAck = "xds-ack"
	// ConvergedAtStart: nothing was pushed during the step, so its weights
	// were in force from its start.
	ConvergedAtStart = "step-start"
	// NotConverged: versions were pushed during the step and none was
	// acknowledged within it; or, by DNS, the observed split never came
	// within tolerance of the weights (every request then counts, so the
	// drift shows in the shares).
	NotConverged = "never"
)

// Convergence is when a step's weights came into force: the last ACK of the
// route configurations (which carry the weights) pushed during the step.
// Listener, cluster and endpoint pushes do not count.
type Convergence struct {
	// Basis is ConvergedOnAck, ConvergedAtStart or NotConverged; empty for
	// a step the run never reached.
	Basis string `json:"basis"`
	// At is the convergence time; zero when NotConverged.
	At time.Time `json:"at,omitzero"`
	// After is At minus the step's start.
	After time.Duration `json:"afterNs"`
	// Pushes and Acks count the route configuration pushes made during the
	// step and the ACKs of those pushes.
	Pushes int `json:"pushes"`
	Acks   int `json:"acks"`
	// Excluded counts the requests scheduled before convergence or still in
	// flight when the step ended (either set of weights may have routed
	// them): they count for errors and latency but not for the shares.
	Excluded int `json:"excluded"`
}

// AssertionResult is the judgment of one assertion.
type AssertionResult struct {
	Kind   string  `json:"kind"`
	Value  float64 `json:"value,omitempty"`
	Source string  `json:"source,omitempty"`
	// Verdict is VerdictPass, VerdictFail, or VerdictInconclusive when
	// nothing could be judged on a partial run or every step it could
	// judge was inconclusive. Passed is Verdict != VerdictFail.
	Verdict string `json:"verdict"`
	Passed  bool   `json:"passed"`
	// FailedSteps are the indexes of the steps a failure names.
	FailedSteps []int `json:"failedSteps,omitempty"`
	// Message says in one line what was found, naming the step and version
	// that failed and the numbers.
	Message string `json:"message"`
	// Failures lists every violation, one line each; empty when the
	// assertion holds or had nothing to judge.
	Failures []string `json:"failures,omitempty"`
	// Caveat, when set, says what limits the verdict whatever it is: a
	// weight-within bound tighter than 3σ of a step's sampling noise.
	Caveat string `json:"caveat,omitempty"`
}

// Passed reports whether no assertion failed. A run without assertions
// passes. The verdict (Verdict) also weighs a partial run, a run that sent
// nothing and the instrument.
func (r *Report) Passed() bool {
	for _, a := range r.Assertions {
		if !a.Passed {
			return false
		}
	}
	return true
}
