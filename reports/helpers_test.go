package reports_test

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is a scenario step that ran from t0+from to t0+to.
func step(i int, name string, from, to time.Duration, weights map[string]float64) rundir.Step {
	return rundir.Step{Index: i, Name: name, Weights: weights, Start: at(from), End: at(to)}
}

// okObs is a successful request of step, scheduled at t, served by version.
func okObs(step int, t time.Time, version string, latency time.Duration) rundir.Observation {
	return rundir.Observation{
		Kind: "http", Scheduled: t, Sent: t, Latency: latency, ServiceTime: latency,
		Step: step, Status: 200, Version: version, Task: version + "-task",
	}
}

// failObs is a failed request of step, scheduled at t, that reached no
// version.
func failObs(step int, t time.Time, kind string) rundir.Observation {
	return rundir.Observation{
		Kind: "http", Scheduled: t, Sent: t, Latency: time.Millisecond,
		Step: step, Error: "request failed: " + kind, ErrorKind: kind,
	}
}

// served returns counts[v] successful requests of step per version, one
// every gap from start, the versions interleaved in name order.
func served(step int, start time.Time, gap time.Duration, counts map[string]int) []rundir.Observation {
	names := make([]string, 0, len(counts))
	left := map[string]int{}
	total := 0
	for v, n := range counts {
		names = append(names, v)
		left[v] = n
		total += n
	}
	sort.Strings(names)
	var out []rundir.Observation
	for len(out) < total {
		for _, v := range names {
			if left[v] > 0 {
				out = append(out, okObs(step, start.Add(time.Duration(len(out))*gap), v, time.Millisecond))
				left[v]--
			}
		}
	}
	return out
}

// newRun is a complete run of steps that ended when the last step ended.
func newRun(steps []rundir.Step, obs []rundir.Observation, evs []rundir.Event, asserts ...rundir.Assertion) *rundir.Run {
	m := rundir.Meta{
		FormatVersion:   rundir.FormatVersion,
		RunID:           "run-1",
		Scenario:        "canary",
		ScenarioSource:  "builtin:canary",
		Runtime:         "inproc",
		Started:         t0.Add(-time.Second),
		MeasuredService: "movie",
		Steps:           steps,
		Assertions:      asserts,
		Load:            rundir.Load{Rate: 100, Target: "http://127.0.0.1:8080/", Timeout: time.Second},
	}
	if len(steps) > 0 {
		m.Ended = steps[len(steps)-1].End
	}
	return &rundir.Run{Meta: m, Observations: obs, Events: evs}
}

func xdsEvent(typ contract.EventType, t time.Time, node, version string) rundir.Event {
	return rundir.Event{
		Time: t, Source: contract.SourceXDS, Type: typ, Resource: node,
		Detail: map[string]string{"node": node, "version": version, "typeUrl": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"},
	}
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func concat(parts ...[]rundir.Observation) []rundir.Observation {
	var out []rundir.Observation
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func mustNear(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !near(got, want, tol) {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, tol)
	}
}

// contains reports whether s contains every one of subs.
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
