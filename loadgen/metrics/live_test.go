package metrics_test

import (
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
)

// TestRecentAndStepVersions: the live dashboard's last second and a step's
// per-version summary come from the same observations as the counts.
func TestRecentAndStepVersions(t *testing.T) {
	t0 := time.Unix(1000, 0)
	run := metrics.NewRun(time.Minute)
	for _, o := range observations(t0) {
		run.Add(o)
	}
	// Completed in [2s, 3.5s): the v2 request (2.03s); the reset one
	// completes at 5s, the canceled one at 5s, the last v1 at 5.04s.
	r := run.Recent(t0.Add(2*time.Second), t0.Add(3500*time.Millisecond))
	if r.Requests != 1 || r.Versions["v2"] == nil || r.Versions["v2"].Requests != 1 || len(r.Versions) != 1 {
		t.Errorf("recent: %d requests, versions %v", r.Requests, r.Versions)
	}
	r = run.Recent(t0.Add(4*time.Second), t0.Add(6*time.Second))
	if r.Requests != 2 || r.Failed != 1 || r.Canceled != 1 || r.ErrorsByKind[metrics.OtherKind] != 1 {
		t.Errorf("recent [4s,6s): %+v", r.Tally)
	}
	v := run.StepVersions(0)
	if s := v["v1"]; s.Requests != 2 || s.Failed != 1 || s.ErrorsByKind["http-5xx"] != 1 || s.Latency.P99 < 19*time.Millisecond {
		t.Errorf("step 0 v1 summary %+v", s)
	}
	if len(run.StepVersions(7)) != 0 {
		t.Error("a step with no requests has versions")
	}
}

// TestStreams follows streams by their last event.
func TestStreams(t *testing.T) {
	run := metrics.NewRun(time.Minute)
	ev := func(kind, id string) rundir.Observation {
		return rundir.Observation{Kind: kind, Stream: &rundir.StreamEvent{ID: id}}
	}
	for _, o := range []rundir.Observation{
		ev(rundir.KindStreamOpen, "a"), ev(rundir.KindStreamOpen, "b"), ev(rundir.KindStreamOpen, "c"),
		ev(rundir.KindStreamBreak, "a"), ev(rundir.KindStreamBreak, "b"), ev(rundir.KindStreamResume, "b"),
		ev(rundir.KindStreamGap, "b"), ev(rundir.KindStreamEnd, "c"),
	} {
		run.Add(o)
	}
	got := run.Streams()
	want := metrics.StreamCounts{Open: 1, Broken: 1, Ended: 1, Breaks: 2, Resumes: 1, Gaps: 1}
	if got != want {
		t.Errorf("streams %+v, want %+v", got, want)
	}
}
