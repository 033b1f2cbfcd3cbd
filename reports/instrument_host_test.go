package reports_test

import (
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// The samples the run took of itself judge what observations cannot show:
// stream messages sent late make a step inconclusive, and a host figure
// this system does not expose is said to be not readable, not zero.
func TestInstrumentSamples(t *testing.T) {
	steps := []rundir.Step{step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100})}
	obs := lagged(0, at(0), 10*time.Millisecond, time.Millisecond, 1000, nil)
	cpu := 250 * time.Millisecond
	slowSched, midSched, fastSched := 1200*time.Millisecond, 470*time.Millisecond, 3*time.Millisecond
	for _, tc := range []struct {
		name    string
		samples []rundir.InstrumentSample
		verdict string
		reason  string // in the step's verdict reason
		text    string // in the run's instrument text
	}{
		{
			name: "streams on time",
			samples: []rundir.InstrumentSample{{Kind: rundir.SampleLoadgen, Time: at(5 * time.Second), Interval: time.Second,
				Generator: rundir.GeneratorChat, Sent: 400, MaxLag: 120 * time.Millisecond}},
			verdict: reports.VerdictPass,
		},
		{
			name: "streams late",
			samples: []rundir.InstrumentSample{{Kind: rundir.SampleLoadgen, Time: at(5 * time.Second), Interval: time.Second,
				Generator: rundir.GeneratorChat, Sent: 400, MaxLag: 900 * time.Millisecond}},
			verdict: reports.VerdictInconclusive, reason: "the streams' messages went out up to 900ms late (limit 500ms)",
		},
		{
			name:    "meshsim short of CPU",
			samples: []rundir.InstrumentSample{{Kind: rundir.SampleHost, Time: at(5 * time.Second), Interval: time.Second, CPUs: 2, ProcessCPU: &cpu, SchedP99: &slowSched}},
			verdict: reports.VerdictInconclusive, reason: "meshsim's goroutines waited up to 1.2s for a CPU (p99 over a second; limit 100ms)",
		},
		{
			// Under the load generator's lag limit, but every hop of a
			// request (ingress proxy, app, its proxy) pays such a wait.
			name:    "meshsim's goroutines wait beyond maxCPUWait",
			samples: []rundir.InstrumentSample{{Kind: rundir.SampleHost, Time: at(5 * time.Second), Interval: time.Second, CPUs: 2, ProcessCPU: &cpu, SchedP99: &midSched}},
			verdict: reports.VerdictInconclusive, reason: "meshsim's goroutines waited up to 470ms for a CPU (p99 over a second; limit 100ms)",
		},
		{
			name:    "meshsim's goroutines run promptly",
			samples: []rundir.InstrumentSample{{Kind: rundir.SampleHost, Time: at(5 * time.Second), Interval: time.Second, CPUs: 2, ProcessCPU: &cpu, SchedP99: &fastSched}},
			verdict: reports.VerdictPass,
		},
		{
			name: "steal not readable",
			samples: []rundir.InstrumentSample{{Kind: rundir.SampleHost, Time: at(5 * time.Second), Interval: time.Second, CPUs: 2, ProcessCPU: &cpu,
				Unreadable: []string{"CPU steal not readable: the cpu line of /proc/stat has no steal column"}}},
			verdict: reports.VerdictPass, text: "host 2 cores, meshsim used 0.25 cores (12.5% of the host; peak 0.25), CPU steal not readable",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := newRun(steps, obs, nil, rundir.Assertion{Kind: "no-failed-requests"})
			run.Instrument = tc.samples
			r := reports.Analyze(run)
			if r.Verdict != tc.verdict || r.Steps[0].Verdict != tc.verdict {
				t.Errorf("verdict %q, step %q (%s); want %q", r.Verdict, r.Steps[0].Verdict, r.Steps[0].VerdictReason, tc.verdict)
			}
			if !strings.Contains(r.Steps[0].VerdictReason, tc.reason) {
				t.Errorf("step reason %q lacks %q", r.Steps[0].VerdictReason, tc.reason)
			}
			var sum strings.Builder
			reports.WriteSummary(&sum, r)
			if !strings.Contains(sum.String(), tc.text) {
				t.Errorf("summary lacks %q:\n%s", tc.text, sum.String())
			}
		})
	}
}
