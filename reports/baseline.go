package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

// BaselineKind and BaselineVersion identify a baseline file. The version
// changes when a field changes meaning or goes away; adding fields keeps it.
const (
	BaselineKind    = "meshsim-baseline"
	BaselineVersion = 1
)

// Baseline is what `meshsim compare` needs of a run, small enough to commit
// to a repository: the verdict, counts, and latency distributions as HDR
// histograms (HdrHistogram's compressed text form). A run directory and a
// baseline file compare the same way: a run is first reduced to one.
type Baseline struct {
	Kind            string    `json:"kind"`
	BaselineVersion int       `json:"baselineVersion"`
	Scenario        string    `json:"scenario"`
	RunID           string    `json:"runId"`
	Runtime         string    `json:"runtime,omitempty"`
	Started         time.Time `json:"started"`
	// Verdict and VerdictReason are the run's (VerdictPass, ...).
	Verdict       string `json:"verdict"`
	VerdictReason string `json:"verdictReason,omitempty"`

	Requests     int            `json:"requests"`
	Failed       int            `json:"failed"`
	ErrorsByKind map[string]int `json:"errorsByKind,omitempty"`
	// Latency covers every request; Versions every version of the measured
	// service that served one.
	Latency     *metrics.Histogram `json:"latency"`
	Versions    []VersionBaseline  `json:"versions"`
	Steps       []BaselineStep     `json:"steps"`
	Streams     *BaselineStreams   `json:"streams,omitempty"`
	Propagation *metrics.Histogram `json:"propagation,omitempty"`
	// PropagationCount is the number of (route push, proxy) pairs timed.
	PropagationCount int                  `json:"propagationCount,omitempty"`
	Deployments      []BaselineDeployment `json:"deployments,omitempty"`
}

// VersionBaseline is one version's requests over the run.
type VersionBaseline struct {
	Version      string             `json:"version"`
	Requests     int                `json:"requests"`
	Failed       int                `json:"failed"`
	ErrorsByKind map[string]int     `json:"errorsByKind,omitempty"`
	Latency      *metrics.Histogram `json:"latency"`
}

// BaselineStep is one step: its requests, failures and split.
type BaselineStep struct {
	Index        int            `json:"index"`
	Name         string         `json:"name"`
	Reached      bool           `json:"reached"`
	Verdict      string         `json:"verdict,omitempty"`
	Duration     time.Duration  `json:"durationNs"`
	Requests     int            `json:"requests"`
	Failed       int            `json:"failed"`
	ErrorsByKind map[string]int `json:"errorsByKind,omitempty"`
	Weighted     bool           `json:"weighted"`
	// ShareRequests and Shares are the split the weights are judged on
	// (StepReport.ShareRequests, VersionShare).
	ShareRequests int             `json:"shareRequests"`
	Shares        []BaselineShare `json:"shares,omitempty"`
	// Convergence is when the step's weights came into force after its
	// start (Convergence.After); ConvergenceBasis says how it was found.
	Convergence      time.Duration `json:"convergenceNs"`
	ConvergenceBasis string        `json:"convergenceBasis,omitempty"`
}

// BaselineShare is a version's share of a step.
type BaselineShare struct {
	Version       string  `json:"version"`
	ConfiguredPct float64 `json:"configuredPct"`
	Requests      int     `json:"requests"`
}

// BaselineStreams is the continuity of the run's long-lived streams.
type BaselineStreams struct {
	Opened       int                `json:"opened"`
	Broken       int                `json:"broken"`
	NeverResumed int                `json:"neverResumed"`
	Received     uint64             `json:"received"`
	Lost         uint64             `json:"lost"`
	Reconnect    *metrics.Histogram `json:"reconnect"`
}

// BaselineDeployment is one ECS deployment's outcome and duration.
type BaselineDeployment struct {
	Name     string        `json:"name"`
	Outcome  string        `json:"outcome,omitempty"`
	Duration time.Duration `json:"durationNs"`
}

// NewBaseline reduces a run and its report (Analyze(run)) to a baseline.
func NewBaseline(run *rundir.Run, rep *Report) *Baseline {
	b := &Baseline{
		Kind: BaselineKind, BaselineVersion: BaselineVersion,
		Scenario: rep.Run.Scenario, RunID: rep.Run.RunID, Runtime: rep.Run.Runtime, Started: rep.Run.Started,
		Verdict: rep.Verdict, VerdictReason: rep.VerdictReason,
	}
	all := metrics.NewStep()
	reconnect := metrics.NewHistogram()
	for i := range run.Observations {
		o := &run.Observations[i]
		if o.Kind == rundir.KindStreamResume && o.Stream != nil {
			reconnect.Record(o.Stream.Reconnect)
		}
		all.Add(o)
	}
	b.Requests, b.Failed, b.ErrorsByKind, b.Latency = all.Requests, all.Failed, all.ErrorsByKind, all.Latency
	for _, v := range sortedKeys(all.Versions) {
		t := all.Versions[v]
		b.Versions = append(b.Versions, VersionBaseline{Version: v, Requests: t.Requests, Failed: t.Failed, ErrorsByKind: t.ErrorsByKind, Latency: t.Latency})
	}
	for _, s := range rep.Steps {
		bs := BaselineStep{Index: s.Index, Name: s.Name, Reached: s.Reached, Verdict: s.Verdict, Duration: s.Duration,
			Requests: s.Requests, Failed: s.Failed, ErrorsByKind: s.ErrorsByKind, Weighted: s.Weighted,
			ShareRequests: s.ShareRequests, Convergence: s.Convergence.After, ConvergenceBasis: s.Convergence.Basis}
		for _, v := range s.Versions {
			bs.Shares = append(bs.Shares, BaselineShare{Version: v.Version, ConfiguredPct: v.ConfiguredPct, Requests: v.Requests})
		}
		b.Steps = append(b.Steps, bs)
	}
	if st := rep.Run.Streams; st != nil {
		b.Streams = &BaselineStreams{Opened: st.Opened, Broken: st.Broken, NeverResumed: st.NeverResumed, Received: st.Received, Lost: st.Lost, Reconnect: reconnect}
	}
	if times := propagationTimes(run.Events); len(times) > 0 {
		b.Propagation = metrics.NewHistogram()
		for _, d := range times {
			b.Propagation.Record(d)
		}
		b.PropagationCount = len(times)
	}
	for _, d := range rep.Deployments {
		b.Deployments = append(b.Deployments, BaselineDeployment{Name: d.Name, Outcome: d.Outcome, Duration: d.Duration})
	}
	return b
}

// propagationTimes times every route configuration push (the ones that
// carry weights) from the push to the proxy's ACK of that version.
func propagationTimes(evs []rundir.Event) []time.Duration {
	type key struct{ node, version string }
	pushed := map[key]time.Time{}
	for _, e := range evs {
		if e.Source != contract.SourceXDS || e.Type != contract.EventXDSPush || !carriesWeights(e) {
			continue
		}
		k := key{eventNode(e), e.Detail[contract.DetailVersion]}
		if t, ok := pushed[k]; !ok || e.Time.Before(t) {
			pushed[k] = e.Time
		}
	}
	var out []time.Duration
	for _, e := range evs {
		if e.Source != contract.SourceXDS || e.Type != contract.EventXDSAck {
			continue
		}
		k := key{eventNode(e), e.Detail[contract.DetailVersion]}
		t, ok := pushed[k]
		if !ok || e.Time.Before(t) {
			continue
		}
		out = append(out, e.Time.Sub(t))
		delete(pushed, k) // the first ACK only
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// WriteBaseline writes b to path as indented JSON.
func WriteBaseline(path string, b *Baseline) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the baseline: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the baseline: %w", err)
	}
	return nil
}

// ReadBaseline reads a baseline file, checking its kind and version.
func ReadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: not a baseline file: invalid JSON at byte %d: %w", path, se.Offset, err)
		}
		return nil, fmt.Errorf("%s: not a baseline file: %w", path, err)
	}
	switch {
	case b.Kind != BaselineKind:
		return nil, fmt.Errorf("%s: kind %q: not a meshsim baseline (want %q)", path, b.Kind, BaselineKind)
	case b.BaselineVersion < 1 || b.BaselineVersion > BaselineVersion:
		return nil, fmt.Errorf("%s: baselineVersion %d: this meshsim reads versions 1 to %d", path, b.BaselineVersion, BaselineVersion)
	case b.Latency == nil:
		return nil, fmt.Errorf("%s: latency: missing", path)
	}
	for i, v := range b.Versions {
		if v.Latency == nil {
			return nil, fmt.Errorf("%s: versions[%d].latency: missing", path, i)
		}
	}
	if b.Streams != nil && b.Streams.Reconnect == nil {
		b.Streams.Reconnect = metrics.NewHistogram()
	}
	return &b, nil
}

// LoadBaseline reads what `meshsim compare` takes as either side: a run
// directory (analysed and reduced) or a baseline file.
func LoadBaseline(path string) (*Baseline, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return ReadBaseline(path)
	}
	run, err := rundir.Read(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewBaseline(run, Analyze(run)), nil
}
