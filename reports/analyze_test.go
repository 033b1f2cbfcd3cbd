package reports_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/sim/contract"
)

func TestAnalyzeShares(t *testing.T) {
	type want struct {
		configured, observed, errPP, tolPP float64
		requests                           int
	}
	cases := []struct {
		name        string
		weights     map[string]float64
		counts      map[string]int
		failures    []string // error kinds of failed requests without a version
		want        map[string]want
		maxErr      float64
		chiDF       int // 0: no chi-square test expected
		shareReqs   int
		errorsKinds map[string]int
	}{
		{
			name:    "exact 90/10",
			weights: map[string]float64{"v1": 90, "v2": 10},
			counts:  map[string]int{"v1": 900, "v2": 100},
			want: map[string]want{
				"v1": {90, 90, 0, 100 * 3 * math.Sqrt(0.9*0.1/1000), 900},
				"v2": {10, 10, 0, 100 * 3 * math.Sqrt(0.9*0.1/1000), 100},
			},
			chiDF: 1, shareReqs: 1000,
		},
		{
			name:    "off by two points",
			weights: map[string]float64{"v1": 90, "v2": 10},
			counts:  map[string]int{"v1": 880, "v2": 120},
			want: map[string]want{
				"v1": {90, 88, 2, 2.8460498941515415, 880},
				"v2": {10, 12, 2, 2.8460498941515415, 120},
			},
			maxErr: 2, chiDF: 1, shareReqs: 1000,
		},
		{
			name:    "weights normalised",
			weights: map[string]float64{"blue": 1, "green": 3},
			counts:  map[string]int{"blue": 300, "green": 700},
			want: map[string]want{
				"blue":  {25, 30, 5, 100 * 3 * math.Sqrt(0.25*0.75/1000), 300},
				"green": {75, 70, 5, 100 * 3 * math.Sqrt(0.25*0.75/1000), 700},
			},
			maxErr: 5, chiDF: 1, shareReqs: 1000,
		},
		{
			name:    "zero weight and unconfigured versions are errors",
			weights: map[string]float64{"v1": 50, "v2": 50, "v3": 0},
			counts:  map[string]int{"v1": 490, "v2": 490, "v3": 10, "v9": 10},
			want: map[string]want{
				"v1": {50, 49, 1, 100 * 3 * math.Sqrt(0.25/1000), 490},
				"v2": {50, 49, 1, 100 * 3 * math.Sqrt(0.25/1000), 490},
				"v3": {0, 1, 1, 0, 10},
				"v9": {0, 1, 1, 0, 10},
			},
			maxErr: 1, chiDF: 1, shareReqs: 1000,
		},
		{
			name:     "failures without a version count as errors, not shares",
			weights:  map[string]float64{"v1": 100},
			counts:   map[string]int{"v1": 400},
			failures: []string{"reset", "reset", "eof", ""},
			want: map[string]want{
				"v1": {100, 100, 0, 0, 400},
			},
			shareReqs:   400,
			errorsKinds: map[string]int{"reset": 2, "eof": 1, "other": 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := served(0, at(0), time.Millisecond, tc.counts)
			for i, k := range tc.failures {
				obs = append(obs, failObs(0, at(time.Duration(i)*time.Millisecond), k))
			}
			run := newRun([]rundir.Step{step(0, "s", 0, 10*time.Second, tc.weights)}, obs, nil)
			s := reports.Analyze(run).Steps[0]

			if !s.Weighted || !s.Reached {
				t.Fatalf("Weighted=%v Reached=%v, want both", s.Weighted, s.Reached)
			}
			if s.Requests != len(obs) || s.Failed != len(tc.failures) || s.Successes != len(obs)-len(tc.failures) {
				t.Errorf("requests/successes/failed = %d/%d/%d, want %d/%d/%d",
					s.Requests, s.Successes, s.Failed, len(obs), len(obs)-len(tc.failures), len(tc.failures))
			}
			if s.ShareRequests != tc.shareReqs || s.Unattributed != len(tc.failures) {
				t.Errorf("ShareRequests=%d Unattributed=%d, want %d and %d", s.ShareRequests, s.Unattributed, tc.shareReqs, len(tc.failures))
			}
			if len(s.Versions) != len(tc.want) {
				t.Fatalf("versions = %+v, want %d", s.Versions, len(tc.want))
			}
			for i, v := range s.Versions {
				if i > 0 && s.Versions[i-1].Version >= v.Version {
					t.Errorf("versions not sorted: %q before %q", s.Versions[i-1].Version, v.Version)
				}
				w, ok := tc.want[v.Version]
				if !ok {
					t.Errorf("unexpected version %q", v.Version)
					continue
				}
				mustNear(t, v.Version+" configured", v.ConfiguredPct, w.configured, 1e-9)
				mustNear(t, v.Version+" observed", v.ObservedPct, w.observed, 1e-9)
				mustNear(t, v.Version+" error", v.ErrorPP, w.errPP, 1e-9)
				mustNear(t, v.Version+" tolerance", v.TolerancePP, w.tolPP, 1e-9)
				if v.Requests != w.requests {
					t.Errorf("%s requests = %d, want %d", v.Version, v.Requests, w.requests)
				}
			}
			mustNear(t, "max error", s.MaxErrorPP, tc.maxErr, 1e-9)
			switch {
			case tc.chiDF == 0 && s.ChiSquare != nil:
				t.Errorf("chi-square = %+v, want none", s.ChiSquare)
			case tc.chiDF != 0 && (s.ChiSquare == nil || s.ChiSquare.DF != tc.chiDF):
				t.Errorf("chi-square = %+v, want df %d", s.ChiSquare, tc.chiDF)
			}
			if len(s.ErrorsByKind) != len(tc.errorsKinds) {
				t.Errorf("errors by kind = %v, want %v", s.ErrorsByKind, tc.errorsKinds)
			}
			for k, n := range tc.errorsKinds {
				if s.ErrorsByKind[k] != n {
					t.Errorf("errors[%s] = %d, want %d", k, s.ErrorsByKind[k], n)
				}
			}
		})
	}
}

func TestChiSquare(t *testing.T) {
	cases := []struct {
		name      string
		weights   map[string]float64
		counts    map[string]int
		statistic float64
		df        int
		pValue    float64
		pTol      float64
	}{
		// (10²/500)·2 = 0.4; P(χ²₁ > 0.4) = 0.52709.
		{"fair 50/50 of 1000", map[string]float64{"a": 50, "b": 50}, map[string]int{"a": 510, "b": 490}, 0.4, 1, 0.52709, 1e-5},
		// (1000²/5000)·2 = 400: no chance at all.
		{"60/40 of 10000 against 50/50", map[string]float64{"a": 50, "b": 50}, map[string]int{"a": 6000, "b": 4000}, 400, 1, 0, 1e-80},
		// For df 2 the survival function is exp(-x/2): 2·83²/1000 = 13.778.
		{"three arms", map[string]float64{"a": 1, "b": 1, "c": 1}, map[string]int{"a": 1083, "b": 917, "c": 1000}, 13.778, 2, math.Exp(-13.778 / 2), 1e-12},
		{"exact", map[string]float64{"a": 90, "b": 10}, map[string]int{"a": 900, "b": 100}, 0, 1, 1, 1e-12},
		// The zero-weight arm is left out: a and b split 1000 as configured.
		{"zero weight left out", map[string]float64{"a": 50, "b": 50, "z": 0}, map[string]int{"a": 500, "b": 500, "z": 20}, 0, 1, 1, 1e-12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := newRun([]rundir.Step{step(0, "s", 0, time.Minute, tc.weights)}, served(0, at(0), time.Millisecond, tc.counts), nil)
			c := reports.Analyze(run).Steps[0].ChiSquare
			if c == nil {
				t.Fatal("no chi-square test")
			}
			mustNear(t, "statistic", c.Statistic, tc.statistic, 1e-9)
			mustNear(t, "p-value", c.PValue, tc.pValue, tc.pTol)
			if c.DF != tc.df {
				t.Errorf("df = %d, want %d", c.DF, tc.df)
			}
		})
	}

	// A single weighted version leaves nothing to test.
	run := newRun([]rundir.Step{step(0, "s", 0, time.Minute, map[string]float64{"a": 100})}, served(0, at(0), time.Millisecond, map[string]int{"a": 10}), nil)
	if c := reports.Analyze(run).Steps[0].ChiSquare; c != nil {
		t.Errorf("single version: chi-square = %+v, want none", c)
	}
}

func TestConvergence(t *testing.T) {
	const ms = time.Millisecond
	// Step 1 starts at 10s and moves v1 100 → 50/50. Before the proxies ACK
	// the new version, everything still goes to v1.
	start := 10 * time.Second
	steps := []rundir.Step{
		step(0, "baseline", 0, start, map[string]float64{"v1": 100}),
		step(1, "half", start, 30*time.Second, map[string]float64{"v1": 50, "v2": 50}),
	}
	var early []rundir.Observation
	for i := range 40 {
		early = append(early, okObs(1, at(start+time.Duration(i)*ms), "v1", ms))
	}
	late := served(1, at(start+40*ms), ms, map[string]int{"v1": 500, "v2": 500})
	baseline := served(0, at(0), ms, map[string]int{"v1": 100})
	obs := concat(baseline, early, late)

	pushAck := []rundir.Event{
		xdsEvent(contract.EventXDSPush, at(-500*ms), "node-a", "2"), // during setup
		xdsEvent(contract.EventXDSAck, at(-400*ms), "node-a", "2"),
		xdsEvent(contract.EventXDSPush, at(start+10*ms), "node-a", "3"),
		xdsEvent(contract.EventXDSPush, at(start+12*ms), "node-b", "3"),
		xdsEvent(contract.EventXDSAck, at(start+20*ms), "node-a", "3"),
		xdsEvent(contract.EventXDSAck, at(start+40*ms), "node-b", "3"),
		// Late ACK of a version pushed in step 0: not this step's weights.
		xdsEvent(contract.EventXDSAck, at(start+50*ms), "node-c", "2"),
		// ACK of version 3 by a node it was never pushed to in this step.
		xdsEvent(contract.EventXDSAck, at(start+60*ms), "node-z", "3"),
		// After the step: outside the window.
		xdsEvent(contract.EventXDSAck, at(31*time.Second), "node-b", "3"),
		{Time: at(start + 70*ms), Source: contract.SourceEngine, Type: contract.EventXDSAck, Detail: map[string]string{"node": "node-a", "version": "3"}},
	}

	cases := []struct {
		name      string
		events    []rundir.Event
		basis     string
		after     time.Duration
		excluded  int
		share     int
		v2pct     float64
		pushes    int
		acks      int
		judgeable bool
	}{
		{"push and ack", pushAck, reports.ConvergedOnAck, 40 * ms, 40, 1000, 50, 2, 2, true},
		{"no xds events", nil, reports.ConvergedAtStart, 0, 0, 1040, 500.0 / 1040 * 100, 0, 0, true},
		{"pushed, never acked", []rundir.Event{
			xdsEvent(contract.EventXDSPush, at(start+10*ms), "node-a", "3"),
			xdsEvent(contract.EventXDSAck, at(start+5*ms), "node-a", "3"), // before the push
			xdsEvent(contract.EventXDSNack, at(start+20*ms), "node-a", "3"),
		}, reports.NotConverged, 0, 1040, 0, 0, 1, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := newRun(steps, obs, tc.events, rundir.Assertion{Kind: "weight-within", Value: 0.01})
			run.Meta.Load.Rate = 10 // what step 0 sent: the instrument kept up
			r := reports.Analyze(run)
			s := r.Steps[1]
			c := s.Convergence
			if c.Basis != tc.basis || c.After != tc.after || c.Excluded != tc.excluded || c.Pushes != tc.pushes || c.Acks != tc.acks {
				t.Errorf("convergence = %+v, want basis %s after %v excluded %d pushes %d acks %d",
					c, tc.basis, tc.after, tc.excluded, tc.pushes, tc.acks)
			}
			if s.ShareRequests != tc.share {
				t.Errorf("ShareRequests = %d, want %d", s.ShareRequests, tc.share)
			}
			if s.Requests != 1040 || s.Latency.Count != 1040 {
				t.Errorf("requests %d, latency count %d: early requests must count for errors and latency", s.Requests, s.Latency.Count)
			}
			if tc.share > 0 {
				mustNear(t, "v2 observed", s.Versions[1].ObservedPct, tc.v2pct, 1e-9)
			}
			// Step 0 is exact, so the assertion turns on step 1.
			a := r.Assertions[0]
			switch {
			case tc.basis == reports.ConvergedOnAck && !a.Passed:
				t.Errorf("weight-within after excluding early requests: %s", a.Message)
			case tc.basis == reports.ConvergedAtStart && a.Passed:
				t.Errorf("weight-within counting early requests passed: %s", a.Message)
			case !tc.judgeable && (!a.Passed || !contains(a.Message, `step 1 "half"`, "never acknowledged")):
				t.Errorf("unconverged step: want it left unjudged and named, got passed=%v %q", a.Passed, a.Message)
			}
		})
	}
}

func TestLatencyQuantiles(t *testing.T) {
	cases := []struct {
		name  string
		unit  time.Duration
		relTo float64 // allowed relative error (HDR, 3 significant figures)
	}{
		{"microseconds are exact", time.Microsecond, 0},
		{"milliseconds within 3 significant figures", time.Millisecond, 1e-3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Latencies 1..1000 units in shuffled order, half from each version.
			var obs []rundir.Observation
			for i := range 1000 {
				v := (i*7919)%1000 + 1
				version := "v1"
				if v%2 == 0 {
					version = "v2"
				}
				obs = append(obs, okObs(0, at(time.Duration(i)*time.Millisecond), version, time.Duration(v)*tc.unit))
			}
			run := newRun([]rundir.Step{step(0, "s", 0, 10*time.Second, map[string]float64{"v1": 50, "v2": 50})}, obs, nil)
			s := reports.Analyze(run).Steps[0]
			check := func(what string, got time.Duration, want float64) {
				t.Helper()
				w := want * float64(tc.unit)
				if !near(float64(got), w, w*tc.relTo) {
					t.Errorf("%s = %v, want %v", what, got, time.Duration(w))
				}
			}
			if s.Latency.Count != 1000 {
				t.Errorf("count = %d, want 1000", s.Latency.Count)
			}
			check("p50", s.Latency.P50, 500)
			check("p90", s.Latency.P90, 900)
			check("p99", s.Latency.P99, 990)
			check("max", s.Latency.Max, 1000)
			// v1 served the odd latencies 1..999: its median is 499, its max 999.
			check("v1 p50", s.Versions[0].Latency.P50, 499)
			check("v1 max", s.Versions[0].Latency.Max, 999)
			check("v2 max", s.Versions[1].Latency.Max, 1000)
		})
	}
}

func TestAnalyzeRunInfo(t *testing.T) {
	steps := []rundir.Step{
		step(0, "a", 0, 10*time.Second, map[string]float64{"v1": 100}),
		step(1, "b", 10*time.Second, 20*time.Second, map[string]float64{"v1": 100}),
	}
	obs := concat(
		served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 1000}),
		served(1, at(10*time.Second), 20*time.Millisecond, map[string]int{"v1": 500}),
		[]rundir.Observation{failObs(1, at(15*time.Second), "refused"), failObs(7, at(15*time.Second), "timeout")},
	)
	run := newRun(steps, obs, nil)
	run.TornLines = 1
	// Step 1 sent half the offered rate; the run's limit allows it.
	run.Meta.Instrument = &rundir.InstrumentLimits{MinAchieved: 0.5}
	r := reports.Analyze(run)
	info := r.Run
	if info.Scenario != "canary" || info.RunID != "run-1" || info.Runtime != "inproc" || info.MeasuredService != "movie" || info.TornLines != 1 {
		t.Errorf("run info = %+v", info)
	}
	if info.Partial || info.Reason != "" {
		t.Errorf("complete run reported partial: %q", info.Reason)
	}
	if info.WallTime != 21*time.Second {
		t.Errorf("wall time = %v, want 21s", info.WallTime)
	}
	if info.Totals.Requests != 1502 || info.Totals.Failed != 2 || info.Totals.OutsideSteps != 1 {
		t.Errorf("totals = %+v", info.Totals)
	}
	mustNear(t, "error rate", info.Totals.ErrorRate, 2.0/1502, 1e-12)
	mustNear(t, "offered", info.Load.OfferedRate, 100, 0)
	mustNear(t, "achieved", info.Load.AchievedRate, 1501.0/20, 1e-9)
	mustNear(t, "step 0 rate", r.Steps[0].AchievedRate, 100, 1e-9)
	mustNear(t, "step 1 rate", r.Steps[1].AchievedRate, 50.1, 1e-9)
	if r.Steps[1].Duration != 10*time.Second {
		t.Errorf("step 1 duration = %v", r.Steps[1].Duration)
	}
	if r.ReportVersion != reports.ReportVersion || r.Verdict != "pass" {
		t.Errorf("version %d verdict %q", r.ReportVersion, r.Verdict)
	}
}

func TestPartialRun(t *testing.T) {
	steps := []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100}),
		// Cut off: started, never ended.
		{Index: 1, Name: "canary", Weights: map[string]float64{"v1": 90, "v2": 10}, Start: at(10 * time.Second)},
		// Never reached.
		{Index: 2, Name: "promote", Weights: map[string]float64{"v2": 100}},
	}
	obs := concat(
		served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 1000}),
		served(1, at(10*time.Second), 10*time.Millisecond, map[string]int{"v1": 450, "v2": 50}),
	)
	asserts := []rundir.Assertion{
		{Kind: "weight-within", Value: 1},
		{Kind: "latency-p99-below", Value: float64(50 * time.Millisecond)},
		{Kind: "no-failed-requests"},
	}
	run := newRun(steps, obs, nil, asserts...)
	run.Meta.Ended = time.Time{}
	run.Meta.Partial = true
	run.Meta.Reason = "interrupted (SIGINT)"
	// A request the generator abandoned at the stop is no failure.
	run.Observations = append(run.Observations, rundir.Observation{
		Kind: "http", Scheduled: at(14980 * time.Millisecond), Latency: 5 * time.Millisecond,
		Step: 1, Error: "context canceled", ErrorKind: "canceled",
	})

	r := reports.Analyze(run)
	if r.Run.Totals.Canceled != 1 || r.Run.Totals.Requests != 1500 || r.Steps[1].Canceled != 1 || r.Steps[1].Requests != 500 {
		t.Errorf("canceled request: totals %+v, step 1 requests %d canceled %d", r.Run.Totals, r.Steps[1].Requests, r.Steps[1].Canceled)
	}
	if !r.Run.Partial || r.Run.Reason != "interrupted (SIGINT)" {
		t.Errorf("partial = %v %q", r.Run.Partial, r.Run.Reason)
	}
	// The last request was scheduled at 14.99s and took 1ms.
	if want := time.Second + 14990*time.Millisecond + time.Millisecond; r.Run.WallTime != want {
		t.Errorf("wall time = %v, want %v", r.Run.WallTime, want)
	}
	if s := r.Steps[1]; !s.Reached || s.Duration != 4990*time.Millisecond || s.ShareRequests != 500 {
		t.Errorf("cut-off step: reached %v duration %v shares %d", s.Reached, s.Duration, s.ShareRequests)
	}
	if s := r.Steps[2]; s.Reached || s.Requests != 0 {
		t.Errorf("unreached step: %+v", s)
	}
	for _, a := range r.Assertions {
		if !a.Passed {
			t.Errorf("%s failed on what exists: %s", a.Kind, a.Message)
		}
	}
	if !contains(r.Assertions[0].Message, "2 step(s)") {
		t.Errorf("weight-within message %q: want the two reached steps judged", r.Assertions[0].Message)
	}
	// What was recorded holds, but the run is partial: never a pass.
	if r.Verdict != reports.VerdictInconclusive || !contains(r.VerdictReason, "partial run: ") {
		t.Errorf("verdict %q (%s), want inconclusive for a partial run", r.Verdict, r.VerdictReason)
	}

	// A partial run that failed on what exists still fails.
	run.Observations = append(run.Observations, failObs(1, at(12*time.Second), "reset"))
	if r := reports.Analyze(run); r.Passed() || r.Assertions[2].Passed {
		t.Errorf("failed request in a partial run passed: %s", r.Assertions[2].Message)
	}

	// No end time and no partial flag: still partial.
	run = newRun(steps[:1], obs[:1000], nil)
	run.Meta.Ended = time.Time{}
	if r := reports.Analyze(run); !r.Run.Partial || r.Run.Reason == "" {
		t.Errorf("run without an end time: partial %v reason %q", r.Run.Partial, r.Run.Reason)
	}
}

func TestNothingToJudge(t *testing.T) {
	asserts := []rundir.Assertion{
		{Kind: "no-failed-requests"},
		{Kind: "max-error-rate", Value: 0.01},
		{Kind: "weight-within", Value: 1},
		{Kind: "weight-binomial", Value: 3},
		{Kind: "latency-p99-below", Value: 1e8},
	}
	steps := []rundir.Step{step(0, "s", 0, time.Second, map[string]float64{"v1": 100})}
	// No request at all: the run is an error, complete or not, and no
	// assertion is judged.
	for _, partial := range []bool{false, true} {
		run := newRun(steps, nil, nil, asserts...)
		run.Meta.Partial = partial
		r := reports.Analyze(run)
		if r.Verdict != reports.VerdictError || !contains(r.VerdictReason, "sent no request") {
			t.Errorf("partial=%v: verdict %q (%s), want error", partial, r.Verdict, r.VerdictReason)
		}
		for _, a := range r.Assertions {
			if a.Verdict != reports.VerdictInconclusive || !a.Passed || !contains(a.Message, "not judged") {
				t.Errorf("partial=%v: %s verdict %q passed=%v with no requests: %s", partial, a.Kind, a.Verdict, a.Passed, a.Message)
			}
		}
	}
	// Requests that all failed before reaching a version: a complete run
	// cannot judge the split, and that fails; a partial one leaves it
	// inconclusive.
	var failed []rundir.Observation
	for i := range 100 {
		failed = append(failed, failObs(0, at(time.Duration(i)*10*time.Millisecond), "refused"))
	}
	for _, partial := range []bool{false, true} {
		run := newRun(steps, failed, nil, rundir.Assertion{Kind: "weight-within", Value: 1})
		run.Meta.Partial = partial
		a := reports.Analyze(run).Assertions[0]
		want, prefix := reports.VerdictFail, "cannot judge"
		if partial {
			want, prefix = reports.VerdictInconclusive, "not judged"
		}
		if a.Verdict != want || !contains(a.Message, prefix) {
			t.Errorf("partial=%v: weight-within %q %q, want %q %q", partial, a.Verdict, a.Message, want, prefix)
		}
	}
	if r := reports.Analyze(nil); r == nil || !r.Run.Partial || r.Verdict != reports.VerdictError {
		t.Errorf("Analyze(nil) = %+v", r)
	}
}

// A request of step 0 still in flight when step 1 began may have been
// routed by step 1's weights: it counts for errors and latency, not for
// step 0's shares.
func TestInFlightAtStepEndExcluded(t *testing.T) {
	const ms = time.Millisecond
	end := 10 * time.Second
	steps := []rundir.Step{
		step(0, "baseline", 0, end, map[string]float64{"v1": 100, "v2": 0}),
		step(1, "promoted", end, 20*time.Second, map[string]float64{"v2": 100}),
	}
	obs := served(0, at(0), ms, map[string]int{"v1": 1000})
	straddling := okObs(0, at(end-ms), "v2", 3*ms) // sent before the change, completed after
	obs = append(obs, straddling)
	r := reports.Analyze(newRun(steps, obs, nil, rundir.Assertion{Kind: "weight-within", Value: 0.01}))
	s := r.Steps[0]
	if s.Requests != 1001 || s.Latency.Count != 1001 {
		t.Errorf("requests %d, latency count %d: the straddling request must still count", s.Requests, s.Latency.Count)
	}
	if s.Convergence.Excluded != 1 || s.ShareRequests != 1000 {
		t.Errorf("excluded %d, share requests %d; want 1 and 1000", s.Convergence.Excluded, s.ShareRequests)
	}
	if a := r.Assertions[0]; !a.Passed {
		t.Errorf("weight-within: %s", a.Message)
	}
}

// Only pushes of route configurations (which carry the weights) decide
// convergence: endpoint pushes from tasks coming and going do not.
func TestConvergenceIgnoresEndpointPushes(t *testing.T) {
	const ms = time.Millisecond
	start := 10 * time.Second
	steps := []rundir.Step{
		step(0, "baseline", 0, start, map[string]float64{"v1": 100}),
		step(1, "half", start, 20*time.Second, map[string]float64{"v1": 50, "v2": 50}),
	}
	obs := concat(served(0, at(0), ms, map[string]int{"v1": 100}), served(1, at(start+10*ms), ms, map[string]int{"v1": 500, "v2": 500}))
	typed := func(typ contract.EventType, at time.Time, version, typeURL string) rundir.Event {
		e := xdsEvent(typ, at, "node-a", version)
		e.Detail[contract.DetailTypeURL] = typeURL
		return e
	}
	const rds, eds = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	evs := []rundir.Event{
		typed(contract.EventXDSPush, at(start+1*ms), "r2", rds),
		typed(contract.EventXDSAck, at(start+3*ms), "r2", rds),
		typed(contract.EventXDSPush, at(start+5*time.Second), "e7", eds), // a task left
		typed(contract.EventXDSAck, at(start+5*time.Second+ms), "e7", eds),
	}
	c := reports.Analyze(newRun(steps, obs, evs)).Steps[1].Convergence
	if c.Basis != reports.ConvergedOnAck || c.After != 3*ms || c.Pushes != 1 {
		t.Errorf("convergence %+v, want on the route ACK after 3ms", c)
	}
}

// engineStep is the engine's step.start or step.end event of step i at t.
func engineStep(typ contract.EventType, i int, t time.Time, name, weights string) rundir.Event {
	d := map[string]string{contract.DetailStep: fmt.Sprint(i)}
	if typ == contract.EventStepStart {
		d[contract.DetailName], d[contract.DetailWeights] = name, weights
	}
	return rundir.Event{Time: t, Source: contract.SourceEngine, Type: typ, Detail: d}
}

// A run killed (SIGKILL) before it could rewrite run.json left its steps
// without times: the steps' windows come from the engine's step events, so
// every step that ran is judged and a later step's ACK is not an earlier
// step's convergence. Steps run.json never listed (deployment phases) are
// added from their step.start events.
func TestStepsFromEvents(t *testing.T) {
	weights := []map[string]float64{{"v1": 100}, {"v1": 50, "v2": 50}, {"v2": 100}}
	var planned []rundir.Step
	for i, w := range weights {
		planned = append(planned, rundir.Step{Index: i, Name: fmt.Sprint("s", i), Weights: w, Bake: 10 * time.Second})
	}
	sec := time.Second
	evs := []rundir.Event{
		engineStep(contract.EventStepStart, 0, at(0), "s0", "v1=100"),
		engineStep(contract.EventStepEnd, 0, at(10*sec), "", ""),
		engineStep(contract.EventStepStart, 1, at(10*sec), "s1", "v1=50,v2=50"),
		xdsEvent("xds.push", at(10*sec+10*time.Millisecond), "node-a", "2"),
		xdsEvent("xds.ack", at(10*sec+30*time.Millisecond), "node-a", "2"),
		engineStep(contract.EventStepEnd, 1, at(20*sec), "", ""),
		engineStep(contract.EventStepStart, 2, at(20*sec), "s2", "v2=100"),
		xdsEvent("xds.push", at(20*sec+10*time.Millisecond), "node-a", "3"),
		xdsEvent("xds.ack", at(20*sec+40*time.Millisecond), "node-a", "3"),
	}
	obs := concat(
		served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 1000}),
		served(1, at(10*sec+50*time.Millisecond), 10*time.Millisecond, map[string]int{"v1": 495, "v2": 495}),
		served(2, at(20*sec+50*time.Millisecond), 10*time.Millisecond, map[string]int{"v2": 400}),
	)
	killed := func() *rundir.Run {
		run := newRun(planned, obs, evs, rundir.Assertion{Kind: "weight-within", Value: 1})
		run.Meta.Ended = time.Time{} // killed: run.json is the one written at the start
		return run
	}

	r := reports.Analyze(killed())
	wantStart := []time.Time{at(0), at(10 * sec), at(20 * sec)}
	wantEnd := []time.Time{at(10 * sec), at(20 * sec), {}}
	wantAfter := []time.Duration{0, 30 * time.Millisecond, 40 * time.Millisecond}
	for i, s := range r.Steps {
		if !s.Reached || !s.Start.Equal(wantStart[i]) || !s.End.Equal(wantEnd[i]) {
			t.Errorf("step %d: reached %v window %v – %v, want %v – %v", i, s.Reached, s.Start, s.End, wantStart[i], wantEnd[i])
		}
		if s.Convergence.After != wantAfter[i] || s.Convergence.Excluded != 0 {
			t.Errorf("step %d: convergence %+v, want after %v with nothing excluded", i, s.Convergence, wantAfter[i])
		}
		if s.ShareRequests != s.Requests || s.Verdict != reports.VerdictPass {
			t.Errorf("step %d: %d of %d requests counted, verdict %q (%s)", i, s.ShareRequests, s.Requests, s.Verdict, s.VerdictReason)
		}
	}
	if a := r.Assertions[0]; !a.Passed || !contains(a.Message, "in 3 step(s)") {
		t.Errorf("weight-within: %s; want all three steps judged", a.Message)
	}
	if !r.Run.Partial || r.Verdict != reports.VerdictInconclusive {
		t.Errorf("killed run: partial %v verdict %q", r.Run.Partial, r.Verdict)
	}

	// A deployment's phases: run.json lists none before the run's end.
	run := killed()
	run.Meta.Steps = nil
	r = reports.Analyze(run)
	if len(r.Steps) != 3 || r.Steps[1].Name != "s1" || !r.Steps[1].Weighted || r.Steps[1].Versions[1].ConfiguredPct != 50 ||
		r.Steps[2].ShareRequests != 400 {
		t.Errorf("steps from step.start events: %+v", r.Steps)
	}

	// run.json's own times win where it has them (a deployment phase's
	// start is when ECS reported it, a moment before the engine's event).
	run = killed()
	run.Meta.Steps[1].Start = at(10*sec - 5*time.Millisecond)
	if s := reports.Analyze(run).Steps[1]; !s.Start.Equal(at(10*sec - 5*time.Millisecond)) {
		t.Errorf("step 1 start %v, want run.json's", s.Start)
	}
}
