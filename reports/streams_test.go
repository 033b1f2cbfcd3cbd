package reports_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// streamEvents builds the stream records of one generator, numbering them
// in the order given.
type streamEvents struct{ obs []rundir.Observation }

func (e *streamEvents) add(kind string, stepIdx int, t time.Duration, id, version string, s rundir.StreamEvent, errKind string) {
	s.ID, s.Method = id, "subscribe"
	o := rundir.Observation{
		Kind: kind, Seq: uint64(len(e.obs) + 1), Scheduled: at(t), Sent: at(t), Step: stepIdx,
		Version: version, Stream: &s, ErrorKind: errKind,
	}
	if kind == rundir.KindStreamBreak {
		o.GRPCCode, o.Error = "UNAVAILABLE", "broken: "+errKind
	}
	e.obs = append(e.obs, o)
}

// rolloutStreams is a run of two 10 s steps with five Subscribe streams and
// a trickle of unary calls. All streams open on v1 in step 0. In step 1
// (v1 → v2), s1 and s2 are drained and resume on v2 after 500 ms, s1
// losing 5 messages; s3 is reset and resumes on v2 after 2 s, with one
// duplicate; s4 breaks 50 ms before the run ends and s5 at 11 s, neither
// resumed.
func rolloutStreams(asserts ...rundir.Assertion) *rundir.Run {
	steps := []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100}),
		step(1, "blue-green", 10*time.Second, 20*time.Second, map[string]float64{"v2": 100}),
	}
	var e streamEvents
	for i, id := range []string{"s1", "s2", "s3", "s4", "s5"} {
		e.add(rundir.KindStreamOpen, 0, time.Second+time.Duration(i)*time.Millisecond, id, "v1", rundir.StreamEvent{Call: 1}, "")
	}
	e.add(rundir.KindStreamBreak, 1, 11*time.Second, "s5", "v1", rundir.StreamEvent{Call: 1, Received: 100}, "reset")
	for _, id := range []string{"s1", "s2"} {
		e.add(rundir.KindStreamBreak, 1, 12*time.Second, id, "v1", rundir.StreamEvent{Call: 1, Received: 110}, "drained")
		e.add(rundir.KindStreamResume, 1, 12500*time.Millisecond, id, "v2",
			rundir.StreamEvent{Call: 2, Reconnect: 500 * time.Millisecond, FromVersion: "v1"}, "")
	}
	e.add(rundir.KindStreamGap, 1, 12500*time.Millisecond, "s1", "v2", rundir.StreamEvent{Call: 2, Lost: 5, GapFrom: 111, GapTo: 115, FromVersion: "v1"}, "")
	e.add(rundir.KindStreamBreak, 1, 15*time.Second, "s3", "v1", rundir.StreamEvent{Call: 1, Received: 140}, "reset")
	e.add(rundir.KindStreamResume, 1, 17*time.Second, "s3", "v2", rundir.StreamEvent{Call: 3, Reconnect: 2 * time.Second, FromVersion: "v1", Retries: 1}, "")
	e.add(rundir.KindStreamGap, 1, 17100*time.Millisecond, "s3", "v2", rundir.StreamEvent{Call: 3, Duplicated: 1}, "")
	e.add(rundir.KindStreamBreak, 1, 19950*time.Millisecond, "s4", "v1", rundir.StreamEvent{Call: 1, Received: 189}, "goaway")
	for _, id := range []string{"s1", "s2", "s3", "s4", "s5"} {
		e.add(rundir.KindStreamEnd, 1, 20*time.Second, id, "", rundir.StreamEvent{Received: 200}, "")
	}
	obs := append(served(0, at(0), 100*time.Millisecond, map[string]int{"v1": 100}),
		served(1, at(10*time.Second), 100*time.Millisecond, map[string]int{"v2": 100})...)
	for i := range obs {
		obs[i].Kind = rundir.KindGRPCUnary
		obs[i].Status, obs[i].GRPCCode = 0, "OK"
	}
	run := newRun(steps, append(obs, e.obs...), nil, asserts...)
	run.Meta.Load.Rate = 10 // what the steps sent
	return run
}

func TestAnalyzeStreams(t *testing.T) {
	r := reports.Analyze(rolloutStreams())
	if r.Run.Totals.Requests != 200 || r.Run.Totals.Failed != 0 {
		t.Errorf("totals %+v: stream events must not count as requests", r.Run.Totals)
	}
	if got := r.Steps[1].Versions; len(got) != 1 || got[0].Version != "v2" || got[0].Requests != 100 || r.Steps[1].MaxErrorPP != 0 {
		t.Errorf("unary calls not split by version: %+v", got)
	}
	tot := r.Run.Streams
	if tot == nil {
		t.Fatal("no stream totals")
	}
	checkStreamTotals(t, tot)

	s0, s1 := r.Steps[0].Streams, r.Steps[1].Streams
	if s0 == nil || s1 == nil {
		t.Fatal("steps without stream continuity")
	}
	checkStepStreams(t, s0, s1)

	t.Run("no streams", checkNoStreamSections)
}

// checkStreamTotals checks the stream totals of rolloutStreams.
func checkStreamTotals(t *testing.T, tot *reports.StreamTotals) {
	t.Helper()
	if tot.Streams != 5 || tot.Opened != 5 || tot.Broken != 5 || tot.Resumed != 3 || tot.NeverResumed != 2 ||
		tot.Lost != 5 || tot.Duplicated != 1 || tot.Received != 1000 || len(tot.Unresumed) != 2 {
		t.Errorf("totals %+v", *tot)
	}
	if tot.Reconnect.Count != 3 || tot.Reconnect.Max != 2*time.Second || tot.Reconnect.P50 != 500*time.Millisecond {
		t.Errorf("reconnect %+v", tot.Reconnect)
	}
	if tot.BreaksByKind["drained"] != 2 || tot.BreaksByKind["reset"] != 2 || tot.BreaksByKind["goaway"] != 1 {
		t.Errorf("breaks by kind %v", tot.BreaksByKind)
	}
}

// checkStepStreams checks the stream continuity of the two steps of
// rolloutStreams.
func checkStepStreams(t *testing.T, s0, s1 *reports.StepStreams) {
	t.Helper()
	if s0.Opened != 5 || s0.Broken != 0 || s0.AtStart != 0 || s0.AtEnd != 5 {
		t.Errorf("step 0 streams %+v", *s0)
	}
	// Step 1 starts with all five on v1 and ends with three moved to v2,
	// s4 and s5 broken.
	if s1.AtStart != 5 || s1.AtEnd != 3 || s1.Moved != 3 || s1.Broken != 5 || s1.Resumed != 3 || s1.NeverResumed != 2 || s1.Lost != 5 {
		t.Errorf("step 1 streams %+v", *s1)
	}
	want := []reports.StreamVersion{
		{Version: "v1", Broken: 5, ResumedFrom: 3, Lost: 5, AtStart: 5},
		{Version: "v2", Resumed: 3, AtEnd: 3},
	}
	if len(s1.Versions) != 2 || s1.Versions[0] != want[0] || s1.Versions[1] != want[1] {
		t.Errorf("step 1 versions %+v, want %+v", s1.Versions, want)
	}
}

// checkNoStreamSections checks that a run without streams has no stream
// sections at all.
func checkNoStreamSections(t *testing.T) {
	plain := reports.Analyze(newRun([]rundir.Step{step(0, "only", 0, time.Second, nil)},
		served(0, at(0), time.Millisecond, map[string]int{"v1": 10}), nil))
	if plain.Run.Streams != nil || plain.Steps[0].Streams != nil {
		t.Error("stream continuity for a run without streams")
	}
	data, _ := json.Marshal(plain)
	if bytes.Contains(data, []byte(`"streams"`)) {
		t.Errorf("report.json of a run without streams mentions streams: %s", data)
	}
}

func TestStreamAssertions(t *testing.T) {
	second := float64(time.Second)
	cases := []struct {
		name    string
		run     *rundir.Run
		a       rundir.Assertion
		passed  bool
		message []string
	}{
		{"messages lost", rolloutStreams(), rundir.Assertion{Kind: "no-message-lost"}, false,
			[]string{"5 messages lost", `step 1 "blue-green": 5 messages lost (v1 5) after 5 breaks`}},
		{"slow and missing resumptions", rolloutStreams(), rundir.Assertion{Kind: "streams-resumed-within", Value: second}, false,
			[]string{"3 of 5 breaks resumed, 2 never", "slowest of 3 resumptions took 2000.00 ms", "(and 1 more)",
				"not judged: 1 break(s) less than 1000.00 ms before the run ended"}},
		{"a break never resumed", rolloutStreams(), rundir.Assertion{Kind: "streams-resumed-within", Value: 3 * second}, false,
			[]string{"stream s5 broke (reset, version v1) in step 1 and never resumed"}},
		{"no streams to judge", newRun([]rundir.Step{step(0, "only", 0, time.Second, nil)}, served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 100}), nil),
			rundir.Assertion{Kind: "no-message-lost"}, false, []string{"cannot judge: the run recorded no stream events"}},
	}
	// A run whose streams never broke passes both.
	var e streamEvents
	e.add(rundir.KindStreamOpen, 0, time.Second, "s1", "v1", rundir.StreamEvent{Call: 1}, "")
	e.add(rundir.KindStreamEnd, 0, 2*time.Second, "s1", "v1", rundir.StreamEvent{Received: 10, Connected: true}, "")
	steady := newRun([]rundir.Step{step(0, "only", 0, 2*time.Second, nil)}, e.obs, nil)
	cases = append(cases,
		struct {
			name    string
			run     *rundir.Run
			a       rundir.Assertion
			passed  bool
			message []string
		}{"steady resumed", steady, rundir.Assertion{Kind: "streams-resumed-within", Value: second}, true, []string{"none of 1 streams broke"}},
		struct {
			name    string
			run     *rundir.Run
			a       rundir.Assertion
			passed  bool
			message []string
		}{"steady lossless", steady, rundir.Assertion{Kind: "no-message-lost"}, true, []string{"no message lost in 1 streams (10 received, 0 breaks)"}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run.Meta.Assertions = []rundir.Assertion{c.a}
			r := reports.Analyze(c.run)
			got := r.Assertions[0]
			if got.Passed != c.passed {
				t.Errorf("passed = %v, want %v: %s", got.Passed, c.passed, got.Message)
			}
			for _, m := range c.message {
				if !strings.Contains(got.Message, m) {
					t.Errorf("message %q lacks %q", got.Message, m)
				}
			}
		})
	}
}

func TestRenderStreams(t *testing.T) {
	r := reports.Analyze(rolloutStreams(rundir.Assertion{Kind: "streams-resumed-within", Value: float64(3 * time.Second)}))
	var sum strings.Builder
	reports.WriteSummary(&sum, r)
	dir := t.TempDir()
	if err := reports.WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, reports.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"summary": sum.String(), "report.md": string(md)} {
		for _, want := range []string{
			"5 streams: 1000 messages received; 5 breaks (drained 2, reset 2, goaway 1), 3 resumed, 2 never resumed; messages lost 5, duplicated 1, out of order 0; time to reconnect p50 500.00 / p99 2000.00 / max 2000.00 ms",
			"v1 5 → v2 3",
			"5 (drained 2, reset 2, goaway 1)",
			"streams-resumed-within 3000.00 ms",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, out)
			}
		}
	}
	for _, want := range []string{"## Streams", "### Streams by version", "| 1 blue-green | v1 | 5 | 0 | 0 | 5 | 0 | 3 | 5 |", "`s5`: broke in step 1"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}
